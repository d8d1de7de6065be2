"""Run one stage of the pipeline: the entry point of every stage in dvc.yaml.

  python pipelines/stage.py <stage> [overrides]                           (config from conf/)
  python pipelines/stage.py <stage> --config-dir . --config-name params   (as DVC runs it)

``<stage>`` is a name of the stage registry (:mod:`gmmgen.pipeline.registry`:
data, reduce, select, generate, classifier, evaluate, summary, track); its
module is imported by name, so a stage runs (and DVC lists as its deps, see
:mod:`gmmgen.pipeline.dvcgen`) only its own module's code besides this file's.
Hydra's files of a stage go to ``outputs/logs/<stage>``.
"""

# isort: off
import gmmgen.runtime.startup  # noqa: F401  first: a Ctrl-C while the libraries import exits 130 with one line

# isort: on
import os
import sys

import hydra

from gmmgen.pipeline import config, registry
from gmmgen.runtime import cli, dvc_start

STAGE_ENV = "GMMGEN_STAGE"
STAGES = registry.NAMES

config.register_configs()


def _stage_from_argv() -> str:
    """Take the stage name off the command line (Hydra parses the rest); exit 2 naming the choices if bad."""
    name = sys.argv[1] if len(sys.argv) > 1 else ""
    if name not in STAGES:
        cli.fail(
            f"config error: pipelines/stage.py needs a stage first, one of {', '.join(STAGES)}; got {name!r}",
            cli.EXIT_CONFIG,
        )
    del sys.argv[1]
    os.environ[STAGE_ENV] = name  # Hydra's files go to outputs/logs/<stage> (conf/runtime.yaml)
    return name


STAGE = _stage_from_argv() if __name__ == "__main__" else ""


@hydra.main(config_path="../conf", config_name="config", version_base="1.3")
def main(cfg) -> None:
    fn = registry.BY_NAME[STAGE].load()
    if STAGE == registry.STAGES[0].name:  # a bare `dvc repro` / `dvc exp run`: its MLflow run spans the pipeline
        fn = dvc_start.first_stage(fn)
    cli.run(cfg, fn)


if __name__ == "__main__":
    cli.main(main)
