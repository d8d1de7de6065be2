"""Stage `classifier`: train the small Keras CNN that judges generated digits.

Thin Hydra entry point; the work is gmmgen.stages.classifier.run_classifier.
  python pipelines/classifier.py [overrides]                           (config from conf/)
  python pipelines/classifier.py --config-dir . --config-name params   (as DVC runs it)
"""

import hydra

from gmmgen import cli, config
from gmmgen.stages.classifier import run_classifier

config.register_configs()


@hydra.main(config_path="../conf", config_name="config", version_base="1.3")
def main(cfg) -> None:
    cli.run(cfg, run_classifier)


if __name__ == "__main__":
    cli.main(main)
