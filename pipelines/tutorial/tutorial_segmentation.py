"""Tutorial stage `tutorial_segmentation` (section 4).

Image segmentation with K by BIC; MNIST digit foreground/background scored by IoU.

Writes outputs/tutorial/segmentation/. Thin Hydra entry point; the work is gmmgen.tutorial.stages.run_segmentation.
  python pipelines/tutorial/tutorial_segmentation.py [overrides]                           (config from conf/)
  python pipelines/tutorial/tutorial_segmentation.py --config-dir . --config-name params   (as DVC runs it)
"""

import hydra

from gmmgen import cli, config
from gmmgen.tutorial import stages

config.register_configs()


@hydra.main(config_path="../../conf", config_name="config", version_base="1.3")
def main(cfg) -> None:
    cli.run(cfg, stages.run_segmentation)


if __name__ == "__main__":
    cli.main(main)
