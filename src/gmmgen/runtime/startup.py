"""Ctrl-C, SIGTERM or SIGHUP while an entry point is still importing its libraries: one line, the usual status.

Importing ``gmmgen.runtime.startup`` first thing in an entry point (and nowhere else:
importing it is what installs them) installs handlers
that print ``gmmgen: interrupted (Ctrl-C) while starting ...`` (or
``terminated (SIGTERM)``, ``hung up (SIGHUP)``) and exit 130 (or 143, 129) at once: nothing has been
written yet, so there is nothing to clean up. :func:`gmmgen.runtime.cli.main` replaces
them with its own as soon as it starts (from then on a signal ends open runs
and removes partial folders). Standard library only, so it is quick to import.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

from gmmgen.errors import SIGNAL_STATUS, SIGNAL_WHAT, record_status

STATUS = {signal.Signals(k): v for k, v in SIGNAL_STATUS.items()}
WHAT = {signal.Signals(k): v for k, v in SIGNAL_WHAT.items()}


def _while_starting(signum: int, frame: Any) -> None:
    print(f"gmmgen: {WHAT[signum]} while starting: nothing was written", file=sys.stderr, flush=True)
    record_status(STATUS[signum])
    os._exit(STATUS[signum])


def guard() -> None:
    """Install the start-up handlers: in the main thread only (as Python allows), never over an ignored signal."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        return
    for signum in STATUS:
        if signal.getsignal(signum) is not signal.SIG_IGN:  # nohup and `&` ignore SIGHUP / SIGINT: keep it so
            signal.signal(signum, _while_starting)


guard()
