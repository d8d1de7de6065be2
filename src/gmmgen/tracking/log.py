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

The registry: the ``track`` stage registers a version with a description and
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

import base64
import contextlib
import io
import json
import logging
import math
import os
import signal
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from omegaconf import DictConfig, OmegaConf

from gmmgen.errors import TrackingError
from gmmgen.pipeline import files as F
from gmmgen.pipeline.config import Config, as_dict
from gmmgen.redact import redact
from gmmgen.tracking import datasets, promotion, runinfo

log = logging.getLogger(__name__)

SWEEP_RUN_ENV = "GMMGEN_SWEEP_RUN_ID"
ARTIFACT_SUFFIXES = (".png", ".svg", ".csv", ".json")
MODEL_NAME = "digit_generator"
# Config keys that are about this machine or the UI, not the experiment: not logged as params.
NOT_PARAMS = ("paths.", "hydra.", "tracking.", "data.timeout", "sweep.n_jobs", "sweep.backend", "sweep.progress")
# Per-class numbers (keyed by digit) go into one logged table, not ten single-point metrics each.
PER_CLASS_KEYS = ("class_counts", "agreement_per_class", "n_components_per_class")
FIT_METRICS = (
    "bic",
    "aic",
    "train_ll",
    "val_ll",
    "val_nll_nats",
    "val_bpp",
    "n_iter",
    "fit_seconds",
    "n_degenerate",
    "n_thin",
    "n_parameters",
)


# --------------------------------------------------------------------------- store


def tracking_uri(cfg: Config | DictConfig) -> str:
    """``tracking.uri``, or SQLite at ``<outputs>/mlflow.db`` (absolute) when unset."""
    if cfg.tracking.uri:
        return str(cfg.tracking.uri)
    return f"sqlite:///{Path(cfg.paths.outputs).resolve() / 'mlflow.db'}"


def artifact_location(cfg: Config | DictConfig) -> str | None:
    """Local artifact folder for a SQLite store; a server decides its own."""
    if tracking_uri(cfg).startswith("sqlite:"):
        return (Path(cfg.paths.outputs).resolve() / "mlartifacts").as_uri()
    return None


def _sqlite_path(uri: str) -> Path | None:
    return Path(uri[len("sqlite:///") :]) if uri.startswith("sqlite:///") else None


@contextlib.contextmanager
def store_lock(cfg: Config | DictConfig, timeout: float = 600) -> Iterator[None]:
    """Hold an exclusive lock on a SQLite store (no-op for a server)."""
    db = _sqlite_path(tracking_uri(cfg))
    if db is None:
        yield
        return
    from filelock import FileLock

    db.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(db) + ".lock", timeout=timeout):
        yield


def _auth_header(url: str) -> str | None:
    """The Authorization header MLflow's client would send to ``url``, if any.

    Same sources as MLflow: MLFLOW_TRACKING_TOKEN (bearer), then
    MLFLOW_TRACKING_USERNAME/PASSWORD or ~/.mlflow/credentials (basic), then
    ~/.netrc for the host (basic, as the requests library does).
    """
    token = os.environ.get("MLFLOW_TRACKING_TOKEN")
    if token:
        return f"Bearer {token}"
    user, password = os.environ.get("MLFLOW_TRACKING_USERNAME"), os.environ.get("MLFLOW_TRACKING_PASSWORD")
    if not (user and password):
        import configparser

        creds = configparser.ConfigParser()
        creds.read(os.path.expanduser("~/.mlflow/credentials"))
        if creds.has_section("mlflow"):
            user = user or creds["mlflow"].get("mlflow_tracking_username")
            password = password or creds["mlflow"].get("mlflow_tracking_password")
    if not (user and password):
        import netrc

        try:
            entry = netrc.netrc(os.environ.get("NETRC")).authenticators(urllib.parse.urlsplit(url).hostname or "")
        except (OSError, netrc.NetrcParseError):
            entry = None
        if entry:
            user, password = entry[0], entry[2]
    if user and password:
        return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
    return None


