"""What every ``pipelines/`` entry point shares: validation, one exit status per kind of error, signals, the lock.

An entry point is ``cli.main(app)`` around a ``@hydra.main`` function whose
body is ``cli.run(cfg, fn)``. Every failure the pipeline knows prints one line,
``gmmgen: <kind>: <what is wrong and what to do>``, with credentials masked,
and exits with the status of its kind, the same from every entry point:

====  ==========================================================================
0     success
1     an unexpected error (a bug): Python's traceback
2     config error: a bad value, combination, override or credential in the
      config, or a compute setting this machine cannot provide (a namespace
      that is not installed, cuda without a GPU); found before any work,
      nothing written
3     data error: no origin gave the digits, or they failed verification
4     model error: every fit of the sweep failed
5     upstream error: a file an earlier stage wrote is missing or unreadable
6     tracking error: the MLflow store cannot be reached or used
7     busy: another run holds this checkout (see :mod:`gmmgen.runtime.runlock`)
8     gate failed: ``make gate`` found a headline number regressed past its
      tolerance, or other digits than the reference's (:mod:`gmmgen.tracking.gate`)
130   interrupted by Ctrl-C (SIGINT); 143: terminated by SIGTERM; 129: hung up (SIGHUP).
      A signal after the work is done (the outputs complete, the interpreter
      shutting down) prints one line and exits 0 (:mod:`gmmgen.runtime.signals`)
====  ==========================================================================

Inside a Hydra multirun a job's error is raised instead, so Hydra reports the
failing job and the other jobs still run; the multirun then exits with the
status of the first failed job.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

from gmmgen.core.compute import Compute
from gmmgen.errors import (
    SIGNAL_STATUS,
    SIGNAL_WHAT,
    STATUS_FILE_ENV,
    ConfigError,
    GmmgenError,
    JobTerminated,
    late_signal,
    slurm_job,
)
from gmmgen.pipeline.config import Config, root_of
from gmmgen.runtime import console, signals
from gmmgen.runtime.exits import (  # noqa: F401  re-exported: entry points and tests name them as cli.EXIT_*
    EXIT_BUG,
    EXIT_BUSY,
    EXIT_CONFIG,
    EXIT_DATA,
    EXIT_HUNG_UP,
    EXIT_INTERRUPTED,
    EXIT_MODEL,
    EXIT_TERMINATED,
    EXIT_TRACKING,
    EXIT_UPSTREAM,
    Terminated,
    exit_status,
    fail,
)
from gmmgen.runtime.validation import validate

log = logging.getLogger("gmmgen")
T = TypeVar("T")

__all__ = ["STATUS_FILE_ENV", "exit_status", "fail", "main", "run"]

console.quiet_libraries()  # before any entry point imports TensorFlow or MLflow


def install_signal_handlers() -> None:
    """SIGTERM (SIGHUP) raises :class:`Terminated` (:class:`HungUp`), so cleanup code runs as for Ctrl-C.

    Ctrl-C raises KeyboardInterrupt again (Python's own handler), in place of
    the start-up handlers of :mod:`gmmgen.runtime.startup`; an ignored signal
    (nohup, `&`) stays ignored (:mod:`gmmgen.runtime.signals`).
    """
    signals.stage_handlers()


def _describe(exc: BaseException, status: int) -> str:
    if status == EXIT_INTERRUPTED:
        return "interrupted (Ctrl-C): no partial stage folder was kept; open MLflow runs ended KILLED"
    if status == EXIT_HUNG_UP:
        return "hung up (SIGHUP): no partial stage folder was kept; open MLflow runs ended KILLED"
    if isinstance(exc, Terminated):
        return "terminated (SIGTERM): no partial stage folder was kept; open MLflow runs ended KILLED"
    text = str(exc)
    cause = exc.__cause__
    if status == EXIT_CONFIG and not isinstance(exc, ConfigError) and isinstance(cause, Exception):
        text = f"{text.strip().splitlines()[0] if text.strip() else ''} {str(cause).strip().splitlines()[0]}"
    text = " ".join(text.split())
    kind = exc.kind if isinstance(exc, GmmgenError) else "config error" if status == EXIT_CONFIG else "error"
    return f"{kind}: {text}"


def _in_multirun() -> bool:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def _own_process_job() -> bool:
    """True in a multirun job that submitit runs as a process of its own (SLURM, or submitit_local)."""
    return "SUBMITIT_FOLDER" in os.environ


def _job_terminated() -> JobTerminated:
    """The error of a multirun job that was sent SIGTERM: which job, and (under SLURM) who sends it."""
    from hydra.core.hydra_config import HydraConfig

    slurm = slurm_job()
    where = f" (SLURM job {slurm})" if slurm else ""
    why = "scancel, its time limit or preemption" if slurm else "it was stopped"
    return JobTerminated(f"job {HydraConfig.get().job.num}{where} was terminated by SIGTERM ({why})")


_under_main = False  # True while main() runs its app: run() then leaves errors to main()


class JobFailed(BaseException):
    """Carries a single run's error past Hydra's job runner (which only catches Exception) to :func:`main`.

    Hydra would otherwise print its own "Error executing job" line before ours.
    """

    def __init__(self, error: BaseException) -> None:
        super().__init__(error)
        self.error = error


def run(cfg: Any, fn: Callable[[Any], T], banner: bool = True, typed: bool = True) -> T:
    """Validate ``cfg`` (and that this machine provides its compute setting) then return ``fn(settle(cfg))``.

    ``fn`` gets the typed configuration: the schema's dataclasses with every
    seed resolved, never the Hydra object. The rules and the settle are those
    of the root ``cfg`` was composed over (:func:`gmmgen.pipeline.config.root_of`:
    the pipeline's :func:`~gmmgen.pipeline.config.settle`, or the tutorial's).
    Only an entry point that writes the composed document itself
    (``configure.py``: params.yaml keeps null seeds) asks for ``typed=False``.

    Errors go up to :func:`main` (or to Hydra, in a multirun job). With
    ``banner``, a line names the stage (``fn``'s name without ``run_``) and
    what it does (its docstring's first line) before it starts.
    """
    install_signal_handlers()
    console.quiet_libraries()  # again: Hydra's logging setup reset the loggers' levels
    started, settled = time.time(), None
    try:
        validate(cfg)
        settled = root_of(cfg).settle(cfg)  # the one typed config: dataclasses, seeds resolved
        if isinstance(settled, Config):  # the pipeline's: the namespace imports, the GPU is there
            Compute.from_config(settled).check()
        if banner:
            console.banner(fn.__name__.removeprefix("run_"), console.describe(fn))
        result = fn(settled if typed else cfg)
        if _under_main and not _in_multirun():  # an entry point's work is done: a late signal does not undo it
            signals.outputs_complete()
        return result
    except SystemExit:
        raise
    except BaseException as exc:
        if _in_multirun():
            if isinstance(exc, Terminated) and _own_process_job():
                raise _job_terminated() from exc
            raise
        if not _under_main:  # called on its own (a script, a test): exit here as main() would
            _exit_for(exc)
        if isinstance(exc, KeyboardInterrupt):
            if isinstance(settled, Config) and _stage_outputs_written(fn, settled, started):
                signals.after_the_work(exc)  # in the stage's last lines, its files all written: exit 0
            raise
        raise JobFailed(exc) from exc


def _stage_outputs_written(fn: Callable[[Any], Any], cfg: Config, since: float) -> bool:
    """True when every file of ``fn``'s stage (the file map: outs and untracked) was written since ``since``.

    DVC removes a stage's outs before running it, and a stage writes its
    folder under another name and renames it when complete: all of them
    written by this process means its work is done.
    """
    from gmmgen.pipeline import files as F

    stage = F.BY_NAME.get(fn.__name__.removeprefix("run_"))
    if stage is None:
        return False
    folder = stage.folder(cfg.paths.run_dir)
    paths = [folder / name for name in (*stage.outs(), *stage.untracked())]
    return all(p.exists() and p.stat().st_mtime >= since - 1 for p in paths)


def _exit_for(error: BaseException) -> NoReturn:
    """Exit with ``error``'s status after one line, or re-raise ``error`` if it is a bug."""
    status = exit_status(error)
    if status is None:
        raise error
    fail(_describe(error, status), status)


def stop_after_late_signal() -> None:
    """Under ``make run``, exit with one line if an earlier stage noted a signal after its work (nothing starts).

    That stage exited 0 so DVC keeps it; DVC, which ignores Ctrl-C while a
    stage runs, would start the next one: this one stops at once instead.
    """
    signum = late_signal()
    if signum in SIGNAL_STATUS:
        fail(f"{SIGNAL_WHAT[signum]} after the previous stage finished: this one did not start", SIGNAL_STATUS[signum])


_INFO_FLAGS = ("--cfg", "-c", "--help", "-h", "--hydra-help", "--info", "-i", "--shell-completion", "-sc")


def _argv_root(argv: list[str]) -> str:
    """``paths.root`` as given on the command line (the last one wins), or the current folder."""
    root = os.getcwd()
    for arg in argv:
        key, eq, value = arg.lstrip("+~").partition("=")
        if eq and key == "paths.root":
            root = value
    return root


def main(app: Callable[[], Any], lock: bool = True, check_argv: Callable[[list[str]], None] | None = None) -> None:
    """Run the ``@hydra.main`` function ``app`` as a command: one line and one status per kind of error.

    Unless it is a multirun or only prints information (``--cfg``, ``--help``),
    it first takes the checkout's run lock (:mod:`gmmgen.runtime.runlock`), so a
    second run fails at once, before Hydra writes anything; a process started
    by the lock's holder (``make run``'s configure step and DVC's stages)
    shares its hold. ``check_argv(argv)`` may refuse overrides (ConfigError)
    before anything happens.
    """
    import contextlib

    from gmmgen.runtime import runlock

    global _under_main
    # Hydra's own reporter prints a traceback and exits 1 whatever the error;
    # with this set it hands the exception to us instead.
    os.environ["HYDRA_FULL_ERROR"] = "1"
    install_signal_handlers()
    argv = sys.argv[1:]
    multirun = "-m" in argv or "--multirun" in argv
    locking = lock and not multirun and not any(a in _INFO_FLAGS for a in argv)
    try:
        stop_after_late_signal()
        if check_argv is not None:
            check_argv(argv)
        with runlock.hold(_argv_root(argv)) if locking else contextlib.nullcontext():
            _under_main = True
            app()
    except SystemExit:
        raise
    except BaseException as exc:
        error = exc.error if isinstance(exc, JobFailed) else exc
        status = exit_status(error)
        if status is None:
            raise error from None
        fail(_describe(error, status), status)
    finally:
        _under_main = False
    if not multirun:  # the work is done: no interpreter teardown for a late signal to land in
        signals.finish()
