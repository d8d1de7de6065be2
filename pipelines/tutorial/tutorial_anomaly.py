"""Tutorial stage `tutorial_anomaly` (section 5).

Anomaly detection by a density threshold; precision and recall on injected outliers.

Writes outputs/tutorial/anomaly/. Thin Hydra entry point; the work is gmmgen.tutorial.stages.run_anomaly.
  python pipelines/tutorial/tutorial_anomaly.py [overrides]                           (config from conf/)
  python pipelines/tutorial/tutorial_anomaly.py --config-dir . --config-name params   (as DVC runs it)
"""

import hydra

from gmmgen import cli, config
from gmmgen.tutorial import stages

config.register_configs()


@hydra.main(config_path="../../conf", config_name="config", version_base="1.3")
def main(cfg) -> None:
    cli.run(cfg, stages.run_anomaly)


if __name__ == "__main__":
    cli.main(main)
