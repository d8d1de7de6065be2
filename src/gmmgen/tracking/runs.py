"""The life of a pipeline run in MLflow: opened with its tags, ended FINISHED, KILLED or FAILED, never left RUNNING.

:func:`pipeline_run` opens the parent run of one pipeline execution (its
start taken from :mod:`gmmgen.tracking.runinfo`'s record when ``make run``
wrote one) and ends it with the status its block earned; runs that killed
processes of this checkout left RUNNING are ended first (:func:`end_orphans`).
Raises :class:`gmmgen.errors.TrackingError` (one line) when a FINISHED run
cannot be closed or the server stayed away.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from gmmgen.errors import TrackingError
from gmmgen.pipeline.config import Config, as_dict
from gmmgen.redact import redact
from gmmgen.tracking.run_values import git_state, loggable_params
from gmmgen.tracking.store import (
    _client,
    check_reachable,
    ensure_experiment,
    server_lost,
    signals_deferred,
    store_lock,
    tracking_uri,
)

log = logging.getLogger(__name__)

SWEEP_RUN_ENV = "GMMGEN_SWEEP_RUN_ID"
"""The environment variable a multirun sets to its sweep run's id, so each job's run nests under it."""

DVC_EXP_ENV = "DVC_EXP_NAME"
"""Set by ``dvc exp run`` for its stages: the experiment's name (given by ``-n`` or made up by DVC)."""


def default_run_name(cfg: Config | DictConfig) -> str:
    """``<data>-pca<variance>-<covariance types>-<criterion>-<time>``, led by the DVC experiment's name in one."""
    covs = "+".join(cfg.sweep.covariance_types)
    kind = f"pca{cfg.pca.variance}" if cfg.pca.variance is not None else f"pca{cfg.pca.n_components}d"
    exp = os.environ.get(DVC_EXP_ENV)
    lead = f"{exp}-" if exp else ""
    return f"{lead}{cfg.data.name}-{kind}-{covs}-{cfg.sweep.criterion}-{time.strftime('%Y%m%d-%H%M%S')}"


# --------------------------------------------------------------------------- run lifecycle


def process_tags(cfg: Config | DictConfig) -> dict[str, str]:
    """Who owns a run: host, pid and start time of this process, and the checkout (for :func:`end_orphans`).

    Under SLURM also the job (``slurm.job_id``: ``123`` or ``123_4``), so a
    sweep can ask the scheduler what became of it.
    """
    import psutil

    from gmmgen.errors import slurm_job

    tags = {
        "gmmgen.host": socket.gethostname(),
        "gmmgen.pid": str(os.getpid()),
        "gmmgen.pid_started": f"{psutil.Process().create_time():.3f}",
        "gmmgen.checkout": str(Path(cfg.paths.root).resolve()),
    }
    job = slurm_job()
    if job:
        tags["slurm.job_id"] = job
    return tags


def stop_reason(exc: BaseException) -> str:
    """The ``error`` tag of a run stopped by a signal: Ctrl-C, or SIGTERM (and who sends it under SLURM)."""
    from gmmgen.errors import Terminated, slurm_job

    if not isinstance(exc, Terminated):
        return "interrupted (Ctrl-C)"
    job = slurm_job()
    if job:
        return f"terminated by SIGTERM in SLURM job {job} (scancel, its time limit or preemption)"
    return "terminated by SIGTERM"


def _owner_alive(tags: dict[str, str]) -> bool:
    import psutil

    try:
        proc = psutil.Process(int(tags.get("gmmgen.pid", "0")))
        started = float(tags.get("gmmgen.pid_started", "nan"))
        return not (abs(proc.create_time() - started) > 1.0)  # a reused pid is another process
    except (psutil.Error, ValueError):
        return False


def end_orphans(cfg: Config | DictConfig, client: Any) -> list[str]:
    """End as KILLED the RUNNING runs of this checkout whose process on this host is gone; return their ids.

    A process killed by SIGKILL (or a power cut) cannot close its runs; the
    next run of the same checkout finds them by their ``gmmgen.host`` /
    ``gmmgen.pid`` tags and checks that the process is really gone. Call it
    holding :func:`store_lock`.
    """
    tags = process_tags(cfg)
    experiments = [e.experiment_id for e in client.search_experiments()]
    if not experiments:
        return []
    running = client.search_runs(
        experiments,
        filter_string=f"attributes.status = 'RUNNING' and tags.`gmmgen.host` = '{tags['gmmgen.host']}'",
        max_results=5000,
    )
    ended = []
    for run in running:
        owner = run.data.tags
        if owner.get("gmmgen.checkout") != tags["gmmgen.checkout"] or _owner_alive(owner):
            continue
        client.set_tag(
            run.info.run_id,
            "error",
            f"orphaned: process {owner.get('gmmgen.pid')} on {owner.get('gmmgen.host')} ended without closing "
            "this run (SIGKILL?); ended KILLED by the next run of the checkout",
        )
        client.set_terminated(run.info.run_id, "KILLED")
        ended.append(run.info.run_id)
    if ended:
        log.warning("ended %d orphaned MLflow run(s) as KILLED: %s", len(ended), ", ".join(ended))
    return ended


