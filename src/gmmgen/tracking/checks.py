"""What the tracking settings must be before any work: no credential in the config, a tracking URI that can work.

Decided from the values alone (reachability needs the network:
:func:`gmmgen.tracking.log.check_reachable`). Messages name the key and say
where a credential belongs instead; they are not redacted here (the caller,
:func:`gmmgen.runtime.validation.iter_problems`, masks every message).
"""

from __future__ import annotations

import importlib.util
import urllib.parse
from collections.abc import Iterator
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from gmmgen.redact import credentials_in, redact

_HOW_HTTP = (
    "set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD (or MLFLOW_TRACKING_TOKEN) in the environment, "
    "or put them in ~/.netrc or ~/.mlflow/credentials"
)
_HOW_DB = (
    "keep only the user name in the URI and give the password through PGPASSWORD or ~/.pgpass (PostgreSQL), "
    "or the driver's option file (MySQL: ~/.my.cnf)"
)
_HOW_OTHER = "download the file once and list its local path, or use a source that needs no credentials"

# SQLAlchemy dialects MLflow can keep runs in: default driver, and driver -> (module, package to install).
DB_DRIVERS: dict[str, tuple[str, dict[str, tuple[str, str]]]] = {
    "postgresql": (
        "psycopg2",
        {
            "psycopg2": ("psycopg2", "psycopg2-binary"),
            "psycopg": ("psycopg", "psycopg"),
            "pg8000": ("pg8000", "pg8000"),
        },
    ),
    "mysql": ("mysqldb", {"mysqldb": ("MySQLdb", "mysqlclient"), "pymysql": ("pymysql", "PyMySQL")}),
    "mssql": ("pyodbc", {"pyodbc": ("pyodbc", "pyodbc")}),
}


def _strings(tree: Any, prefix: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(tree, dict):
        for k, v in tree.items():
            yield from _strings(v, f"{prefix}{k}.")
    elif isinstance(tree, list):
        for i, v in enumerate(tree):
            yield from _strings(v, f"{prefix[:-1]}[{i}].")
    elif isinstance(tree, str):
        yield prefix[:-1], tree


def credential_problems(cfg: Any) -> Iterator[str]:
    """A credential in any value: it would reach params.yaml, Hydra's saved configs, logs and MLflow."""
    if isinstance(cfg, DictConfig):
        tree = {  # Hydra's own node is left out: it does not resolve before the job starts
            key: OmegaConf.to_container(node, resolve=True) if isinstance(node, DictConfig | ListConfig) else node
            for key in cfg
            if key != "hydra"
            for node in [cfg[key]]
        }
    elif isinstance(cfg, dict):
        tree = {k: v for k, v in cfg.items() if k != "hydra"}
    else:
        import dataclasses

        tree = dataclasses.asdict(cfg)
    for key, value in _strings(tree):
        http_user = _http_userinfo(value) if key == "tracking.uri" else None
        if not (credentials_in(value) or http_user):
            continue
        if key != "tracking.uri":
            how = _HOW_OTHER
        elif urllib.parse.urlsplit(value).scheme.lower() in ("http", "https"):
            how = _HOW_HTTP
        else:
            how = _HOW_DB
        yield (
            f"{key}={redact(_mask_http_user(value))!r}: credentials do not belong in the config "
            f"(they would be written to params.yaml, logs and MLflow); remove them and {how}"
        )


def _http_userinfo(uri: str) -> str | None:
    """The userinfo of an http(s) URI ('' when none), or None for other schemes."""
    parts = urllib.parse.urlsplit(uri)
    if parts.scheme.lower() not in ("http", "https"):
        return None
    return parts.netloc.rpartition("@")[0] or None


def _mask_http_user(uri: str) -> str:
    userinfo = _http_userinfo(uri)
    return uri.replace(userinfo + "@", "***@", 1) if userinfo else uri


def tracking_uri_problem(uri: Any) -> str | None:
    """Why ``tracking.uri`` cannot work here, or None: scheme, path and installed driver are checked.

    Reachability is checked later (``gmmgen.tracking.log.check_reachable``), since
    it needs the network; everything here is decided from the value alone.
    """
    if uri is None:
        return None
    head = f"tracking.uri={redact(_mask_http_user(str(uri)))!r}"
    if not isinstance(uri, str) or not uri.strip():
        return f"{head}: must be null (SQLite at outputs/mlflow.db) or a URI"
    if credentials_in(uri) or _http_userinfo(uri):
        return None  # reported by credential_problems
    parts = urllib.parse.urlsplit(uri)
    scheme = parts.scheme.lower()
    if scheme in ("http", "https"):
        return None if parts.hostname else f"{head}: names no host (http://<host>:<port>)"
    if scheme == "sqlite":
        path = uri[len("sqlite:///") :] if uri.startswith("sqlite:///") else ""
        if not path.startswith("/"):
            return (
                f"{head}: must name an absolute file, sqlite:////<absolute path>.db (four slashes), "
                "or be null for outputs/mlflow.db; a relative path lands in whatever folder the program starts in"
            )
        return None
    if scheme in ("", "file") or len(scheme) == 1:  # a bare path, file://, or a Windows drive letter
        return (
            f"{head}: MLflow 3's file store (file:// or a folder) is not supported: use null (SQLite at "
            "outputs/mlflow.db), sqlite:////<absolute path>.db or an http(s) tracking server"
        )
    dialect, _, driver = scheme.partition("+")
    if dialect not in DB_DRIVERS:
        return (
            f"{head}: unsupported scheme {scheme!r}: use null, sqlite:////<absolute path>.db, "
            "http(s)://<host>:<port> or a database (postgresql://<host>/<db>, mysql://, mssql://)"
        )
    default, drivers = DB_DRIVERS[dialect]
    if (driver or default) not in drivers:
        return f"{head}: unknown {dialect} driver {driver!r}: one of {sorted(drivers)}"
    module, package = drivers[driver or default]
    if importlib.util.find_spec(module) is None:
        return (
            f"{head}: the {dialect} driver {module!r} is not installed in this environment: "
            f"`.venv/bin/pip install {package}`, or use another store"
        )
    if not parts.path.strip("/"):
        return f"{head}: names no database ({dialect}://<host>/<database>)"
    return None
