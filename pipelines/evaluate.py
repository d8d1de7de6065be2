"""Stage `evaluate`: sample quality, memorisation, clustering and anomaly detection of the fitted mixtures.

Thin Hydra entry point; the work is gmmgen.stages.evaluate.run_evaluate.
  python pipelines/evaluate.py [overrides]                           (config from conf/)
  python pipelines/evaluate.py --config-dir . --config-name params   (as DVC runs it)
"""

import hydra

from gmmgen import cli, config
from gmmgen.stages.evaluate import run_evaluate

config.register_configs()


@hydra.main(config_path="../conf", config_name="config", version_base="1.3")
def main(cfg) -> None:
    cli.run(cfg, run_evaluate)


if __name__ == "__main__":
    cli.main(main)
