"""Stage `track`: log the whole pipeline run (config, metrics, sweep, figures, model) to MLflow.

Reads the stage folders under paths.run_dir, so a run that DVC partly served
from its cache is still logged whole; registers the digit generator model.
"""

from pathlib import Path

import hydra

from gmmgen import cli, config
from gmmgen.io import write_json

config.register_configs()


def track(cfg) -> None:
    """Log the whole run to MLflow (config, metrics, figures, models) and register the digit generator."""
    from gmmgen import tracking

    out = Path(cfg.paths.run_dir) / "track"
    if not cfg.tracking.enabled:
        out.mkdir(parents=True, exist_ok=True)
        write_json(out / "logged.json", {"tracking": "disabled"})
        write_json(out / "run.json", {"tracking": "disabled"})
        return
    run_id = tracking.track(cfg, Path(cfg.paths.run_dir))
    out.mkdir(parents=True, exist_ok=True)
    # Hashed by DVC: only what is the same wherever the run is logged.
    write_json(
        out / "logged.json",
        {"experiment": cfg.tracking.experiment, "registered_model": cfg.tracking.registered_model},
    )
    # Not hashed: the run id and the store change on every run.
    write_json(
        out / "run.json",
        {
            "run_id": run_id,
            "tracking_uri": tracking.tracking_uri(cfg),
            "experiment": cfg.tracking.experiment,
            "experiment_id": tracking.ensure_experiment(cfg),
        },
    )
    print(f"MLflow run {run_id} in experiment '{cfg.tracking.experiment}' ({tracking.tracking_uri(cfg)})")


@hydra.main(config_path="../conf", config_name="config", version_base="1.3")
def main(cfg) -> None:
    cli.run(cfg, track)


if __name__ == "__main__":
    cli.main(main)
