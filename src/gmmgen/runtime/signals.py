"""Ctrl-C, SIGTERM and SIGHUP at every moment of an entry point: one line, one status, never a traceback.

=============  ==========================================  ======================================
moment         handler                                     what the user gets
=============  ==========================================  ======================================
start-up       :mod:`gmmgen.runtime.startup`               ``... while starting``; 130/143/129
work           :func:`stage_handlers`: the signal raises    the stage's cleanup runs (partial
               KeyboardInterrupt, Terminated or HungUp      folders go, MLflow runs end KILLED);
                                                            one line; 130/143/129
work done      :func:`outputs_complete`                     ``... after the work was done``;
(teardown)                                                  exit 0: the outputs are complete, so
                                                            DVC keeps the stage as done; under
                                                            ``make run`` nothing after it starts
=============  ==========================================  ======================================

A signal the process inherited as ignored (``nohup`` ignores SIGHUP, a
background job SIGINT) stays ignored. Handlers are installed in the main
thread only, as Python allows.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from typing import Any, NoReturn

from gmmgen.errors import SIGNAL_STATUS, SIGNAL_WHAT, HungUp, Terminated, record_late_signal, record_status

STATUS = {signal.Signals(k): v for k, v in SIGNAL_STATUS.items()}
WHAT = {signal.Signals(k): v for k, v in SIGNAL_WHAT.items()}

__all__ = ["STATUS", "WHAT", "after_the_work", "finish", "outputs_complete", "stage_handlers"]


def _raise_terminated(signum: int, frame: Any) -> None:
    if signum == signal.SIGHUP:
        raise HungUp(f"signal {signum}")
    raise Terminated(f"signal {signum}")


def _install(handlers: dict[int, Any]) -> None:
    if threading.current_thread() is not threading.main_thread():
        return
    for signum, handler in handlers.items():
        if signal.getsignal(signum) is not signal.SIG_IGN:
            signal.signal(signum, handler)


def stage_handlers() -> None:
    """While the work runs: Ctrl-C raises KeyboardInterrupt (Python's own), SIGTERM Terminated, SIGHUP HungUp."""
    _install(
        {signal.SIGINT: signal.default_int_handler, signal.SIGTERM: _raise_terminated, signal.SIGHUP: _raise_terminated}
    )


def _after_done(signum: int, frame: Any) -> None:
    """A signal once the outputs are complete: say so and end the process at once with status 0."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    try:
        print(f"gmmgen: {WHAT[signum]} after the work was done: its outputs are complete", file=sys.stderr, flush=True)
    except (OSError, ValueError):
        pass
    record_status(0)
    record_late_signal(signum)  # under `make run`: the commands after this one do not start
    os._exit(0)


def after_the_work(exc: BaseException) -> NoReturn:
    """A signal that landed in a stage's last lines, its files all written: as :func:`outputs_complete` would."""
    signum = signal.SIGINT
    if isinstance(exc, Terminated):
        signum = signal.SIGHUP if isinstance(exc, HungUp) else signal.SIGTERM
    _after_done(signum, None)
    raise AssertionError("unreachable")  # _after_done ends the process


def finish() -> NoReturn:
    """End a process whose work is done, status 0: its exit handlers run, the interpreter's teardown does not.

    Python stops handling signals before it tears its modules down (a second
    or more with TensorFlow and MLflow loaded), so a Ctrl-C then would kill the
    process by the signal (DVC: "exited with -2", a finished stage marked
    failed). The exit handlers (``atexit``: log files, worker pools) run while
    :func:`outputs_complete`'s handlers still answer a signal.
    """
    import atexit
    import logging

    atexit._run_exitfuncs()
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(0)


def outputs_complete() -> None:
    """From now on (the interpreter's teardown included) a signal ends the process with one line and status 0."""
    _install({signum: _after_done for signum in STATUS})
