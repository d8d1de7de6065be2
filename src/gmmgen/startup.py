"""Ctrl-C or SIGTERM while an entry point is still importing its libraries: one line, the usual status.

Importing ``gmmgen.startup`` first thing in an entry point installs handlers
that print ``gmmgen: interrupted (Ctrl-C) while starting ...`` (or
``terminated (SIGTERM)``) and exit 130 (or 143) at once: nothing has been
written yet, so there is nothing to clean up. :func:`gmmgen.cli.main` replaces
them with its own as soon as it starts (from then on a signal ends open runs
and removes partial folders). Standard library only, so it is quick to import.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

#: Where a failing entry point leaves its status for ``make run`` (see :mod:`gmmgen.runlock`).
STATUS_FILE_ENV = "GMMGEN_STATUS_FILE"
STATUS = {signal.SIGINT: 130, signal.SIGTERM: 143}


def _while_starting(signum: int, frame: Any) -> None:
    what = "interrupted (Ctrl-C)" if signum == signal.SIGINT else "terminated (SIGTERM)"
    print(f"gmmgen: {what} while starting: nothing was written", file=sys.stderr, flush=True)
    status_file = os.environ.get(STATUS_FILE_ENV)
    if status_file:
        try:
            with open(status_file, "w") as fh:
                fh.write(f"{STATUS[signum]}\n")
        except OSError:
            pass
    os._exit(STATUS[signum])


def guard() -> None:
    """Install the start-up handlers (main thread only, as Python allows)."""
    for signum in STATUS:
        signal.signal(signum, _while_starting)


guard()
