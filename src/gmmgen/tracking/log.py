"""Everything MLflow, in one place.

A pipeline run is logged from the files the stages wrote: a parent run with
the experiment's params, MLflow's own source and git tags, a one-line
description of what it chose, stage metrics, the sweep stepped by K, a
per-class table and every figure; optionally a nested child run per sweep fit
(``tracking.child_runs``); and the PCA + GMM as a self-contained pyfunc model
(the package's code ships with it). Because it reads files, a run that DVC
partly served from its cache is still logged whole.

Each run also logs its train, validation, test and judge digits as MLflow
dataset inputs whose digest derives from DVC's md5 of the dataset file
(:mod:`gmmgen.tracking.datasets`).

The registry: once its run has ended FINISHED (never for a KILLED or FAILED
run), the ``track`` stage registers the logged model as a version with a description and
tags (K, criterion, validation NLL, FD, copying status, data digest, commit).
When ``make run`` recorded a clean git tree before the stages ran (committed
code and config), the version competes for the alias ``tracking.alias``
(``champion``) once the run has ended FINISHED: it takes it only when it beats
the champion on the same validation digits, else it gets
``tracking.challenger_alias`` (:mod:`gmmgen.tracking.promotion`); ``make
serve`` serves the champion. Sweep jobs log their model to their run and
register it only with ``tracking.register_sweeps=true``; they never move an alias.

With the default SQLite store, every write goes through a file lock, so
parallel multirun jobs queue for the database instead of failing with
"database is locked".
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from gmmgen.pipeline import files as F
from gmmgen.pipeline.config import Config
from gmmgen.tracking import datasets, runinfo
from gmmgen.tracking.model_log import (  # noqa: F401 (the model's names, read through this module too)
    MODEL_NAME,
    Logged,
    _log_model,
    log_generator,
    register_and_settle,
    register_logged,
    settle_version,
    why_not_compete,
)
from gmmgen.tracking.run_values import (  # noqa: F401 (what a run records, read through this module too)
    FIT_METRICS,
    NOT_PARAMS,
    PER_CLASS_KEYS,
    SIZE_KEYS,
    _fmt_size,
    _numeric,
    _read_json,
    describe,
    flatten,
    git_state,
    loggable_params,
    per_class_table,
    run_metrics,
    run_tags,
    split_sizes,
    sweep_metric,
    verdict_tags,
)
from gmmgen.tracking.runs import (  # noqa: F401 (a run's life, read through this module too)
    DVC_EXP_ENV,
    SWEEP_RUN_ENV,
    _create_run,
    _end_after_outage,
    _owner_alive,
    _run_tags_at_start,
    default_run_name,
    end_orphans,
    end_status,
    pipeline_run,
    process_tags,
    stop_reason,
)
from gmmgen.tracking.store import (  # noqa: F401 (the store's names, read through this module too)
    _auth_header,
    _client,
    _sqlite_path,
    artifact_location,
    check_reachable,
    ensure_experiment,
    server_lost,
    signals_deferred,
    store_lock,
    tracking_uri,
)

log = logging.getLogger(__name__)

ARTIFACT_SUFFIXES = (".png", ".svg", ".csv", ".json")


def log_pipeline(
    cfg: Config | DictConfig,
    run_id: str,
    run_dir: Path,
    overrides: list[str] | None = None,
    register: bool = False,
) -> Logged | None:
    """Log the stage folders under ``run_dir`` into the open run ``run_id``; return the model to register, if any.

    Tags and metrics come from the stages' files (:func:`run_tags`,
    :func:`run_metrics`), the digits as dataset inputs (:func:`log_data`), a
    child run per fit when ``tracking.child_runs``, then the files the file
    map lists (:func:`log_stage_files`) and the model. The model is always
    logged to the run; with ``register`` the returned :class:`Logged` names it
    for :func:`register_logged`, which makes it a registry version only once the
    run has ended FINISHED (a KILLED or FAILED run registers nothing). Store
    writes run with Ctrl-C and SIGTERM held back (:func:`signals_deferred`).
    """
    from mlflow.entities import Metric, Param, RunTag

    from gmmgen.core.sweep_table import read_sweep_csv
    from gmmgen.tracking import ui as mlflow_ui

    select = _read_json(F.SELECT.folder(run_dir) / F.SELECT.metrics)
    sweep_csv = F.SELECT.folder(run_dir) / F.SELECT.sweep
    rows = read_sweep_csv(sweep_csv) if sweep_csv.exists() else []
    # Timings are not in the files DVC hashes: each stage's runtime.json (absent when DVC restored the stage).
    timings = _read_json(F.SELECT.folder(run_dir) / F.SELECT.runtime)
    fit_seconds = timings.get("fit_seconds", {})
    for row in rows:
        row["fit_seconds"] = fit_seconds.get(f"{row['covariance_type']}-{row['n_components']}", math.nan)
    now = int(time.time() * 1000)

    with store_lock(cfg):
        client = _client(cfg)
        experiment_id = client.get_run(run_id).info.experiment_id
        tags = run_tags(cfg, run_dir, select)
        with signals_deferred():  # store writes: a signal waits for the transaction to end
            client.log_batch(run_id, tags=[RunTag(k, str(v)) for k, v in tags.items()])
        metrics, sizes = split_sizes(mlflow_ui.rounded(run_metrics(run_dir, select, timings)))
        metrics.update(mlflow_ui.headline_charts(metrics))  # the run page's first chart section
        batch = [Metric(k, float(v), now, 0) for k, v in metrics.items() if v == v]
        for row in rows:
            if row["status"] == "failed":
                continue
            for key in ("bic", "aic", "val_bpp", "train_ll"):
                batch.append(Metric(sweep_metric(key, row["covariance_type"]), row[key], now, row["n_components"]))
        with signals_deferred():
            for i in range(0, len(batch), 500):
                client.log_batch(run_id, metrics=batch[i : i + 500])
            client.log_batch(run_id, params=[Param(k, _fmt_size(v)) for k, v in sizes.items()])
            digest = log_data(cfg, client, run_id, run_dir)
        if cfg.tracking.child_runs:
            _log_fit_runs(cfg, client, experiment_id, run_id, rows, now)
        log_stage_files(client, run_id, run_dir, overrides, Path(cfg.paths.root))
        if (F.SELECT.folder(run_dir) / F.SELECT.model).exists():
            return _log_model(cfg, client, run_id, run_dir, register, digest.md5 if digest else "")
    return None


def log_data(cfg: Config | DictConfig, client: Any, run_id: str, run_dir: Path) -> datasets.DataDigest | None:
    """Log the run's train, validation, test and judge digits as dataset inputs; return the data's digest.

    The digest is DVC's md5 of the data stage's dataset file (from ``dvc.lock``
    where it lists the file), tagged on the run as ``data.md5``. None (and
    nothing logged) when the data stage's file is not there.
    """
    dataset = F.DATA.folder(run_dir) / F.DATA.dataset
    if not dataset.exists():
        return None
    digest = datasets.data_digest(dataset, Path(cfg.paths.root))
    provenance = _read_json(F.DATA.folder(run_dir) / F.DATA.provenance)
    datasets.log_datasets(client, run_id, digest, str(cfg.data.name), datasets.split_counts(provenance))
    client.set_tag(run_id, "data.md5", digest.md5)
    return digest


def _log_fit_runs(
    cfg: Config | DictConfig, client: Any, experiment_id: str, run_id: str, rows: list[dict[str, Any]], now: int
) -> None:
    """One child run a fit of the sweep, each opened, filled and ended with Ctrl-C and SIGTERM held back."""
    from mlflow.entities import Metric, Param

    owner = process_tags(cfg)
    for row in rows:
        # A signal lands between two fits, never inside a store transaction (an interrupted
        # SQLite write keeps the database locked and the parent run could not be ended).
        with signals_deferred():
            child = client.create_run(
                experiment_id,
                run_name=f"{row['covariance_type']}-K{row['n_components']}",
                tags={
                    "mlflow.parentRunId": run_id,
                    "gmmgen.kind": "fit",
                    "status": row["status"],
                    "reason": row["reason"][:5000],
                    **owner,
                },
            )
            child_status = "FAILED" if row["status"] == "failed" else "FINISHED"
            try:
                fit_params = [
                    Param("n_components", str(row["n_components"])),
                    Param("covariance_type", row["covariance_type"]),
                ]
                fit_metrics = [Metric(k, float(row[k]), now, 0) for k in FIT_METRICS if row[k] == row[k]]
                fit_metrics.append(Metric("converged", float(row["converged"]), now, 0))
                client.log_batch(child.info.run_id, metrics=fit_metrics, params=fit_params)
            except BaseException as exc:  # a store error: the child ends too, never RUNNING
                child_status = end_status(exc)
                raise
            finally:
                client.set_terminated(child.info.run_id, child_status)


def log_stage_files(client: Any, run_id: str, run_dir: Path, overrides: list[str] | None, root: Path) -> None:
    """Every file the file map lists for each stage (figures, tables, metrics, runtimes) and the config files."""
    from gmmgen.tracking import ui as mlflow_ui

    for stage in F.STAGES:  # what the file map lists, in each stage's folder of the run
        folder = stage.folder(run_dir)
        for name in sorted({*stage.files(), *stage.untracked(), *stage.figure_files()}):
            if (folder / name).is_file() and (folder / name).suffix in ARTIFACT_SUFFIXES:
                client.log_artifact(run_id, str(folder / name), artifact_path=stage.name)
    table = per_class_table(run_dir)
    if table:
        client.log_table(run_id, data=table, artifact_file="evaluate/per_class.json")
    with signals_deferred():
        mlflow_ui.log_chart_figures(client, run_id, run_dir)  # the digits and the sweep, among the run's charts
    client.log_text(run_id, OmegaConf.to_yaml(OmegaConf.create(list(overrides or []))), "config/overrides.yaml")
    params_file = root / "params.yaml"
    if params_file.exists():
        client.log_artifact(run_id, str(params_file), artifact_path="config")


def track(
    cfg: Config | DictConfig, run_dir: Path, overrides: list[str] | None = None, source: str = "dvc.yaml (track stage)"
) -> str:
    """Log the pipeline whose stage folders are in ``run_dir`` as one new run (the ``track`` stage); return its id.

    When ``make run`` recorded its start (:mod:`gmmgen.tracking.runinfo`), the run spans
    the whole pipeline and carries the git state from before the stages ran;
    a clean tree then lets the registered version compete for ``tracking.alias``
    (:func:`gmmgen.tracking.promotion.settle`), once the run has ended FINISHED.
    """
    start = runinfo.read_start(Path(cfg.paths.outputs))
    if start is not None:
        source = {"exp": "make exp", "dvc": "dvc (start recorded by the data stage)"}.get(start.get("kind"), "make run")
    with pipeline_run(cfg, source=source, start=start) as run_id:
        logged = log_pipeline(cfg, run_id, run_dir, overrides, register=bool(cfg.tracking.register_model))
    # The run has ended FINISHED (else its error went up): only now a version, and only then an alias.
    register_and_settle(cfg, logged, why_not_compete(start))
    return run_id
