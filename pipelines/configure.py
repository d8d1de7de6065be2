"""Compose and validate the config, check the tracking store, write params.yaml.

The first step of `make run`: a bad value or an unreachable tracking server
stops everything here, before any compute. params.yaml is rewritten only when
its content changes, so DVC sees exactly the parameters that changed. It runs
under the checkout's run lock (gmmgen.runtime.runlock), and refuses to touch
params.yaml while any DVC command is running in the checkout.
  python pipelines/configure.py [overrides]       e.g. pca.variance=0.9 experiment=classic
"""

# isort: off
import gmmgen.runtime.startup  # noqa: F401  first: a Ctrl-C while the libraries import exits 130 with one line

# isort: on
from pathlib import Path

import hydra

from gmmgen.pipeline import config
from gmmgen.runtime import cli, params_file

config.register_configs()

#: How to run the pipeline with other paths (the refusal of a paths.* override says so).
ELSEWHERE = "run the whole pipeline elsewhere with pipelines/run_all.py"


def _check_path_overrides(argv: list[str]) -> None:
    """Refuse, before Hydra writes anything, a paths.* override that would move what DVC's stages read and write."""
    params_file.check_path_overrides(argv, "make run", ELSEWHERE)


def configure(cfg) -> Path:
    """Compose and validate the config, check the tracking store, write params.yaml."""
    from gmmgen.tracking.log import check_reachable

    config.check_full_pipeline(cfg)
    params_file.check_paths(cfg, "make run", ELSEWHERE)
    check_reachable(cfg)
    root = Path(cfg.paths.root)
    target = root / "params.yaml"
    params_file.write(target, params_file.params_document(cfg, config.PARAMS_HEADER, "config_schema"), root)
    return target


@hydra.main(config_path="../conf", config_name="config", version_base="1.3")
def main(cfg) -> None:
    cli.run(cfg, configure, typed=False)  # params.yaml is the composed document, null seeds and all


if __name__ == "__main__":
    cli.main(main, check_argv=_check_path_overrides)
