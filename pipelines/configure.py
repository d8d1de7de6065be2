"""Compose and validate the config, check the tracking store, write params.yaml.

The first step of `make run`: a bad value or an unreachable tracking server
stops everything here, before any compute. params.yaml is rewritten only when
its content changes, so DVC sees exactly the parameters that changed.
  python pipelines/configure.py [overrides]       e.g. pca.variance=0.9 experiment=classic
"""

from pathlib import Path

import hydra

from gmmgen import cli, config
from gmmgen.io import atomic_write_bytes

config.register_configs()


def configure(cfg) -> Path:
    """Compose and validate the config, check the tracking store, write params.yaml."""
    from gmmgen.tracking import check_reachable

    config.check_full_pipeline(cfg)
    check_reachable(cfg)
    target = Path(cfg.paths.root) / "params.yaml"
    text = config.params_document(cfg).encode()
    if not target.exists() or target.read_bytes() != text:
        atomic_write_bytes(target, text)
        print(f"params.yaml updated ({target})")
    else:
        print("params.yaml unchanged")
    return target


@hydra.main(config_path="../conf", config_name="config", version_base="1.3")
def main(cfg) -> None:
    cli.run(cfg, configure)


if __name__ == "__main__":
    main()
