"""Starting the five daemons of a cluster in order, each waited for; all stopped again when one fails."""

from __future__ import annotations

import getpass
import shutil
import subprocess
import time
from pathlib import Path

from gmmgen.errors import ClusterError
from gmmgen.tracking.cluster_common import (
    CLIENT_TIMEOUT,
    DB_NAME,
    DB_USER,
    MARKER_ENV,
    NODE,
    UP_TIMEOUT,
    State,
    client,
    env,
    tail,
    which,
)
from gmmgen.tracking.cluster_conf import write_files
from gmmgen.tracking.procs import HOST, alive, listening, terminate


class _Starter:
    """Starts the daemons of one cluster and stops them all when a later one fails."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.pids: dict[str, int] = {}
        self.env = {**env(folder), MARKER_ENV: str(folder)}

    def spawn(self, name: str, cmd: list[str]) -> subprocess.Popen:
        log = (self.folder / "log" / f"{name}.log").open("ab")
        proc = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=self.env, start_new_session=True
        )
        log.close()
        self.pids[name] = proc.pid
        return proc

    def wait_for(self, name: str, proc: subprocess.Popen, ready, what: str, timeout: float = UP_TIMEOUT) -> None:
        """Wait until ``ready()``; a daemon that exits or takes longer than ``timeout`` s is one clear error."""
        log = self.folder / "log" / f"{name}.log"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise ClusterError(
                    f"{name} exited with status {proc.returncode} before {what}: see {log} ({tail(log)})"
                )
            if ready():
                return
            time.sleep(0.2)
        raise ClusterError(f"{name} did not come up ({what}) within {timeout:.0f} s: see {log} ({tail(log)})")


def _sql(folder: Path, statement: str) -> None:
    done = subprocess.run(
        [which("mariadb"), "--no-defaults", f"--socket={folder / 'mysql' / 'mysqld.sock'}", "-u", getpass.getuser()],
        input=statement,
        capture_output=True,
        text=True,
        timeout=CLIENT_TIMEOUT,
    )
    if done.returncode != 0:
        raise ClusterError(f"MariaDB refused the accounting database setup: {done.stderr.strip()[:300]}")


def _node_state(folder: Path) -> str:
    try:
        done = client(folder, ["sinfo", "-h", "-n", NODE, "-o", "%T"], timeout=5)
    except ClusterError:
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def _start_munged(starter: _Starter) -> None:
    f = starter.folder
    sock = f / "munge" / "munged.sock"
    sock.unlink(missing_ok=True)
    proc = starter.spawn(
        "munged",
        [
            which("munged"),
            "--foreground",
            "--force",
            f"--key-file={f / 'munge' / 'munge.key'}",
            f"--socket={sock}",
            f"--pid-file={f / 'munge' / 'munged.pid'}",
            f"--seed-file={f / 'munge' / 'munged.seed'}",
            f"--log-file={f / 'log' / 'munged.log'}",
        ],
    )
    starter.wait_for("munged", proc, sock.exists, "its socket appeared")


def _install_mariadb(datadir: Path) -> None:
    """Create MariaDB's data folder once (a failed attempt leaves none behind)."""
    if (datadir / "mysql").is_dir():
        return
    done = subprocess.run(
        [
            which("mariadb-install-db"),
            "--no-defaults",
            f"--datadir={datadir}",
            f"--user={getpass.getuser()}",
            "--auth-root-authentication-method=socket",
            "--skip-test-db",
            "--skip-name-resolve",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if done.returncode != 0:
        shutil.rmtree(datadir, ignore_errors=True)
        raise ClusterError(f"mariadb-install-db failed: {(done.stderr or done.stdout).strip()[-300:]}")


def _start_mariadb(starter: _Starter, state: State, password: str) -> None:
    """MariaDB for accounting, with the accounting database and its user (``password``)."""
    f = starter.folder
    datadir = f / "mysql" / "data"
    _install_mariadb(datadir)
    msock = f / "mysql" / "mysqld.sock"
    proc = starter.spawn(
        "mariadbd",
        [
            which("mariadbd"),
            "--no-defaults",
            f"--datadir={datadir}",
            f"--socket={msock}",
            f"--port={state.mariadb_port}",
            f"--bind-address={HOST}",
            f"--pid-file={f / 'mysql' / 'mysqld.pid'}",
            f"--user={getpass.getuser()}",
            "--skip-name-resolve",
            "--skip-log-bin",
            "--innodb-buffer-pool-size=32M",
            "--innodb-log-file-size=16M",
            "--innodb-lock-wait-timeout=900",
        ],
    )
    starter.wait_for("mariadbd", proc, lambda: msock.exists() and listening(state.mariadb_port), "listening")
    _sql(
        f,
        f"CREATE DATABASE IF NOT EXISTS {DB_NAME};\n"
        f"CREATE USER IF NOT EXISTS '{DB_USER}'@'{HOST}' IDENTIFIED BY '{password}';\n"
        f"ALTER USER '{DB_USER}'@'{HOST}' IDENTIFIED BY '{password}';\n"
        f"GRANT ALL ON {DB_NAME}.* TO '{DB_USER}'@'{HOST}';\n",
    )


def _start_slurm(starter: _Starter, state: State) -> None:
    """slurmdbd, slurmctld and slurmd, each once the one before answers."""
    f = starter.folder
    proc = starter.spawn("slurmdbd", [which("slurmdbd"), "-D"])
    starter.wait_for("slurmdbd", proc, lambda: listening(state.slurmdbd_port), "listening")

    state_ok = lambda: client(f, ["scontrol", "ping"], timeout=5).stdout.count("UP") > 0  # noqa: E731
    proc = starter.spawn("slurmctld", [which("slurmctld"), "-D", "-i"])
    starter.wait_for("slurmctld", proc, lambda: listening(state.slurmctld_port) and state_ok(), "answering")

    (f / "spool").mkdir(exist_ok=True)  # slurmd exits at once when its spool folder is missing
    proc = starter.spawn("slurmd", [which("slurmd"), "-D", "-N", NODE])
    starter.wait_for("slurmd", proc, lambda: _node_state(f).rstrip("*") in ("idle", "mixed", "allocated"), "node idle")


def start_daemons(folder: Path, state: State, cpus: int = 0) -> dict[str, int]:
    """Write the configuration and start the five daemons in order; return their pids by name.

    Raises:
        ClusterError: a daemon did not come up (the ones already started are stopped).
    """
    password = write_files(folder, state, cpus)
    starter = _Starter(folder)
    try:
        _start_munged(starter)
        _start_mariadb(starter, state, password)
        _start_slurm(starter, state)
    except BaseException:
        terminate([pid for pid in starter.pids.values() if alive(pid)])
        raise
    return starter.pids
