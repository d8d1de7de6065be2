"""Stage `data`: obtain MNIST (or the configured digits), draw train/test sets.

Thin Hydra entry point; the work is gmmgen.stages.data.run_data.
  python pipelines/data.py [overrides]                           (config from conf/)
  python pipelines/data.py --config-dir . --config-name params   (as DVC runs it)
"""

import hydra

from gmmgen import cli, config
from gmmgen.stages.data import run_data

config.register_configs()


@hydra.main(config_path="../conf", config_name="config", version_base="1.3")
def main(cfg) -> None:
    cli.run(cfg, run_data)


if __name__ == "__main__":
    cli.main(main)
