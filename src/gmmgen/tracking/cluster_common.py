"""The cluster's names and limits, its recorded state, and its SLURM clients (each call bounded in time)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from gmmgen.errors import ClusterError

NODE = "gmmgen"
PARTITION = "debug"
CLUSTER_NAME = "gmmgen"
DB_NAME = "slurm_acct_db"
DB_USER = "slurm"
#: Set in the environment of every daemon (and so of slurmstepd and the job steps it starts):
#: how :func:`gmmgen.tracking.cluster.stop` finds every process of a cluster, whoever its parent is.
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


def read_state(folder: Path) -> State | None:
    """The recorded state of the cluster in ``folder``, or None."""
    try:
        return State(**json.loads((folder / "state.json").read_text()))
    except (OSError, ValueError, TypeError):
        return None


def _search_path() -> str:
    return os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin", "/usr/local/sbin"])


def missing_programs() -> list[str]:
    """The programs of :data:`PROGRAMS` that are not installed (sbin folders included)."""
    path = _search_path()
    return [p for p in PROGRAMS if shutil.which(p, path=path) is None]


def which(program: str) -> str:
    """The path of ``program`` (sbin folders included).

    Raises:
        ClusterError: it is not installed.
    """
    found = shutil.which(program, path=_search_path())
    if found is None:
        raise ClusterError(f"{program} is not installed: `make slurm` installs SLURM ({' '.join(PACKAGES)})")
    return found


def tail(path: Path, n: int = 2) -> str:
    """The last ``n`` non-blank lines of a log, joined by `` | `` ("" when unreadable)."""
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
    cmd = [which(args[0]), *args[1:]]
    try:
        return subprocess.run(cmd, env=env(folder), capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise ClusterError(f"{args[0]} did not answer within {timeout:.0f} s (is the controller up?)") from None


def job_states(folder: Path | None, job_ids: list[str], timeout: float = CLIENT_TIMEOUT) -> dict[str, str]:
    """SLURM's accounting record of ``job_ids`` (``123`` or array tasks ``123_4``): id -> state.

    A state reads as ``sacct`` prints it (``COMPLETED``, ``FAILED``,
    ``CANCELLED by 0``, ``TIMEOUT``...). ``folder`` names a cluster of
    :mod:`gmmgen.tracking.cluster`; None uses the SLURM configuration of the environment. Jobs sacct
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
