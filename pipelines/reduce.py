"""Stage `reduce`: PCA at pca.variance (whitened) on the training digits.

Thin Hydra entry point; the work is gmmgen.stages.reduce.run_reduce.
  python pipelines/reduce.py [overrides]                           (config from conf/)
  python pipelines/reduce.py --config-dir . --config-name params   (as DVC runs it)
"""

import hydra

from gmmgen import cli, config
from gmmgen.stages.reduce import run_reduce

config.register_configs()


@hydra.main(config_path="../conf", config_name="config", version_base="1.3")
def main(cfg) -> None:
    cli.run(cfg, run_reduce)


if __name__ == "__main__":
    cli.main(main)
