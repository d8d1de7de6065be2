"""Run one stage of the tutorial's pipeline (pipelines/tutorial/dvc.yaml): a section, or the tracking.

  python pipelines/tutorial/section.py <section> [overrides]          (config from conf/tutorial.yaml)
  python pipelines/tutorial/section.py <section> --config-dir pipelines/tutorial --config-name params
                                                                     (as DVC runs it: the tutorial's params.yaml)

``<section>`` is em, clustering, sampling, segmentation or anomaly
(``gmmgen_tutorial.stages.run_<section>``, writes outputs/tutorial/<section>/),
or track (``gmmgen_tutorial.track.run_track``, one MLflow run with a child run
per section). Hydra's files go to outputs/logs/tutorial_<section>. The config is
the tutorial's own (:mod:`gmmgen_tutorial.config`, never the pipeline's
params.yaml): ``cli.run`` checks it with the tutorial's rules and settles it
into a :class:`~gmmgen_tutorial.config.TutorialConfig`.
"""

# isort: off
import gmmgen.runtime.startup  # noqa: F401  first: a Ctrl-C while the libraries import exits 130 with one line

# isort: on
import importlib
import os
import sys

import hydra

from gmmgen.runtime import cli
from gmmgen_tutorial import config

# section -> the module that holds its run_<section> function
SECTIONS = {
    "em": "gmmgen_tutorial.stages",
    "clustering": "gmmgen_tutorial.stages",
    "sampling": "gmmgen_tutorial.stages",
    "segmentation": "gmmgen_tutorial.stages",
    "anomaly": "gmmgen_tutorial.stages",
    "track": "gmmgen_tutorial.track",
}

config.register_configs()


def _section_from_argv() -> str:
    """Take the section off the command line (Hydra parses the rest); exit 2 naming the choices if bad."""
    name = sys.argv[1] if len(sys.argv) > 1 else ""
    if name not in SECTIONS:
        cli.fail(
            f"config error: pipelines/tutorial/section.py needs a section first, one of {', '.join(SECTIONS)}; "
            f"got {name!r}",
            cli.EXIT_CONFIG,
        )
    del sys.argv[1]
    os.environ["GMMGEN_STAGE"] = f"tutorial_{name}"  # Hydra's files: outputs/logs/tutorial_<section>
    return name


SECTION = _section_from_argv() if __name__ == "__main__" else ""


@hydra.main(config_path="../../conf", config_name="tutorial", version_base="1.3")
def main(cfg) -> None:
    module = importlib.import_module(SECTIONS[SECTION])
    cli.run(cfg, getattr(module, f"run_{SECTION}"))


if __name__ == "__main__":
    cli.main(main)
