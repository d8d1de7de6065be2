"""Tutorial stage `tutorial_sampling` (section 3).

Sampling a fitted 1-D mixture; Kolmogorov-Smirnov tests of the draws.

Writes outputs/tutorial/sampling/. Thin Hydra entry point; the work is gmmgen.tutorial.stages.run_sampling.
  python pipelines/tutorial/tutorial_sampling.py [overrides]                           (config from conf/)
  python pipelines/tutorial/tutorial_sampling.py --config-dir . --config-name params   (as DVC runs it)
"""

import hydra

from gmmgen import cli, config
from gmmgen.tutorial import stages

config.register_configs()


@hydra.main(config_path="../../conf", config_name="config", version_base="1.3")
def main(cfg) -> None:
    cli.run(cfg, stages.run_sampling)


if __name__ == "__main__":
    cli.main(main)