def end_status(exc: BaseException | None) -> str:
    """The MLflow status for a run whose block ended with ``exc``: FINISHED, KILLED (Ctrl-C, SIGTERM) or FAILED."""
    if exc is None:
        return "FINISHED"
    return "KILLED" if isinstance(exc, KeyboardInterrupt) else "FAILED"


# --------------------------------------------------------------------------- runs


def _run_tags_at_start(
    cfg: Config | DictConfig, extra_tags: dict[str, str] | None, source: str, start: dict[str, Any] | None
) -> dict[str, str]:
    """The tags a pipeline run is created with: kind, git state, process, source, DVC experiment, its sweep."""
    tags = {
        "gmmgen.kind": "pipeline",
        **git_state(Path(cfg.paths.root), start),
        **process_tags(cfg),
        "mlflow.source.name": source,
        "mlflow.source.type": "LOCAL",
        **({"dvc.exp_name": os.environ[DVC_EXP_ENV]} if os.environ.get(DVC_EXP_ENV) else {}),
        **(extra_tags or {}),
    }
    sweep_run = os.environ.get(SWEEP_RUN_ENV)
    if sweep_run:
        tags["mlflow.parentRunId"] = sweep_run
        tags["gmmgen.sweep_run_id"] = sweep_run
    return tags


def _create_run(cfg: Config | DictConfig, tags: dict[str, str], start: dict[str, Any] | None) -> tuple[Any, str]:
    """End this checkout's orphans, then create the run (started at ``start``'s time if given); (client, run id)."""
    experiment_id = ensure_experiment(cfg)
    with store_lock(cfg), signals_deferred():
        client = _client(cfg)
        end_orphans(cfg, client)
        run = client.create_run(
            experiment_id,
            run_name=cfg.tracking.run_name or default_run_name(cfg),
            tags=tags,
            start_time=start["start_ms"] if start else None,
        )
    return client, run.info.run_id


@contextlib.contextmanager
def pipeline_run(
    cfg: Config | DictConfig,
    extra_tags: dict[str, str] | None = None,
    source: str = "pipelines/run_all.py",
    start: dict[str, Any] | None = None,
) -> Iterator[str]:
    """Open the parent run of one pipeline execution; yield its id.

    ``source`` fills the UI's Source field; ``start`` is the record
    :mod:`gmmgen.tracking.runinfo` wrote before the stages ran (its time becomes the
    run's start and its git state the run's tags), else now and git as it is.
    It ends FINISHED on success, KILLED on Ctrl-C or SIGTERM and FAILED on any
    other error, never left RUNNING; runs that earlier processes of this
    checkout left RUNNING when they were killed are ended first
    (:func:`end_orphans`). Inside a multirun it is nested under the sweep's run.
    """
    from mlflow.entities import Param

    client, run_id = _create_run(cfg, _run_tags_at_start(cfg, extra_tags, source, start), start)
    status, error, lost = "FAILED", "", False
    try:
        with store_lock(cfg), signals_deferred():
            # The config goes in first, so a run that fails later still shows what it was.
            params = [Param(k, v) for k, v in loggable_params(cfg).items()]
            for i in range(0, len(params), 100):
                client.log_batch(run_id, params=params[i : i + 100])
            client.log_text(run_id, redact(OmegaConf.to_yaml(as_dict(cfg))), "config/config.yaml")
        yield run_id
        status = "FINISHED"
    except KeyboardInterrupt as exc:
        status, error = "KILLED", stop_reason(exc)
        raise
    except BaseException as exc:
        error = redact(f"{type(exc).__name__}: {exc}")
        lost = server_lost(cfg, exc)
        raise
    finally:
        if lost:
            _end_after_outage(cfg, run_id, error)
        try:
            with signals_deferred(), store_lock(cfg):
                client = _client(cfg)
                if error:
                    client.set_tag(run_id, "error", error[:5000])
                client.set_terminated(run_id, status)
        except Exception as exc:
            if status == "FINISHED":
                raise TrackingError(f"could not end MLflow run {run_id}: {redact(str(exc)).splitlines()[0]}") from None
            # The run's own error is the one to report; the next run of this checkout ends the orphan.
            log.warning(
                "could not end MLflow run %s as %s (%s); the next run ends it", run_id, status, type(exc).__name__
            )
        else:
            log.info("MLflow run %s ended %s", run_id, status)


def _end_after_outage(cfg: Config | DictConfig, run_id: str, error: str) -> None:
    """End run ``run_id`` FAILED after the server stopped answering; raise a one-line TrackingError.

    When the server is still down the run cannot be ended from here: it stays
    RUNNING until the next run of this checkout, with the server back, ends
    the runs whose process is gone.
    """
    uri = tracking_uri(cfg)
    try:
        check_reachable(cfg)
    except TrackingError:
        raise TrackingError(
            f"tracking server {uri} stopped answering during run {run_id} and is still down; "
            "the run is ended by the next run once the server is back"
        ) from None
    client = _client(cfg)
    client.set_tag(run_id, "error", f"tracking server stopped answering: {error}"[:5000])
    client.set_terminated(run_id, "FAILED")
    raise TrackingError(f"tracking server {uri} stopped answering during run {run_id}; the run ended FAILED") from None
