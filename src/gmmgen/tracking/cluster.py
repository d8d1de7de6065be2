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

Here: the commands (start, stop, status). Its parts:
:mod:`gmmgen.tracking.cluster_common` (names, the recorded state, SLURM
clients), :mod:`~gmmgen.tracking.cluster_conf` (the configuration files),
:mod:`~gmmgen.tracking.cluster_pids` (finding a cluster's processes),
:mod:`~gmmgen.tracking.cluster_daemons` (starting the five daemons); the
process and port helpers it shares with the tracking server are in
:mod:`gmmgen.tracking.procs`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

from gmmgen.errors import ClusterError
from gmmgen.tracking.cluster_common import (  # client, env, job_states, read_state: re-exported (__all__)
    DAEMONS,
    DOWN_GRACE,
    NODE,
    PACKAGES,
    PARTITION,
    SOCKET_MAX,
    State,
    client,
    env,
    job_states,
    missing_programs,
    read_state,
)
from gmmgen.tracking.cluster_daemons import start_daemons
from gmmgen.tracking.cluster_pids import leftovers, pidfile
from gmmgen.tracking.procs import HOST, alive, free_port, port_free, terminate

__all__ = [
    "client",
    "env",
    "job_states",
    "leftovers",
    "main",
    "missing_programs",
    "read_state",
    "running",
    "start",
    "stop",
]


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


def _ports(port: int) -> list[int]:
    """slurmctld's, slurmd's, slurmdbd's and MariaDB's ports: from ``port`` on, or four free ones for 0."""
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
    return ports


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
    state = State(*_ports(port), pids={}, slurm_conf=str(folder / "slurm.conf"))
    state.pids = start_daemons(folder, state, cpus)
    (folder / "state.json").write_text(json.dumps(asdict(state), indent=2) + "\n")
    return state, True


def _cancel_jobs(folder: Path, grace: float) -> None:
    """Cancel the partition's jobs and wait up to ``grace`` s for the queue to empty (a dead controller: skip)."""
    with contextlib.suppress(ClusterError):  # jobs end before the daemons that account for them
        client(folder, ["scancel", "--partition", PARTITION], timeout=5)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            queue = client(folder, ["squeue", "-h", "-o", "%A"], timeout=5)
            if queue.returncode != 0 or not queue.stdout.strip():
                break
            time.sleep(0.3)


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
        _cancel_jobs(folder, grace)
    ours = set(pids)
    for name in reversed(DAEMONS):  # each daemon after the ones that depend on it
        pid = (state.pids.get(name) if state else None) or pidfile(folder, name)
        if pid in ours and alive(pid):
            terminate([pid], grace)
    rest = leftovers(folder)
    if rest:  # job steps, their children, anything that outlived its daemon
        terminate(rest, grace=2.0)
    (folder / "state.json").unlink(missing_ok=True)
    for name in ("munge/munged.sock", "mysql/mysqld.sock"):
        (folder / name).unlink(missing_ok=True)
    return True


def _print_started(state: State, new: bool, took: str, folder: Path) -> None:
    verb = "started" if new else "already running"
    print(
        f"SLURM cluster {verb}{took}: node {NODE} in partition {PARTITION}, slurmctld on {HOST}:"
        f"{state.slurmctld_port}, accounting by slurmdbd (state in {folder})"
    )
    print(
        f"Use it: export SLURM_CONF={state.slurm_conf}; make sweep LAUNCHER=slurm "
        'ARGS="hydra.launcher.cpus_per_task=1 hydra.launcher.mem_gb=1"   Stop it: make cluster-stop'
    )


def main(argv: list[str] | None = None) -> int:
    """``start|stop|status [--dir --port --cpus]``: 0 when done (status: 3 when not running), else the error's."""
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
            _print_started(state, new, f" in {time.perf_counter() - t0:.1f} s" if new else "", args.dir)
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
