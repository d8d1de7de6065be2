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

Its parts: :mod:`.common` (names, the recorded state, SLURM clients),
:mod:`.conf` (the configuration files), :mod:`.pids` (finding a cluster's
processes), :mod:`.daemons` (starting the five daemons), :mod:`.commands`
(start, stop, status); the shared process and port helpers are in
:mod:`gmmgen.tracking.procs`.
"""

from gmmgen.tracking.cluster.commands import main, running, start, stop
from gmmgen.tracking.cluster.common import (
    CLIENT_TIMEOUT,
    DAEMONS,
    MARKER_ENV,
    NODE,
    PACKAGES,
    PARTITION,
    PROGRAMS,
    State,
    client,
    env,
    job_states,
    missing_programs,
    read_state,
)
from gmmgen.tracking.cluster.conf import slurm_conf, slurmdbd_conf
from gmmgen.tracking.cluster.pids import leftovers
from gmmgen.tracking.procs import alive, free_port, port_free

__all__ = [
    "CLIENT_TIMEOUT",
    "DAEMONS",
    "MARKER_ENV",
    "NODE",
    "PACKAGES",
    "PARTITION",
    "PROGRAMS",
    "State",
    "alive",
    "client",
    "env",
    "free_port",
    "job_states",
    "leftovers",
    "main",
    "missing_programs",
    "port_free",
    "read_state",
    "running",
    "slurm_conf",
    "slurmdbd_conf",
    "start",
    "stop",
]
