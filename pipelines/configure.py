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
from gmmgen.pipeline.config import ConfigError
from gmmgen.runtime import cli, runlock

config.register_configs()


def _fixed_paths() -> dict[str, Path]:
    out = Path.cwd().resolve() / "outputs"
    return {"root": out.parent, "outputs": out, "run_dir": out, "cache": out / "cache"}


def _refuse(key: str, value: str) -> None:
    raise ConfigError(
        f"paths.{key}={value!r}: make run and DVC always use {_fixed_paths()[key]} (dvc.yaml names the files "
        f"under outputs/); run from another checkout, or run the whole pipeline elsewhere with "
        f"pipelines/run_all.py paths.{key}=..."
    )


def _check_path_overrides(argv: list[str]) -> None:
    """Refuse, before Hydra writes anything, a paths.* override that would move what DVC's stages read and write."""
    fixed = _fixed_paths()
    for arg in argv:
        key, eq, value = arg.lstrip("+~").partition("=")
        if not eq or not (key == "paths" or key.startswith("paths.")):
            continue
        name = key.removeprefix("paths.")
        if name not in fixed or Path(value).expanduser().resolve() != fixed[name]:
            _refuse(name, value)


def _check_paths(cfg) -> None:
    """The composed paths (an experiment config could set them too) must be the checkout's own."""
    for key, where in _fixed_paths().items():
        if Path(cfg.paths[key]).expanduser().resolve() != where:
            _refuse(key, str(cfg.paths[key]))


def configure(cfg) -> Path:
    """Compose and validate the config, check the tracking store, write params.yaml."""
    from gmmgen.tracking.log import check_reachable

    config.check_full_pipeline(cfg)
    _check_paths(cfg)
    check_reachable(cfg)
    target = Path(cfg.paths.root) / "params.yaml"
    text = config.params_document(cfg).encode()
    with runlock.dvc_idle(cfg.paths.root):
        if not target.exists() or target.read_bytes() != text:
            from gmmgen.core.io import atomic_write_bytes

            atomic_write_bytes(target, text)
            print(f"params.yaml updated ({target})")
        else:
            print("params.yaml unchanged")
    return target


@hydra.main(config_path="../conf", config_name="config", version_base="1.3")
def main(cfg) -> None:
    cli.run(cfg, configure, typed=False)  # params.yaml is the composed document, null seeds and all


if __name__ == "__main__":
    cli.main(main, check_argv=_check_path_overrides)
