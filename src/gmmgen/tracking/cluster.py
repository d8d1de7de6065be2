"""A one-node SLURM cluster on this machine: the cluster path of ``hydra/launcher=slurm``, run for real.

``python -m gmmgen.tracking.cluster start|stop|status`` (what ``make cluster`` and
``make cluster-stop`` run) keeps everything in one folder, by default
``outputs/cluster/``::

    slurm.conf slurmdbd.conf   the cluster's configuration (slurmdbd.conf: mode 0600, it holds the
                               database password); clients find it through SLURM_CONF
    munge/                     munge.key (0400), munged.sock, munged.pid, munged.seed
    mysql/                     MariaDB's data folder (accounting for sacct), mysqld.sock; its
                               database password in mysql.password (0600, beside the folder)
    state/ spool/              slurmctld's saved state, slurmd's spool
    log/                       munged.log mariadbd.log slurmdbd.log slurmctld.log slurmd.log
    *.pid state.json           process ids and ports of the running cluster

Five daemons, started in this order and stopped in the reverse one:
``munged`` (authentication), ``mariadbd`` (a private MariaDB on 127.0.0.1,
for accounting), ``slurmdbd``, ``slurmctld`` and ``slurmd`` (the node,
``gmmgen``, in partition ``debug``). Accounting makes ``sacct`` and submitit
see a cancelled job's real state: without it submitit waits forever for the
result of a job that never wrote one.

What a container needs (each was a failure before): ``proctrack/linuxproc``,
``task/none`` and ``jobacct_gather/none`` (the cgroup plugins make every step
fail silently); munged's folders world-searchable (``--force`` besides);
``DefMemPerCPU`` (else a job that names no memory takes the whole node) and
``RealMemory`` at most what ``slurmd -C`` reports; the spool folder made
before slurmd starts; ports of its own for every daemon (a second cluster on
the first one's port silently talks to the first controller); the munge
socket named to the accounting link (``AccountingStoragePass``); and a
timeout on every client call (``sinfo`` against a dead controller blocks).

Starting a running cluster does nothing; stopping cancels its jobs, stops
every daemon and kills whatever of its processes is left (job steps
included, even when the controller is gone), so nothing keeps running.
Daemons run as the calling user (root in CI; tested only as root). Only the
standard library is imported.
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from gmmgen.errors import ClusterError

HOST = "127.0.0.1"
NODE = "gmmgen"
PARTITION = "debug"
CLUSTER_NAME = "gmmgen"
DB_NAME = "slurm_acct_db"
DB_USER = "slurm"
#: Set in the environment of every daemon (and so of slurmstepd and the job steps it starts):
#: how :func:`stop` finds every process of a cluster, whoever its parent is.
MARKER_ENV = "GMMGEN_CLUSTER_DIR"
#: The packages ``make slurm`` installs (Debian's names) and the programs each provides.
PACKAGES = ("slurmctld", "slurmd", "slurm-client", "slurmdbd", "munge", "mariadb-server")
PROGRAMS = ("munged", "mariadbd", "mariadb-install-db", "slurmdbd", "slurmctld", "slurmd", "sbatch", "sacct")
#: Seconds: a client call (sinfo, scontrol, sacct, scancel); a daemon coming up; one going down.
CLIENT_TIMEOUT = 10.0
UP_TIMEOUT = 60.0
DOWN_GRACE = 10.0
# Order matters: started in this order, stopped in the reverse one.
DAEMONS = ("munged", "mariadbd", "slurmdbd", "slurmctld", "slurmd")
SOCKET_MAX = 107  # bytes in a Unix socket path (sun_path, with its NUL)


@dataclass
class State:
    """What ``state.json`` records about a started cluster: its ports, daemons and configuration."""

    slurmctld_port: int
    slurmd_port: int
    slurmdbd_port: int
    mariadb_port: int
    pids: dict[str, int]
    slurm_conf: str


# --------------------------------------------------------------------------- helpers


def missing_programs() -> list[str]:
    """The programs of :data:`PROGRAMS` that are not installed (sbin folders included)."""
    path = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin", "/usr/local/sbin"])
    return [p for p in PROGRAMS if shutil.which(p, path=path) is None]


def _which(program: str) -> str:
    path = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin", "/usr/local/sbin"])
    found = shutil.which(program, path=path)
    if found is None:
        raise ClusterError(f"{program} is not installed: `make slurm` installs SLURM ({' '.join(PACKAGES)})")
    return found


def free_port(host: str = HOST) -> int:
    """A TCP port on ``host`` that nothing listens on right now."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def port_free(port: int, host: str = HOST) -> bool:
    """True when a daemon could listen on ``port`` (connections in TIME_WAIT do not count)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def _listening(port: int, host: str = HOST) -> bool:
    with socket.socket() as s:
        s.settimeout(1.0)
        return s.connect_ex((host, port)) == 0


def alive(pid: int) -> bool:
    """True when process ``pid`` exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError):
        if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0] == "Z":
            return False
    return True


