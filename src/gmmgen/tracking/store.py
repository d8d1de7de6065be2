"""The MLflow store: its URI, its lock, reaching it, the client, the experiment; store writes shielded from signals.

Everything here takes the config (or nothing) and touches only the store:
:mod:`gmmgen.tracking.log` logs runs through it, and the entry points check
the store with :func:`check_reachable` before any compute. Raises
:class:`gmmgen.errors.TrackingError` with one line that never shows a
credential.
"""

from __future__ import annotations

import base64
import contextlib
import os
import signal
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from gmmgen.errors import TrackingError
from gmmgen.pipeline.config import Config
from gmmgen.redact import redact


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


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold Ctrl-C, SIGTERM and SIGHUP back while the store is written to; they arrive when the block ends.

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

    previous = {signum: signal.signal(signum, note) for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)
        if noted:
            signal.raise_signal(noted[0])
