"""The cluster's configuration files: ``slurm.conf``, ``slurmdbd.conf``, the munge key, the database password."""

from __future__ import annotations

import getpass
import secrets
import socket
import subprocess
from pathlib import Path

from gmmgen.errors import ClusterError
from gmmgen.tracking.cluster_common import (
    CLIENT_TIMEOUT,
    CLUSTER_NAME,
    DAEMONS,
    DB_NAME,
    DB_USER,
    NODE,
    PARTITION,
    State,
    which,
)
from gmmgen.tracking.procs import HOST


def hardware() -> tuple[int, int]:
    """(CPUs, RealMemory in MiB) as ``slurmd -C`` reports them: the node may not claim more."""
    try:
        out = subprocess.run([which("slurmd"), "-C"], capture_output=True, text=True, timeout=CLIENT_TIMEOUT).stdout
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


def write_files(folder: Path, state: State, cpus: int = 0) -> str:
    """Make the cluster's folders and write its key, password and configuration; return the database password.

    The munge key and the password are made once and kept; both configuration
    files are rewritten at every start (``cpus`` 0: what ``slurmd -C`` reports).
    """
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
    hardware_cpus, memory_mb = hardware()
    (f / "slurm.conf").write_text(slurm_conf(f, state, cpus or hardware_cpus, memory_mb, hardware_cpus))
    dbd = f / "slurmdbd.conf"
    dbd.write_text(slurmdbd_conf(f, state, password))
    dbd.chmod(0o600)
    for name in DAEMONS:
        (f / "log" / f"{name}.log").touch()
    return password
