"""Log the tutorial's section folders to MLflow, in their own experiment (the tutorial's ``tracking.experiment``).

Like :func:`gmmgen.tracking.log.track`, from files: one parent run (the tutorial's
config as params, git state as tags) and a nested child run per section with
that section's params, its numeric metrics (nested keys joined by ``/``) and
its figures, tables and metrics file as artifacts. The same store, lock and
run life cycle as the pipeline's runs (:func:`gmmgen.tracking.log.pipeline_run`).
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from gmmgen.errors import UpstreamError
from gmmgen.tracking import log as tracking
from gmmgen_tutorial.config import SECTIONS


def _tutorial_cfg(cfg: Any) -> DictConfig:
    """The tutorial's config as a DictConfig for :mod:`gmmgen.tracking.log`, its run named when ``run_name`` is null."""
    tcfg = OmegaConf.structured(cfg) if dataclasses.is_dataclass(cfg) else cfg.copy()
    if not tcfg.tracking.run_name:
        tcfg.tracking.run_name = f"tutorial-{time.strftime('%Y%m%d-%H%M%S')}"
    return tcfg


def log_tutorial(cfg: Any, folder: Path) -> tuple[str, str]:
    """Log every section folder under ``folder`` (``<run_dir>/tutorial``); return (run id, tracking URI).

    Raises
    ------
    UpstreamError
        When no section has been run yet.
    """
    from mlflow.entities import Metric, Param

    present = [s for s in SECTIONS if (folder / s / "metrics.json").exists()]
    if not present:
        raise UpstreamError(f"no tutorial section under {folder}: run `make tutorial`")
    tcfg = _tutorial_cfg(cfg)
    now = int(time.time() * 1000)
    with tracking.pipeline_run(tcfg, {"gmmgen.kind": "tutorial"}) as run_id:
        with tracking.store_lock(tcfg):
            client = tracking._client(tcfg)
            experiment_id = client.get_run(run_id).info.experiment_id
            owner = tracking.process_tags(tcfg)  # so the next run ends a child a SIGKILL left RUNNING
            for section in present:
                metrics = tracking._numeric(json.loads((folder / section / "metrics.json").read_text()), "")
                child = client.create_run(
                    experiment_id,
                    run_name=section,
                    tags={
                        "mlflow.parentRunId": run_id,
                        "gmmgen.kind": "tutorial-section",
                        "section": section,
                        **owner,
                    },
                )
                child_status = "FINISHED"
                try:
                    params = tracking.flatten(OmegaConf.to_container(tcfg[section], resolve=True))
                    client.log_batch(
                        child.info.run_id,
                        metrics=[Metric(k, v, now, 0) for k, v in metrics.items() if v == v],
                        params=[Param(k, v) for k, v in params.items()],
                    )
                    for f in sorted((folder / section).iterdir()):
                        if f.is_file() and f.suffix in tracking.ARTIFACT_SUFFIXES:
                            client.log_artifact(child.info.run_id, str(f))
                            client.log_artifact(run_id, str(f), artifact_path=section)
                except BaseException as exc:  # an error, Ctrl-C or SIGTERM: the child ends too, never RUNNING
                    child_status = tracking.end_status(exc)
                    raise
                finally:
                    with tracking.signals_deferred():
                        client.set_terminated(child.info.run_id, child_status)
    return run_id, tracking.tracking_uri(tcfg)


def run_track(cfg: Any) -> Path:
    """Log outputs/tutorial/<section>/ to MLflow: one parent run, a child run per section; return its folder.

    Writes ``tutorial/track/logged.json`` (DVC hashes it: only the experiment,
    the same on every run) and ``tutorial/track/run.json`` (not hashed: the
    run id changes on every run).
    """
    from gmmgen.core.io import write_json

    out = Path(cfg.paths.run_dir) / "tutorial" / "track"
    if not cfg.tracking.enabled:
        out.mkdir(parents=True, exist_ok=True)
        write_json(out / "logged.json", {"tracking": "disabled"})
        write_json(out / "run.json", {"tracking": "disabled"})
        return out
    run_id, uri = log_tutorial(cfg, Path(cfg.paths.run_dir) / "tutorial")
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "logged.json", {"experiment": cfg.tracking.experiment})
    write_json(out / "run.json", {"run_id": run_id, "experiment": cfg.tracking.experiment})
    print(f"MLflow run {run_id} in experiment '{cfg.tracking.experiment}' ({uri})")
    return out