def _tail(path: Path, n: int = 2) -> str:
    try:
        lines = [line.strip() for line in path.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return ""
    return " | ".join(lines[-n:])


def env(folder: Path) -> dict[str, str]:
    """This process's environment with ``SLURM_CONF`` naming the cluster in ``folder`` (for its clients)."""
    return {**os.environ, "SLURM_CONF": str(folder.resolve() / "slurm.conf")}


def client(folder: Path, args: list[str], timeout: float = CLIENT_TIMEOUT) -> subprocess.CompletedProcess:
    """Run a SLURM client (``sinfo``, ``sacct``, ``scancel``...) against the cluster in ``folder``.

    Bounded by ``timeout`` seconds (a client whose controller is gone may block
    far longer). Returns the finished process, whatever its status.

    Raises:
        ClusterError: the client is not installed or did not answer within ``timeout``.
    """
    cmd = [_which(args[0]), *args[1:]]
    try:
        return subprocess.run(cmd, env=env(folder), capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise ClusterError(f"{args[0]} did not answer within {timeout:.0f} s (is the controller up?)") from None


def job_states(folder: Path | None, job_ids: list[str], timeout: float = CLIENT_TIMEOUT) -> dict[str, str]:
    """SLURM's accounting record of ``job_ids`` (``123`` or array tasks ``123_4``): id -> state.

    A state reads as ``sacct`` prints it (``COMPLETED``, ``FAILED``,
    ``CANCELLED by 0``, ``TIMEOUT``...). ``folder`` names a cluster of this
    module; None uses the SLURM configuration of the environment. Jobs sacct
    does not know are left out; so is everything when sacct fails or does not
    answer within ``timeout`` seconds (this is for messages, never for a wait).
    """
    if not job_ids:
        return {}
    sacct = shutil.which("sacct")
    if sacct is None:
        return {}
    cmd = [sacct, "-X", "-n", "-P", "-o", "JobID,State", "-j", ",".join(job_ids)]
    try:
        done = subprocess.run(cmd, env=env(folder) if folder else None, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.SubprocessError):
        return {}
    if done.returncode != 0:
        return {}
    states = {}
    for line in done.stdout.splitlines():
        job, _, state = line.partition("|")
        if job in job_ids:
            states[job] = state.strip()
    return states


# --------------------------------------------------------------------------- configuration


def _hardware() -> tuple[int, int]:
    """(CPUs, RealMemory in MiB) as ``slurmd -C`` reports them: the node may not claim more."""
    try:
        out = subprocess.run([_which("slurmd"), "-C"], capture_output=True, text=True, timeout=CLIENT_TIMEOUT).stdout
    except subprocess.TimeoutExpired:
        raise ClusterError("slurmd -C did not answer within 10 s") from None
    fields = dict(item.split("=", 1) for item in out.split() if "=" in item)
    try:
        return int(fields["CPUs"]), int(fields["RealMemory"])
    except (KeyError, ValueError):
        raise ClusterError(f"slurmd -C did not report CPUs and RealMemory: {out.strip()[:200]!r}") from None


def slurm_conf(folder: Path, state: State, cpus: int, memory_mb: int, hardware_cpus: int | None = None) -> str:
    """The text of ``slurm.conf`` for the cluster in ``folder`` (absolute paths, ports of ``state``).

    ``cpus`` above ``hardware_cpus`` (what slurmd -C reports) lets that many
    one-CPU jobs run at once on fewer cores (``SlurmdParameters=config_overrides``).
    """
    overrides = "SlurmdParameters=config_overrides\n" if hardware_cpus and cpus > hardware_cpus else ""
    f, user = folder, getpass.getuser()
    host = socket.gethostname().split(".")[0]
    return f"""# Written by `python -m gmmgen.tracking.cluster start`; rewritten at every start.
ClusterName={CLUSTER_NAME}
SlurmctldHost={host}({HOST})
SlurmctldPort={state.slurmctld_port}
SlurmdPort={state.slurmd_port}
SlurmUser={user}
SlurmdUser={user}
AuthType=auth/munge
AuthInfo=socket={f}/munge/munged.sock
CredType=cred/munge
StateSaveLocation={f}/state
SlurmdSpoolDir={f}/spool
SlurmctldPidFile={f}/slurmctld.pid
SlurmdPidFile={f}/slurmd.pid
SlurmctldLogFile={f}/log/slurmctld.log
SlurmdLogFile={f}/log/slurmd.log
# In a container the cgroup plugins make every batch step fail silently.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
MpiDefault=none
SwitchType=switch/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
# Without it a job that names no memory takes all of RealMemory, and jobs run one at a time.
DefMemPerCPU={max(64, memory_mb // max(cpus, 1))}
ReturnToService=2
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=2
# Seconds between SIGTERM and SIGKILL for a cancelled job (scancel, time limit).
KillWait=10
MinJobAge=600
InactiveLimit=0
SlurmctldTimeout=30
SlurmdTimeout=30
MessageTimeout=10
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost={HOST}
AccountingStoragePort={state.slurmdbd_port}
# The munge socket for the link to slurmdbd: without it slurmctld uses the default socket ("no TRES").
AccountingStoragePass={f}/munge/munged.sock
JobCompType=jobcomp/none
MailProg=/bin/true
{overrides}NodeName={NODE} NodeHostname={host} NodeAddr={HOST} CPUs={cpus} RealMemory={memory_mb} State=UNKNOWN
PartitionName={PARTITION} Nodes={NODE} Default=YES MaxTime=INFINITE State=UP
"""


def slurmdbd_conf(folder: Path, state: State, password: str) -> str:
    """The text of ``slurmdbd.conf`` (it holds the database password: written with mode 0600)."""
    f, user = folder, getpass.getuser()
    return f"""# Written by `python -m gmmgen.tracking.cluster start`; rewritten at every start.
AuthType=auth/munge
AuthInfo=socket={f}/munge/munged.sock
DbdHost=localhost
DbdAddr={HOST}
DbdPort={state.slurmdbd_port}
SlurmUser={user}
PidFile={f}/slurmdbd.pid
LogFile={f}/log/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost={HOST}
StoragePort={state.mariadb_port}
StorageUser={DB_USER}
StoragePass={password}
StorageLoc={DB_NAME}
"""


# --------------------------------------------------------------------------- processes


def read_state(folder: Path) -> State | None:
    """The recorded state of the cluster in ``folder``, or None."""
    try:
        return State(**json.loads((folder / "state.json").read_text()))
    except (OSError, ValueError, TypeError):
        return None


def _marked(folder: Path) -> list[int]:
    """Every process whose environment names this cluster (daemons, slurmstepd, job steps)."""
    mark = f"{MARKER_ENV}={folder}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            if mark in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
    return found


def _descendants(roots: set[int]) -> set[int]:
    """Every process below ``roots`` (children, grandchildren...), from /proc."""
    parent = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                parent[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[-1].split()[1])
    found, frontier = set(), set(roots)
    while frontier:
        frontier = {pid for pid, ppid in parent.items() if ppid in frontier} - found
        found |= frontier
    return found


def leftovers(folder: Path) -> list[int]:
    """Processes of the cluster in ``folder`` still alive: its daemons, job steps and everything they started.

    Found by :data:`MARKER_ENV` in their environment, never by a pid file alone
    (a stale pid may belong to another process by now).
    """
    marked = set(_marked(folder.resolve()))
    return sorted(pid for pid in marked | _descendants(marked) if alive(pid))


PIDFILES = {
    "munged": "munge/munged.pid",
    "mariadbd": "mysql/mysqld.pid",
    "slurmdbd": "slurmdbd.pid",
    "slurmctld": "slurmctld.pid",
    "slurmd": "slurmd.pid",
}


def _pidfile(folder: Path, name: str) -> int | None:
    """The pid a daemon wrote to its pid file, or None."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        return int((folder / PIDFILES[name]).read_text().split()[0])
    return None


def _terminate(pids: list[int], grace: float = DOWN_GRACE) -> None:
    """SIGTERM ``pids``, then SIGKILL whatever is still alive after ``grace`` seconds."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            for pid in pids:
                with contextlib.suppress(ChildProcessError, OSError):
                    os.waitpid(pid, os.WNOHANG)
            if not any(alive(pid) for pid in pids):
                return
            time.sleep(0.1)


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
                    f"{name} exited with status {proc.returncode} before {what}: see {log} ({_tail(log)})"
                )
            if ready():
                return
            time.sleep(0.2)
        raise ClusterError(f"{name} did not come up ({what}) within {timeout:.0f} s: see {log} ({_tail(log)})")


def _sql(folder: Path, statement: str) -> None:
    done = subprocess.run(
        [_which("mariadb"), "--no-defaults", f"--socket={folder / 'mysql' / 'mysqld.sock'}", "-u", getpass.getuser()],
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


def _start_daemons(folder: Path, state: State, cpus: int = 0) -> dict[str, int]:
    f = folder
    for sub in ("munge", "mysql", "state", "spool", "log"):
        (f / sub).mkdir(exist_ok=True)
    # munged refuses a socket in a folder others cannot search (pytest's tmp folders are 0700).
    for path in (f, f / "munge"):
        path.chmod(0o755)
    key = f / "munge" / "munge.key"
    if not key.exists():
        key.write_bytes(secrets.token_bytes(1024))
    key.chmod(0o400)
    password_file = f / "mysql.password"
    if not password_file.exists():
        password_file.write_text(secrets.token_urlsafe(24) + "\n")
        password_file.chmod(0o600)
    password = password_file.read_text().strip()
    hardware_cpus, memory_mb = _hardware()
    (f / "slurm.conf").write_text(slurm_conf(f, state, cpus or hardware_cpus, memory_mb, hardware_cpus))
    dbd = f / "slurmdbd.conf"
    dbd.write_text(slurmdbd_conf(f, state, password))
    dbd.chmod(0o600)
    for name in DAEMONS:
        (f / "log" / f"{name}.log").touch()

    starter = _Starter(f)
    try:
        sock = f / "munge" / "munged.sock"
        sock.unlink(missing_ok=True)
        proc = starter.spawn(
            "munged",
            [
                _which("munged"),
                "--foreground",
                "--force",
                f"--key-file={key}",
                f"--socket={sock}",
                f"--pid-file={f / 'munge' / 'munged.pid'}",
                f"--seed-file={f / 'munge' / 'munged.seed'}",
                f"--log-file={f / 'log' / 'munged.log'}",
            ],
        )
        starter.wait_for("munged", proc, sock.exists, "its socket appeared")

        datadir = f / "mysql" / "data"
        if not (datadir / "mysql").is_dir():
            done = subprocess.run(
                [
                    _which("mariadb-install-db"),
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
        msock = f / "mysql" / "mysqld.sock"
        proc = starter.spawn(
            "mariadbd",
            [
                _which("mariadbd"),
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
        starter.wait_for("mariadbd", proc, lambda: msock.exists() and _listening(state.mariadb_port), "listening")
        _sql(
            f,
            f"CREATE DATABASE IF NOT EXISTS {DB_NAME};\n"
            f"CREATE USER IF NOT EXISTS '{DB_USER}'@'{HOST}' IDENTIFIED BY '{password}';\n"
            f"ALTER USER '{DB_USER}'@'{HOST}' IDENTIFIED BY '{password}';\n"
            f"GRANT ALL ON {DB_NAME}.* TO '{DB_USER}'@'{HOST}';\n",
        )

        proc = starter.spawn("slurmdbd", [_which("slurmdbd"), "-D"])
        starter.wait_for("slurmdbd", proc, lambda: _listening(state.slurmdbd_port), "listening")

        state_ok = lambda: client(f, ["scontrol", "ping"], timeout=5).stdout.count("UP") > 0  # noqa: E731
        proc = starter.spawn("slurmctld", [_which("slurmctld"), "-D", "-i"])
        starter.wait_for("slurmctld", proc, lambda: _listening(state.slurmctld_port) and state_ok(), "answering")

        (f / "spool").mkdir(exist_ok=True)  # slurmd exits at once when its spool folder is missing
        proc = starter.spawn("slurmd", [_which("slurmd"), "-D", "-N", NODE])
        starter.wait_for(
            "slurmd", proc, lambda: _node_state(f).rstrip("*") in ("idle", "mixed", "allocated"), "node idle"
        )
    except BaseException:
        _terminate([pid for pid in starter.pids.values() if alive(pid)])
        raise
    return starter.pids


# --------------------------------------------------------------------------- commands


def running(folder: Path) -> State | None:
    """The state of the cluster in ``folder`` when every daemon is alive and the controller answers; else None."""
    folder = folder.resolve()
    state = read_state(folder)
    if state is None or not all(alive(state.pids.get(name, 0)) for name in DAEMONS):
        return None
    try:
        ok = client(folder, ["scontrol", "ping"], timeout=5).stdout.count("UP") > 0
    except ClusterError:
        return None
    return state if ok else None


def start(folder: Path, port: int = 0, cpus: int = 0) -> tuple[State, bool]:
    """Start the cluster of ``folder``; return (state, started now).

    A cluster already running for ``folder`` is left alone. ``port`` fixes
    slurmctld's port (the next three go to slurmd, slurmdbd and MariaDB);
    0 picks four free ones. ``cpus`` is what the node offers (0: its cores,
    as ``slurmd -C`` counts them; more lets more one-CPU jobs run at once on
    a small machine, sharing its cores). The daemons of a half-started cluster
    are stopped first.

    Raises:
        ClusterError: a program is missing, a port is taken, the folder's path
            is too long for a Unix socket, or a daemon did not come up (which,
            and where its log is).
    """
    folder.mkdir(parents=True, exist_ok=True)
    folder = folder.resolve()
    state = running(folder)
    if state is not None:
        return state, False
    missing = missing_programs()
    if missing:
        raise ClusterError(
            f"SLURM is not installed here (missing: {', '.join(missing)}): `make slurm` installs it "
            f"(as root: apt-get install {' '.join(PACKAGES)})"
        )
    longest = folder / "mysql" / "mysqld.sock"
    if len(str(longest).encode()) >= SOCKET_MAX:
        raise ClusterError(f"{folder} is too long a path for the daemons' Unix sockets: use a shorter CLUSTER_DIR")
    stop(folder)  # a half-started or crashed cluster: nothing of it may stay
    ports = [port, port + 1, port + 2, port + 3] if port else []
    for name, p in zip(("slurmctld", "slurmd", "slurmdbd", "MariaDB"), ports, strict=False):
        if not port_free(p):
            raise ClusterError(
                f"port {p} on {HOST} ({name}) is already in use: choose another (make cluster CLUSTER_PORT=...)"
            )
    while not ports:
        picked = [free_port() for _ in range(4)]
        if len(set(picked)) == 4:
            ports = picked
    state = State(*ports, pids={}, slurm_conf=str(folder / "slurm.conf"))
    state.pids = _start_daemons(folder, state, cpus)
    (folder / "state.json").write_text(json.dumps(asdict(state), indent=2) + "\n")
    return state, True


def stop(folder: Path, grace: float = DOWN_GRACE) -> bool:
    """Stop the cluster of ``folder``: cancel its jobs, stop its daemons, kill what is left; True if anything ran.

    Never blocks on a dead controller (every client call has a timeout). Its
    configuration, accounting database and logs stay in ``folder``.
    """
    folder = folder.resolve()
    state = read_state(folder)
    pids = leftovers(folder)
    if not pids:
        (folder / "state.json").unlink(missing_ok=True)
        return False
    if state is not None and alive(state.pids.get("slurmctld", 0)):
        with contextlib.suppress(ClusterError):  # jobs end before the daemons that account for them
            client(folder, ["scancel", "--partition", PARTITION], timeout=5)
            deadline = time.monotonic() + grace
            while time.monotonic() < deadline:
                queue = client(folder, ["squeue", "-h", "-o", "%A"], timeout=5)
                if queue.returncode != 0 or not queue.stdout.strip():
                    break
                time.sleep(0.3)
    ours = set(pids)
    for name in reversed(DAEMONS):  # each daemon after the ones that depend on it
        pid = (state.pids.get(name) if state else None) or _pidfile(folder, name)
        if pid in ours and alive(pid):
            _terminate([pid], grace)
    rest = leftovers(folder)
    if rest:  # job steps, their children, anything that outlived its daemon
        _terminate(rest, grace=2.0)
    (folder / "state.json").unlink(missing_ok=True)
    for name in ("munge/munged.sock", "mysql/mysqld.sock"):
        (folder / name).unlink(missing_ok=True)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gmmgen.tracking.cluster", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("start", "stop", "status"))
    parser.add_argument("--dir", type=Path, default=Path("outputs/cluster"), help="cluster folder (all its state)")
    parser.add_argument("--port", type=int, default=0, help="slurmctld's port, the next three for the others (0: free)")
    parser.add_argument("--cpus", type=int, default=0, help="CPUs the node offers (0: this machine's cores)")
    args = parser.parse_args(argv)
    try:
        if args.command == "start":
            t0 = time.perf_counter()
            state, new = start(args.dir, args.port, args.cpus)
            took = f" in {time.perf_counter() - t0:.1f} s" if new else ""
            verb = "started" if new else "already running"
            print(
                f"SLURM cluster {verb}{took}: node {NODE} in partition {PARTITION}, slurmctld on {HOST}:"
                f"{state.slurmctld_port}, accounting by slurmdbd (state in {args.dir})"
            )
            print(
                f"Use it: export SLURM_CONF={state.slurm_conf}; make sweep LAUNCHER=slurm "
                'ARGS="hydra.launcher.cpus_per_task=1 hydra.launcher.mem_gb=1"   Stop it: make cluster-stop'
            )
        elif args.command == "stop":
            print("SLURM cluster stopped." if stop(args.dir) else "SLURM cluster was not running.")
        else:
            state = running(args.dir)
            print(f"running: SLURM_CONF={state.slurm_conf}" if state else "not running")
            return 0 if state else 3
    except ClusterError as exc:
        print(f"gmmgen: {exc.kind}: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
