"""Stage ``track``: log the whole pipeline run (config, metrics, sweep, figures, model) to MLflow.

Reads the stage folders under ``paths.run_dir``, so a run that DVC partly
served from its cache is still logged whole; registers the digit generator.
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig

from gmmgen.core.io import write_json
from gmmgen.pipeline import files as F
from gmmgen.pipeline.config import Config, settle


def run_track(cfg: Config | DictConfig) -> Path:
    """Log the whole run to MLflow (config, metrics, figures, models) and register the digit generator.

    Writes ``track/logged.json`` (hashed by DVC: only what is the same
    wherever the run is logged) and ``track/run.json`` (not hashed: the run id
    and the store; removed first, so a failed run leaves none); returns the stage folder.
    """
    cfg = settle(cfg)  # typed (a no-op when given the typed config)
    from gmmgen.tracking import log as tracking

    out = F.TRACK.folder(cfg.paths.run_dir)
    # DVC removes logged.json before the stage runs, not run.json (untracked): a failed or interrupted
    # track must not leave it naming the previous run.
    (out / F.TRACK.run).unlink(missing_ok=True)
    if not cfg.tracking.enabled:
        out.mkdir(parents=True, exist_ok=True)
        write_json(out / F.TRACK.logged, {"tracking": "disabled"})
        write_json(out / F.TRACK.run, {"tracking": "disabled"})
        return out
    run_id = tracking.track(cfg, Path(cfg.paths.run_dir))
    out.mkdir(parents=True, exist_ok=True)
    write_json(
        out / F.TRACK.logged,
        {"experiment": cfg.tracking.experiment, "registered_model": cfg.tracking.registered_model},
    )
    write_json(
        out / F.TRACK.run,
        {
            "run_id": run_id,
            "tracking_uri": tracking.tracking_uri(cfg),
            "experiment": cfg.tracking.experiment,
            "experiment_id": tracking.ensure_experiment(cfg),
        },
    )
    print(f"MLflow run {run_id} in experiment '{cfg.tracking.experiment}' ({tracking.tracking_uri(cfg)})")
    return out
