"""Tutorial stage `tutorial_em` (section 1).

EM by hand in 1-D: fitted densities per step, log-likelihood per step, scikit-learn check.

Writes outputs/tutorial/em/. Thin Hydra entry point; the work is gmmgen.tutorial.stages.run_em.
  python pipelines/tutorial/tutorial_em.py [overrides]                           (config from conf/)
  python pipelines/tutorial/tutorial_em.py --config-dir . --config-name params   (as DVC runs it)
"""

import hydra

from gmmgen import cli, config
from gmmgen.tutorial import stages

config.register_configs()


@hydra.main(config_path="../../conf", config_name="config", version_base="1.3")
def main(cfg) -> None:
    cli.run(cfg, stages.run_em)


if __name__ == "__main__":
    cli.main(main)