def check_reachable(cfg: Config | DictConfig) -> None:
    """Fail fast, before any compute, when the tracking store cannot be used.

    Credentials come from where MLflow takes them (see :func:`_auth_header`);
    messages never show them.
    """
    if not cfg.tracking.enabled:
        return
    uri = tracking_uri(cfg)
    shown = redact(uri)
    scheme = urllib.parse.urlsplit(uri).scheme
    if scheme in ("http", "https"):
        url = uri.rstrip("/") + "/health"
        request = urllib.request.Request(url)
        header = _auth_header(uri)
        if header:
            request.add_header("Authorization", header)
        try:
            with urllib.request.urlopen(request, timeout=float(cfg.tracking.connect_timeout)) as resp:
                if resp.status != 200:
                    raise TrackingError(f"tracking server {shown} answered HTTP {resp.status} on /health")
        except urllib.error.HTTPError as exc:
            hint = " (check MLFLOW_TRACKING_USERNAME/PASSWORD or TOKEN)" if exc.code in (401, 403) else ""
            raise TrackingError(f"tracking server {shown} answered HTTP {exc.code} on /health{hint}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = redact(str(getattr(exc, "reason", exc)))
            raise TrackingError(
                f"tracking server {shown} is unreachable ({reason}); start it, fix tracking.uri, "
                "or set tracking.enabled=false"
            ) from None
    elif scheme == "sqlite":
        db = _sqlite_path(uri)
        if db is None or not db.is_absolute():
            raise TrackingError(f"tracking.uri={shown!r}: use an absolute sqlite:/// path")
        try:
            db.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise TrackingError(f"cannot create the folder of the MLflow database {db}: {exc}") from exc
        if not os.access(db.parent, os.W_OK) or (db.exists() and not os.access(db, os.W_OK)):
            raise TrackingError(f"the MLflow database {db} is not writable")


def server_lost(cfg: Config | DictConfig, exc: BaseException) -> bool:
    """True when ``exc`` came from a tracking server that no longer answers.

    MLflow's client retries every request to a server
    (``MLFLOW_HTTP_REQUEST_MAX_RETRIES``, ``MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR``:
    a few minutes by default), so a server restarted meanwhile is waited for;
    this tells an outage that outlasted the retries from other errors.
    """
    if urllib.parse.urlsplit(tracking_uri(cfg)).scheme not in ("http", "https") or not isinstance(exc, Exception):
        return False
    try:
        check_reachable(cfg)
    except TrackingError:
        return True
    return "Max retries exceeded" in str(exc)


def _client(cfg: Config | DictConfig):
    import mlflow
    from mlflow import MlflowClient

    mlflow.set_tracking_uri(tracking_uri(cfg))
    mlflow.set_registry_uri(tracking_uri(cfg))
    return MlflowClient(tracking_uri(cfg), registry_uri=tracking_uri(cfg))


def ensure_experiment(cfg: Config | DictConfig) -> str:
    """Create the store and the experiment if needed; return the experiment id."""
    check_reachable(cfg)
    from gmmgen.tracking import ui as mlflow_ui

    with store_lock(cfg):
        client = _client(cfg)
        exp = client.get_experiment_by_name(cfg.tracking.experiment)
        if exp is not None:
            experiment_id = exp.experiment_id
        else:
            location = artifact_location(cfg)
            experiment_id = client.create_experiment(cfg.tracking.experiment, artifact_location=location)
        mlflow_ui.describe_experiment(client, experiment_id)  # description and the runs table's columns
        return experiment_id


# --------------------------------------------------------------------------- helpers


def flatten(tree: Any, prefix: str = "") -> dict[str, str]:
    """Flatten nested dicts to ``a.b.c`` keys with string values (lists as YAML-ish text)."""
    out: dict[str, str] = {}
    if isinstance(tree, dict):
        for k, v in tree.items():
            out.update(flatten(v, f"{prefix}{k}."))
        return out
    value = json.dumps(tree) if isinstance(tree, list | dict) else str(tree)
    out[prefix[:-1]] = redact(value)[:6000]
    return out


def git_state(root: Path, state: dict[str, Any] | None = None) -> dict[str, str]:
    """MLflow tags for the git state of ``root`` (or a state recorded earlier by :mod:`gmmgen.tracking.runinfo`).

    ``mlflow.source.git.commit`` fills the UI's commit field; ``git.dirty`` says
    whether tracked files differed from that commit ('unknown' outside git).
    """
    if not state or state.get("kind") == "exp":  # an experiment's params are applied after make exp's record
        state = runinfo.git_state(root)
    dirty = state.get("dirty")
    return {
        "mlflow.source.git.commit": str(state.get("commit", "unknown")),
        "git.dirty": "unknown" if dirty is None else str(bool(dirty)).lower(),
    }


def loggable_params(cfg: Config | DictConfig) -> dict[str, str]:
    """The flattened config without machine paths, ports, UI and execution settings (see NOT_PARAMS)."""
    flat = flatten(as_dict(cfg))
    return {k: v for k, v in flat.items() if not k.startswith(NOT_PARAMS)}


def _read_json(path: Path) -> dict[str, Any]:
    """A stage's JSON file, {} when the stage did not run; UpstreamError when it cannot be read."""
    if not path.exists():
        return {}
    from gmmgen.pipeline.upstream import load_json

    return load_json(path, path.parent.name)


def _numeric(d: dict[str, Any], prefix: str) -> dict[str, float]:
    out = {}
    for k, v in d.items():
        if k in PER_CLASS_KEYS:
            continue
        if isinstance(v, bool):
            out[f"{prefix}{k}"] = float(v)
        elif isinstance(v, int | float):
            out[f"{prefix}{k}"] = float(v)
        elif isinstance(v, dict):
            out.update(_numeric(v, f"{prefix}{k}/"))
    return out


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


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM back while the store is written to; they arrive when the block ends.

    So a signal cannot land inside a store transaction (an interrupted SQLite
    write leaves the database locked) nor cut the closing of a run short and
    leave it RUNNING. The Python handlers are swapped for ones that only note
    the signal (masking the signal would not do: a process-group signal is
    delivered to whichever thread does not mask it, and Python runs its handler
    in the main thread all the same); the first noted signal is raised again
    when the block ends. Nested blocks hand it outwards. Outside the main
    thread this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    noted: list[int] = []

    def note(signum: int, frame: Any) -> None:
        noted.append(signum)

    previous = {signum: signal.signal(signum, note) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)
        if noted:
            signal.raise_signal(noted[0])


def end_status(exc: BaseException | None) -> str:
    """The MLflow status for a run whose block ended with ``exc``: FINISHED, KILLED (Ctrl-C, SIGTERM) or FAILED."""
    if exc is None:
        return "FINISHED"
    return "KILLED" if isinstance(exc, KeyboardInterrupt) else "FAILED"


# --------------------------------------------------------------------------- runs


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

    experiment_id = ensure_experiment(cfg)
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
    with store_lock(cfg), signals_deferred():
        client = _client(cfg)
        end_orphans(cfg, client)
        run = client.create_run(
            experiment_id,
            run_name=cfg.tracking.run_name or default_run_name(cfg),
            tags=tags,
            start_time=start["start_ms"] if start else None,
        )
        run_id = run.info.run_id
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


def describe(select: dict[str, Any]) -> str:
    """One line for the run's description: what was chosen, by what, and what the other criteria preferred."""
    chosen = select.get("chosen")
    if not chosen:
        return "No model chosen."
    crit = str(select.get("criterion", "bic"))
    label = {"bic": "BIC", "aic": "AIC", "heldout": "held-out likelihood"}
    line = (
        f"Chose {chosen['covariance_type']} K={chosen['n_components']} by {label.get(crit, crit)} "
        f"among {select.get('n_fits', '?')} fits (validation {chosen.get('val_bpp', float('nan')):.4f} bits/pixel)"
    )
    others = [
        f"{label.get(c, c)} would pick {r.get('covariance_type')} K={r.get('n_components')}"
        for c, r in select.get("by_criterion", {}).items()
        if c != crit
        and (r.get("covariance_type"), r.get("n_components")) != (chosen["covariance_type"], chosen["n_components"])
    ]
    if others:
        line += "; " + ", ".join(others)
    if select.get("n_degenerate_fits"):
        line += f"; {select['n_degenerate_fits']} of the fits degenerate"
    return line + "."


def per_class_table(run_dir: Path) -> dict[str, list[Any]]:
    """Per-digit numbers of a run as columns (digit 0-9): generated class counts, conditional agreement and K."""
    evaluation = _read_json(F.EVALUATE.folder(run_dir) / F.EVALUATE.metrics)
    digits = [str(d) for d in range(10)]
    table: dict[str, list[Any]] = {"digit": list(range(10))}
    for crit, row in evaluation.get("by_criterion", {}).items():
        counts = row.get("quality", {}).get("class_counts", {})
        table[f"generated_count_{crit}"] = [int(counts.get(d, 0)) for d in digits]
    cond = evaluation.get("conditional", {})
    if "agreement_per_class" in cond:
        table["conditional_agreement"] = [cond["agreement_per_class"].get(d) for d in digits]
        table["conditional_n_components"] = [cond.get("n_components_per_class", {}).get(d) for d in digits]
    provenance = _read_json(F.DATA.folder(run_dir) / F.DATA.provenance)
    for split, counts in provenance.get("class_counts", {}).items():
        table[f"{split}_count"] = [int(counts.get(d, 0)) for d in digits]
    return table if len(table) > 1 else {}


def log_pipeline(
    cfg: Config | DictConfig,
    run_id: str,
    run_dir: Path,
    overrides: list[str] | None = None,
    register: bool = False,
) -> str | None:
    """Log the stage folders under ``run_dir`` into the open run ``run_id``; return the registered version, if any.

    Tags and metrics come from the stages' files (:func:`run_tags`,
    :func:`run_metrics`), the digits as dataset inputs (:func:`log_data`), a
    child run per fit when ``tracking.child_runs``, then the files the file
    map lists (:func:`log_stage_files`) and the model. The model is always
    logged to the run; ``register`` adds it to the registry as a new version
    with its description and tags. No alias moves here: that waits until the
    run has ended (:func:`track`). Store writes run with Ctrl-C and SIGTERM
    held back (:func:`signals_deferred`).
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


def run_tags(cfg: Config | DictConfig, run_dir: Path, select: dict[str, Any]) -> dict[str, str]:
    """The run's tags from its files: data source and hash, the chosen model, the criterion, the description."""
    provenance = _read_json(F.DATA.folder(run_dir) / F.DATA.provenance)
    chosen = select.get("chosen", {})
    tags = {
        "data.source": provenance.get("source", "unknown"),
        "data.origin": provenance.get("origin", ""),
        "data.test_origin": provenance.get("test_origin", ""),
        "data.fallback": str(provenance.get("fallback", False)).lower(),
        "data.sha256": provenance.get("dataset_sha256", ""),
        "selected_model": f"{chosen.get('covariance_type')} K={chosen.get('n_components')}" if chosen else "none",
        "selected_status": chosen.get("status", ""),
        "criterion": str(cfg.sweep.criterion),
    }
    if select.get("warnings"):
        tags["sweep.warnings"] = " | ".join(select["warnings"])[:5000]
    evaluation = _read_json(F.EVALUATE.folder(run_dir) / F.EVALUATE.metrics)
    tags.update(verdict_tags(evaluation))
    tags["mlflow.note.content"] = describe(select) + (f" {tags['verdict']}" if "verdict" in tags else "")
    return tags


def verdict_tags(evaluation: dict[str, Any]) -> dict[str, str]:
    """Tags of the evaluate stage's verdict: ``copying_status`` (the used choice's: copying, not copying or
    untested), ``copying_status.<criterion>`` per choice, the two bests and the sentence (``verdict``)."""
    tags: dict[str, str] = {}
    selected = evaluation.get("selected", {})
    if "copying_status" in selected:
        tags["copying_status"] = str(selected["copying_status"])
    v = evaluation.get("verdict", {})
    for crit, row in v.get("by_criterion", {}).items():
        tags[f"copying_status.{crit}"] = str(row.get("copying_status"))
    if v:
        tags["likelihood_best"] = ",".join(v.get("likelihood_best_criteria", [])) or "none"
        tags["sample_best"] = ",".join(v.get("sample_best_criteria", [])) or "none"
        tags["verdict"] = str(v.get("sentence", ""))[:5000]
    return tags


#: Last parts of metric names that are sizes, counts of the config or timings, not results: logged as params.
SIZE_KEYS = frozenset(
    {"epochs", "seconds", "sweep_seconds", "n_train", "n_val", "n_test", "n_classifier", "n_samples", "n_fits",
     "n_dims_in", "frechet_n", "frechet_reference_n", "copying_floor_n", "copying_heldout_n", "copying_cells",
     "copying_min_generated", "min_generated", "n_cells", "n_bins", "ndb_bins", "ndb_alpha", "alpha", "prdc_k",
     "inception_score_splits", "percentile", "copying_threshold"}
)  # fmt: skip
#: Exceptions to SIZE_KEYS: results that happen to share a last name part with a size.
KEEP_AS_METRIC: frozenset[str] = frozenset()


def split_sizes(metrics: dict[str, float]) -> tuple[dict[str, float], dict[str, float]]:
    """``metrics`` split into (results, sizes): a size's last name part is in :data:`SIZE_KEYS` (params in MLflow)."""
    sizes = {k: v for k, v in metrics.items() if k.rsplit("/", 1)[-1] in SIZE_KEYS and k not in KEEP_AS_METRIC}
    return {k: v for k, v in metrics.items() if k not in sizes}, sizes


def _fmt_size(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.4g}"


def sweep_metric(key: str, covariance_type: str) -> str:
    """The per-K metric (step = K) of ``key``: BIC and validation bits/pixel in the run page's first chart
    section beside the headline (``_headline/bic_vs_K_full``, :data:`gmmgen.tracking.ui.SECTION`); AIC and
    train_ll under ``sweep/``."""
    from gmmgen.tracking import ui as mlflow_ui

    if key in ("bic", "val_bpp"):
        return f"{mlflow_ui.SECTION}/{key}_vs_K_{covariance_type}"
    return f"sweep/{key}_{covariance_type}"


def run_metrics(run_dir: Path, select: dict[str, Any], timings: dict[str, Any]) -> dict[str, float]:
    """The run's one-step metrics from the stages' metrics files (per-class counts left out: a logged table)."""
    from gmmgen.tracking import ui as mlflow_ui

    chosen = select.get("chosen", {})
    metrics: dict[str, float] = {}
    for stage in (F.DATA, F.REDUCE, F.GENERATE, F.CLASSIFIER):
        metrics.update(_numeric(_read_json(stage.folder(run_dir) / stage.metrics), f"{stage.name}/"))
    evaluation = _read_json(F.EVALUATE.folder(run_dir) / F.EVALUATE.metrics)
    for part in ("selected", "reference", "clustering", "anomaly", "conditional"):
        metrics.update(_numeric(evaluation.get(part, {}), f"evaluate/{part}/"))
    for crit, row in evaluation.get("by_criterion", {}).items():
        metrics.update(_numeric(row.get("quality", {}), f"evaluate/{crit}/"))
    for key in ("n_fits", "n_failed", "n_not_converged", "n_degenerate_fits"):
        if key in select:
            metrics[f"select/{key}"] = float(select[key])
    if "sweep_seconds" in timings:
        metrics["select/sweep_seconds"] = float(timings["sweep_seconds"])
    classifier_time = _read_json(F.CLASSIFIER.folder(run_dir) / F.CLASSIFIER.runtime)
    if "seconds" in classifier_time:
        metrics["classifier/seconds"] = float(classifier_time["seconds"])
    if chosen:
        # Top-level names so the runs table sorts by them directly.
        # val_bpp / val_nll_nats: pixel space, comparable across runs on the same digits;
        # bic, aic, train_ll: in this run's PCA coordinates, comparable only within it.
        metrics.update(
            bic=chosen["bic"],
            aic=chosen["aic"],
            val_bpp=chosen["val_bpp"],
            val_nll_nats=chosen["val_nll_nats"],
            train_ll=chosen["train_ll"],
            n_components=chosen["n_components"],
        )
        for key in ("test_bpp", "test_nll_nats"):
            if chosen.get(key) is not None:
                metrics[key] = chosen[key]
    metrics.update(mlflow_ui.headline_metrics(run_dir))
    return metrics


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


def _log_model(
    cfg: Config | DictConfig, client: Any, run_id: str, run_dir: Path, register: bool, data_md5: str
) -> str | None:
    """Log (and with ``register``, register, describe and tag) the digit generator of the run; return its version."""
    import mlflow

    from gmmgen.tracking import ui as mlflow_ui

    # Logging and registering the model writes to the store: a signal waits (seconds) until it is done.
    with signals_deferred():
        with mlflow.start_run(run_id=run_id):
            version = log_generator(cfg, run_dir, register)
        if version is not None:
            name = cfg.tracking.registered_model
            client.set_tag(run_id, "registered_model", f"{name}/{version}")
            mlflow_ui.describe_model(client, name)
            commit = client.get_run(run_id).data.tags.get("mlflow.source.git.commit", "")
            promotion.record_version(client, name, promotion.run_dir_standing(cfg, run_dir, version, commit, data_md5))
    return version


def log_generator(cfg: Config | DictConfig, run_dir: Path, register: bool = False) -> str | None:
    """Log PCA + chosen GMM as a pyfunc model in the active run; return its registered version (None if not).

    The model is self-contained: the ``gmmgen`` package's code ships with it
    (``code_paths``), so it loads where the project is not installed.
    """
    import importlib.metadata as md
    import shutil
    import tempfile
    import warnings

    import mlflow
    import pandas as pd
    from mlflow.models import ModelSignature, infer_signature
    from mlflow.types.schema import AnyType, ColSpec, Schema

    import gmmgen
    from gmmgen.tracking.generator import DigitGenerator

    provenance = _read_json(F.DATA.folder(run_dir) / F.DATA.provenance)
    with tempfile.TemporaryDirectory() as tmp:
        meta = Path(tmp) / "meta.json"
        meta.write_text(
            json.dumps(
                {
                    "image_shape": provenance.get("image_shape", [28, 28]),
                    "max_digits": int(cfg.tracking.max_digits_per_request),
                }
            )
        )
        code = Path(tmp) / "code" / "gmmgen"
        shutil.copytree(Path(gmmgen.__file__).parent, code, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        artifacts = {
            "pca": str(F.REDUCE.folder(run_dir) / F.REDUCE.pca),
            "gmm": str(F.SELECT.folder(run_dir) / F.SELECT.model),
            "meta": str(meta),
        }
        example = pd.DataFrame({"n": [4], "seed": [0]})
        model = DigitGenerator()
        model.load_context(SimpleNamespace(artifacts=artifacts))  # to draw the signature's output example
        with warnings.catch_warnings():  # "integer columns cannot hold missing values": n and seed never are
            warnings.simplefilter("ignore", UserWarning)
            inferred = infer_signature(example, model.predict(None, example))
        # Inputs typed "any": MLflow would cast a JSON 2.5 to the integer 2 for a long column before the
        # model sees it; the model checks n and seed itself and answers a bad value with one message.
        signature = ModelSignature(
            inputs=Schema([ColSpec(AnyType(), "n"), ColSpec(AnyType(), "seed")]), outputs=inferred.outputs
        )
        reqs = [f"{p}=={md.version(p)}" for p in ("scikit-learn", "numpy", "pandas", "joblib", "mlflow")]
        chatter = io.StringIO()  # MLflow prints "Registered model ... already exists" etc. to stderr
        with contextlib.redirect_stderr(chatter):
            info = mlflow.pyfunc.log_model(
                name=MODEL_NAME,
                python_model=model,
                artifacts=artifacts,
                signature=signature,
                input_example=example,
                pip_requirements=reqs,
                code_paths=[str(code)],
                registered_model_name=cfg.tracking.registered_model if register else None,
            )
    log.debug("MLflow: %s", chatter.getvalue().strip())
    return str(info.registered_model_version) if info.registered_model_version else None


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
        version = log_pipeline(cfg, run_id, run_dir, overrides, register=bool(cfg.tracking.register_model))
    if version is not None:
        settle_version(cfg, run_id, version, why_not_compete(start))
    return run_id


def why_not_compete(start: dict[str, Any] | None) -> str | None:
    """Why a ``make run`` version may not compete for the champion alias (None: it may), from the start record."""
    if start is None or start.get("kind") == "dvc":
        return "not made by `make run` (dvc repro or dvc exp run on their own)"
    if start.get("kind") == "exp" or os.environ.get(DVC_EXP_ENV):
        return "a DVC experiment (make exp or dvc exp run)"
    if start.get("dirty") is None:
        return "the git state was unknown when make run started"
    if start["dirty"]:
        return "the working tree was not clean when make run started"
    return None


def settle_version(cfg: Config | DictConfig, run_id: str, version: str, why_not: str | None) -> None:
    """After run ``run_id`` ended FINISHED: its new ``version`` competes for an alias, or is tagged with ``why_not``."""
    name = cfg.tracking.registered_model
    with store_lock(cfg), signals_deferred():
        client = _client(cfg)
        if why_not is None:
            decision = promotion.settle(
                client, name, version, str(cfg.tracking.alias), str(cfg.tracking.challenger_alias)
            )
            client.set_tag(run_id, "registered_alias", decision.alias)
            return
        reason = f"{why_not}: @{cfg.tracking.alias} stays where it is"
        client.set_model_version_tag(name, version, promotion.TAG_DECISION, "none")
        client.set_model_version_tag(name, version, promotion.TAG_REASON, reason)
    log.info("model version %s registered, no alias: %s", version, reason)
