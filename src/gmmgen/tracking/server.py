"""A team tracking server: MLflow on a real PostgreSQL, artifacts served by MLflow.

``python -m gmmgen.tracking.server start|stop|status`` (what ``make server`` and
``make server-stop`` run) keeps everything in one folder, by default
``outputs/server/``::

    pgdata/         the PostgreSQL cluster (owned by the database user)
    artifacts/      run artifacts and models, served as ``mlflow-artifacts:`` URIs
    pgpass          libpq password file of the ``mlflow`` database role (mode 0600)
    state.json      ports and process ids of the running server
    postgres.log    mlflow.log

The cluster is created on first start and reused afterwards, so runs, models
and artifacts survive a restart. Starting a running server or stopping a
stopped one does nothing. PostgreSQL refuses to run as root: as root the
cluster belongs to an unprivileged user (``postgres``, which Debian's package
creates, or ``GMMGEN_PG_USER``). The database password never appears on a
command line: the MLflow server reads it from ``pgpass`` (``PGPASSFILE``).

Only the standard library is imported here; the server runs in its own
processes, started from this module.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import json
import os
import pwd
import secrets
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

from gmmgen.errors import ServerError
from gmmgen.tracking.procs import HOST, alive, free_port, port_free, terminate

DB_NAME = "mlflow"
DB_ROLE = "mlflow"
PG_USER_ENV = "GMMGEN_PG_USER"


@dataclass
class State:
    """What ``state.json`` records about a started server."""

    port: int
    pg_port: int
    mlflow_pid: int
    url: str


# --------------------------------------------------------------------------- helpers


def pg_bindir() -> Path:
    """The folder of PostgreSQL's server programs (initdb, pg_ctl, postgres).

    Raises:
        ServerError: PostgreSQL is not installed.
    """
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    # Debian installs them outside PATH, one folder per major version.
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[-3]))
    if versions:
        return Path(versions[-1]).parent
    raise ServerError(
        "PostgreSQL is not installed (no pg_ctl found): `make server` installs it, or apt-get install postgresql"
    )


def _db_user() -> str | None:
    """The unprivileged user that owns the cluster when we run as root; None otherwise."""
    if os.geteuid() != 0:
        return None
    name = os.environ.get(PG_USER_ENV, "postgres")
    try:
        pwd.getpwnam(name)
    except KeyError:
        raise ServerError(
            f"PostgreSQL refuses to run as root and the user {name!r} does not exist: "
            f"create it (useradd --system {name}) or set {PG_USER_ENV}"
        ) from None
    return name


def _run(cmd: list[str], user: str | None = None, env: dict | None = None, timeout: float = 120) -> str:
    """Run ``cmd`` (as ``user`` when given); return its output, or raise ServerError with its last line."""
    try:
        done = subprocess.run(
            cmd, user=user, env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=timeout
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise ServerError(f"{Path(cmd[0]).name} failed: {exc}") from exc
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines() or [f"exit status {done.returncode}"]
        raise ServerError(f"{Path(cmd[0]).name} failed: {lines[-1]}")
    return done.stdout


def healthy(url: str, timeout: float = 2.0) -> bool:
    """True when the MLflow server at ``url`` answers ``/health``."""
    try:
        with urllib.request.urlopen(url.rstrip("/") + "/health", timeout=timeout) as resp:
            return resp.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _tail(path: Path, n: int = 5) -> str:
    if not path.exists():
        return ""
    lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    return " | ".join(lines[-n:])


# --------------------------------------------------------------------------- PostgreSQL


def _pg_running(pgdata: Path, bindir: Path, user: str | None) -> bool:
    if not (pgdata / "PG_VERSION").exists():
        return False
    done = subprocess.run(
        [str(bindir / "pg_ctl"), "status", "-D", str(pgdata)], user=user, capture_output=True, text=True
    )
    return done.returncode == 0


def _pg_port(pgdata: Path) -> int | None:
    """The port of the running cluster, from ``postmaster.pid`` (its fourth line)."""
    with contextlib.suppress(OSError, IndexError, ValueError):
        return int((pgdata / "postmaster.pid").read_text().splitlines()[3])
    return None


def _init_cluster(folder: Path, bindir: Path, user: str | None) -> None:
    """Create the cluster with the ``mlflow`` role (password auth only) and write ``pgpass``."""
    pgdata = folder / "pgdata"
    password = secrets.token_urlsafe(24)
    pgdata.mkdir(mode=0o700, parents=True, exist_ok=True)
    pwfile = folder / ".initdb-password"
    pwfile.write_text(password + "\n")
    pwfile.chmod(0o600)
    if user is not None:
        entry = pwd.getpwnam(user)
        for path in (pgdata, pwfile):
            os.chown(path, entry.pw_uid, entry.pw_gid)
    try:
        _run(
            [
                str(bindir / "initdb"),
                "-D",
                str(pgdata),
                f"--username={DB_ROLE}",
                f"--pwfile={pwfile}",
                "--auth=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C",
            ],
            user=user,
        )
    finally:
        pwfile.unlink(missing_ok=True)
    pgpass = folder / "pgpass"
    pgpass.write_text(f"{HOST}:*:*:{DB_ROLE}:{password}\n")
    pgpass.chmod(0o600)


def _start_postgres(folder: Path, bindir: Path, user: str | None, port: int) -> int:
    """Start the cluster on ``port`` (TCP on 127.0.0.1 only, no Unix socket); return its port."""
    pgdata = folder / "pgdata"
    if _pg_running(pgdata, bindir, user):
        return _pg_port(pgdata) or port
    log = folder / "postgres.log"
    if user is not None and not log.exists():
        log.touch()
        entry = pwd.getpwnam(user)
        os.chown(log, entry.pw_uid, entry.pw_gid)
    options = f"-c listen_addresses={HOST} -c port={port} -c unix_socket_directories=''"
    try:
        _run(
            [str(bindir / "pg_ctl"), "start", "-w", "-t", "60", "-D", str(pgdata), "-l", str(log), "-o", options],
            user=user,
        )
    except ServerError as exc:
        raise ServerError(f"PostgreSQL did not start: {_tail(log, 2) or exc}") from None
    return port


def _ensure_database(folder: Path, bindir: Path, port: int) -> None:
    env = {"PGPASSFILE": str(folder / "pgpass"), "PGHOST": HOST, "PGPORT": str(port), "PGUSER": DB_ROLE}
    found = _run(
        [str(bindir / "psql"), "-d", "postgres", "-tAc", f"SELECT 1 FROM pg_database WHERE datname = '{DB_NAME}'"],
        env=env,
    )
    if found.strip() != "1":
        _run([str(bindir / "createdb"), DB_NAME], env=env)


def _stop_postgres(folder: Path, bindir: Path, user: str | None) -> None:
    pgdata = folder / "pgdata"
    if _pg_running(pgdata, bindir, user):
        _run([str(bindir / "pg_ctl"), "stop", "-w", "-m", "fast", "-D", str(pgdata)], user=user)


# --------------------------------------------------------------------------- MLflow server


def read_state(folder: Path) -> State | None:
    """The recorded state of the server in ``folder``, or None."""
    try:
        return State(**json.loads((folder / "state.json").read_text()))
    except (OSError, ValueError, TypeError):
        return None


def running(folder: Path) -> State | None:
    """The state of the server in ``folder`` when it is up and answering; None otherwise."""
    state = read_state(folder)
    if state and alive(state.mlflow_pid) and healthy(state.url):
        return state
    return None


def backend_store_uri(pg_port: int) -> str:
    """The SQLAlchemy URI of the database; the password comes from ``PGPASSFILE``."""
    return f"postgresql://{DB_ROLE}@{HOST}:{pg_port}/{DB_NAME}"


def _start_mlflow(folder: Path, port: int, pg_port: int, workers: int, timeout: float) -> int:
    artifacts = folder / "artifacts"
    artifacts.mkdir(parents=True, exist_ok=True)
    log = (folder / "mlflow.log").open("ab")
    cmd = [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--backend-store-uri",
        backend_store_uri(pg_port),
        "--serve-artifacts",
        "--artifacts-destination",
        str(artifacts.resolve()),
        "--host",
        HOST,
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]
    env = {**os.environ, "PGPASSFILE": str((folder / "pgpass").resolve())}
    proc = subprocess.Popen(
        cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, start_new_session=True
    )
    log.close()
    url = f"http://{HOST}:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServerError(
                f"the MLflow server exited with status {proc.returncode}: {_tail(folder / 'mlflow.log', 3)}"
            )
        if healthy(url, timeout=1.0):
            return proc.pid
        time.sleep(0.3)
    terminate([proc.pid], group=True)
    raise ServerError(
        f"the MLflow server did not answer on {url} within {timeout:.0f} s: {_tail(folder / 'mlflow.log', 3)}"
    )


# --------------------------------------------------------------------------- commands


def start(folder: Path, port: int, pg_port: int = 0, workers: int = 1, timeout: float = 120) -> tuple[State, bool]:
    """Start PostgreSQL and the MLflow server for ``folder``; return (state, started now).

    A server already running for ``folder`` is left alone and its state
    returned. ``pg_port=0`` picks a free port for PostgreSQL.

    Raises:
        ServerError: PostgreSQL is missing, a port is taken, or a part did not come up.
    """
    folder = folder.resolve()
    state = running(folder)
    if state is not None:
        return state, False
    if healthy(f"http://{HOST}:{port}", timeout=1.0) or not port_free(port):
        raise ServerError(f"port {port} on {HOST} is already in use: choose another (make server SERVER_PORT=...)")
    folder.mkdir(parents=True, exist_ok=True)
    stale = read_state(folder)
    if stale is not None and alive(stale.mlflow_pid):  # up but not answering: restart it
        terminate([stale.mlflow_pid], group=True)
    bindir = pg_bindir()
    user = _db_user()
    if not (folder / "pgdata" / "PG_VERSION").exists():
        if (folder / "pgdata").exists() and any((folder / "pgdata").iterdir()):
            raise ServerError(f"{folder / 'pgdata'} exists but holds no PostgreSQL cluster: move it away")
        _init_cluster(folder, bindir, user)
    pg_port = _start_postgres(folder, bindir, user, pg_port or free_port())
    _ensure_database(folder, bindir, pg_port)
    pid = _start_mlflow(folder, port, pg_port, workers, timeout)
    state = State(port=port, pg_port=pg_port, mlflow_pid=pid, url=f"http://{HOST}:{port}")
    (folder / "state.json").write_text(json.dumps(asdict(state), indent=2) + "\n")
    return state, True


def stop(folder: Path) -> bool:
    """Stop the MLflow server and PostgreSQL of ``folder``; return whether anything was running."""
    folder = folder.resolve()
    was_running = False
    state = read_state(folder)
    if state is not None and alive(state.mlflow_pid):
        terminate([state.mlflow_pid], group=True)
        was_running = True
    (folder / "state.json").unlink(missing_ok=True)
    if (folder / "pgdata" / "PG_VERSION").exists():
        bindir = pg_bindir()
        user = _db_user()
        if _pg_running(folder / "pgdata", bindir, user):
            _stop_postgres(folder, bindir, user)
            was_running = True
    return was_running


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gmmgen.tracking.server", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("start", "stop", "status"))
    parser.add_argument("--dir", type=Path, default=Path("outputs/server"), help="server folder (database, artifacts)")
    parser.add_argument("--port", type=int, default=5050, help="MLflow server port on 127.0.0.1")
    parser.add_argument("--pg-port", type=int, default=0, help="PostgreSQL port (0: a free one)")
    parser.add_argument("--workers", type=int, default=1, help="MLflow server worker processes")
    args = parser.parse_args(argv)
    try:
        if args.command == "start":
            state, new = start(args.dir, args.port, args.pg_port, args.workers)
            verb = "started" if new else "already running"
            print(
                f"MLflow tracking server {verb} on {state.url} (PostgreSQL on port {state.pg_port}, data in {args.dir})"
            )
            print(f'Use it: make run ARGS="tracking.uri={state.url}"   Stop it: make server-stop')
        elif args.command == "stop":
            print("Tracking server stopped." if stop(args.dir) else "Tracking server was not running.")
        else:
            state = running(args.dir.resolve())
            print(f"running on {state.url}" if state else "not running")
            return 0 if state else 3
    except ServerError as exc:
        print(f"gmmgen: server error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
