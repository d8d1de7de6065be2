"""Stage `select`: GaussianMixture sweep over sweep.n_components x covariance types, chosen by sweep.criterion.

Thin Hydra entry point; the work is gmmgen.stages.select.run_select.
  python pipelines/select_model.py [overrides]                           (config from conf/)
  python pipelines/select_model.py --config-dir . --config-name params   (as DVC runs it)
"""

import hydra

from gmmgen import cli, config
from gmmgen.stages.select import run_select

config.register_configs()


@hydra.main(config_path="../conf", config_name="config", version_base="1.3")
def main(cfg) -> None:
    cli.run(cfg, run_select)


if __name__ == "__main__":
    cli.main(main)
