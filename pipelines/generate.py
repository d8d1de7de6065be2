"""Stage `generate`: draw sample.n digits from the chosen mixture and map them back to pixels.

Thin Hydra entry point; the work is gmmgen.stages.generate.run_generate.
  python pipelines/generate.py [overrides]                           (config from conf/)
  python pipelines/generate.py --config-dir . --config-name params   (as DVC runs it)
"""

import hydra

from gmmgen import cli, config
from gmmgen.stages.generate import run_generate

config.register_configs()


@hydra.main(config_path="../conf", config_name="config", version_base="1.3")
def main(cfg) -> None:
    cli.run(cfg, run_generate)


if __name__ == "__main__":
    cli.main(main)
