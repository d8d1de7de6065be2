"""Every kind of error the pipeline knows, under one base class.

Each kind carries its exit status: an entry point turns any
:class:`GmmgenError` into one line, ``gmmgen: <kind>: <message>``, and exits
with :attr:`GmmgenError.exit_code` (see :mod:`gmmgen.runtime.cli`), so a user, a
script or ``make`` can tell "fix the config" from "rebuild a file" from
"wait". Library modules raise these and import nothing above this module.

====  =====================  ==================================================
code  class                  meaning
====  =====================  ==================================================
2     :class:`ConfigError`   a bad value, combination or credential in the
                             config (:class:`ComputeError`: a namespace or
                             device this machine cannot provide)
3     :class:`DataError`     no origin gave the digits, or they failed checks
4     :class:`SweepError`    every fit of the sweep failed
5     :class:`UpstreamError` a file an earlier stage wrote is missing or bad
6     :class:`TrackingError` the MLflow store cannot be reached or used
7     :class:`CheckoutBusy`  another run holds this checkout
8     :class:`GateFailed`    ``make gate``: a headline number regressed past its
                             tolerance, or the digits differ from the reference's
1     :class:`ServerError`   the tracking server cannot be started or stopped
143   :class:`JobTerminated` a multirun job was sent SIGTERM (under SLURM:
                             scancel, its time limit or preemption)
1     :class:`ClusterError`  the one-node SLURM cluster cannot be started or
                             stopped (``make cluster``)
====  =====================  ==================================================
"""

from __future__ import annotations

from typing import ClassVar

#: Where a failing entry point leaves its exit status, so ``make run`` can report a stage's status
#: through DVC, which exits 1 for any failure (set by :mod:`gmmgen.runtime.runlock`).
STATUS_FILE_ENV = "GMMGEN_STATUS_FILE"


def record_status(code: int) -> None:
    """Leave ``code`` in the status file named by :data:`STATUS_FILE_ENV`, if any (best effort)."""
    import os

    status_file = os.environ.get(STATUS_FILE_ENV)
    if status_file:
        try:
            with open(status_file, "w") as fh:
                fh.write(f"{code}\n")
        except OSError:
            pass


#: The signals every entry point handles: the exit status each ends with, and how its one line names it.
SIGNAL_STATUS = {2: 130, 15: 143, 1: 129}  # SIGINT, SIGTERM, SIGHUP (their numbers on Linux and macOS)
SIGNAL_WHAT = {2: "interrupted (Ctrl-C)", 15: "terminated (SIGTERM)", 1: "hung up (SIGHUP)"}


def _late_file(status_file: str | None) -> str | None:
    import os

    status_file = status_file or os.environ.get(STATUS_FILE_ENV)
    return f"{status_file}.signal" if status_file else None


def record_late_signal(signum: int) -> None:
    """Note beside the status file that ``signum`` came once this process's work was done (best effort).

    The process still exits 0 (its outputs are complete); the commands after it
    in the same ``make run`` then do not start (:mod:`gmmgen.runtime.runlock`,
    :func:`gmmgen.runtime.cli.main`).
    """
    path = _late_file(None)
    if path:
        try:
            with open(path, "w") as fh:
                fh.write(f"{signum}\n")
        except OSError:
            pass


def late_signal(status_file: str | None = None) -> int | None:
    """The signal an earlier command of this ``make run`` noted after its work (:func:`record_late_signal`), if any."""
    path = _late_file(status_file)
    try:
        with open(path or "", encoding="utf-8") as fh:
            return int(fh.read().strip() or 0) or None
    except (OSError, ValueError):
        return None


class GmmgenError(Exception):
    """Base of the pipeline's own errors; ``exit_code`` and ``kind`` say how an entry point reports it."""

    exit_code: ClassVar[int] = 1
    kind: ClassVar[str] = "error"


class ConfigError(GmmgenError, ValueError):
    """A configuration value is out of its allowed range or set."""

    exit_code = 2
    kind = "config error"


class ComputeError(ConfigError):
    """The compute setting names a namespace or device this machine cannot provide."""


class DataError(GmmgenError, RuntimeError):
    """The data could not be obtained or is not what it claims to be."""

    exit_code = 3


class SweepError(GmmgenError, RuntimeError):
    """No fit in the sweep produced a usable model."""

    exit_code = 4


class UpstreamError(GmmgenError, RuntimeError):
    """A file an earlier stage wrote is missing or cannot be loaded."""

    exit_code = 5


class TrackingError(GmmgenError, RuntimeError):
    """The tracking store cannot be reached or written."""

    exit_code = 6


class CheckoutBusy(GmmgenError, RuntimeError):
    """Another run holds this checkout (its params.yaml and stage folders)."""

    exit_code = 7
    kind = "busy"


class GateFailed(GmmgenError, RuntimeError):
    """``make gate``: a headline number regressed past its tolerance (the message names each one)."""

    exit_code = 8
    kind = "gate failed"


class ServerError(GmmgenError, RuntimeError):
    """The tracking server cannot be started or stopped; the message says why (``make server`` exits 1)."""

    kind = "server error"


class ClusterError(GmmgenError, RuntimeError):
    """The one-node SLURM cluster cannot be started, used or stopped; the message says why (exit 1)."""

    kind = "cluster error"


def slurm_job() -> str | None:
    """The SLURM job this process runs in (``123``, or ``123_4`` for task 4 of array job 123), else None.

    For the messages of a job stopped by SIGTERM, which under SLURM comes from
    scancel, the job's time limit or preemption.
    """
    import os

    array, task = os.environ.get("SLURM_ARRAY_JOB_ID"), os.environ.get("SLURM_ARRAY_TASK_ID")
    if array and task:
        return f"{array}_{task}"
    return os.environ.get("SLURM_JOB_ID") or None


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised by the entry points' handler (:mod:`gmmgen.cli`) and handled like Ctrl-C.

    So cleanup code runs, runs end KILLED and temporary files go.
    """


class HungUp(Terminated):
    """SIGHUP (the terminal closed), raised by the entry points' handler and handled like SIGTERM (exit 129)."""


class JobTerminated(GmmgenError, RuntimeError):
    """A multirun job that was sent SIGTERM, as an ordinary error of that job (exit status 143).

    A job running as a process of its own (submitit, SLURM) raises it in
    place of :class:`Terminated`, so the launcher gets the job's outcome back
    like any failure's and reports which job stopped and why, instead of
    waiting for a result that never comes.
    """

    exit_code = 143
    kind = "terminated"
