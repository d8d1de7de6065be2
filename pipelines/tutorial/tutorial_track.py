"""Tutorial stage `tutorial_track`: log outputs/tutorial/<section>/ to MLflow (experiment tutorial.experiment).

One parent run with a nested child run per section (its params, metrics and
figures), read from the files the sections wrote; writes outputs/tutorial/track/run.json.
"""

from pathlib import Path

import hydra

from gmmgen import cli, config
from gmmgen.io import write_json

config.register_configs()


def track(cfg) -> None:
    out = Path(cfg.paths.run_dir) / "tutorial" / "track"
    if not cfg.tracking.enabled:
        out.mkdir(parents=True, exist_ok=True)
        write_json(out / "run.json", {"tracking": "disabled"})
        return
    from gmmgen.tutorial.track import log_tutorial

    run_id, uri = log_tutorial(cfg, Path(cfg.paths.run_dir) / "tutorial")
    out.mkdir(parents=True, exist_ok=True)
    # No tracking URI here: DVC hashes this file, and the URI is an absolute path.
    write_json(out / "run.json", {"run_id": run_id, "experiment": cfg.tutorial.experiment})
    print(f"MLflow run {run_id} in experiment '{cfg.tutorial.experiment}' ({uri})")


@hydra.main(config_path="../../conf", config_name="config", version_base="1.3")
def main(cfg) -> None:
    cli.run(cfg, track)


if __name__ == "__main__":
    cli.main(main)
