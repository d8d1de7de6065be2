"""Tutorial stage `tutorial_clustering` (section 2).

Clustering 2-D points; BIC and AIC over K on the points and on make_blobs.

Writes outputs/tutorial/clustering/. Thin Hydra entry point; the work is gmmgen.tutorial.stages.run_clustering.
  python pipelines/tutorial/tutorial_clustering.py [overrides]                           (config from conf/)
  python pipelines/tutorial/tutorial_clustering.py --config-dir . --config-name params   (as DVC runs it)
"""

import hydra

from gmmgen import cli, config
from gmmgen.tutorial import stages

config.register_configs()


@hydra.main(config_path="../../conf", config_name="config", version_base="1.3")
def main(cfg) -> None:
    cli.run(cfg, stages.run_clustering)


if __name__ == "__main__":
    cli.main(main)
