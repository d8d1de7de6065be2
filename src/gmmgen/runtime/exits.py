"""The exit statuses every entry point shares, and the one-line exit (:func:`fail`).

The statuses of the error kinds are the classes' own (:mod:`gmmgen.errors`);
they are named here for scripts and tests. Imported by :mod:`gmmgen.runtime.cli`
and :mod:`gmmgen.runtime.runlock` alike, so neither needs the other.
"""

from __future__ import annotations

import sys
from typing import NoReturn

from gmmgen.errors import (
    CheckoutBusy,
    ConfigError,
    DataError,
    GmmgenError,
    HungUp,
    SweepError,
    Terminated,
    TrackingError,
    UpstreamError,
    record_status,
)
from gmmgen.redact import redact

EXIT_BUG = 1
EXIT_CONFIG, EXIT_DATA, EXIT_MODEL = ConfigError.exit_code, DataError.exit_code, SweepError.exit_code
EXIT_UPSTREAM, EXIT_TRACKING, EXIT_BUSY = UpstreamError.exit_code, TrackingError.exit_code, CheckoutBusy.exit_code
EXIT_INTERRUPTED, EXIT_TERMINATED, EXIT_HUNG_UP = 130, 143, 129


def exit_status(exc: BaseException) -> int | None:
    """The exit status of a known kind of error, or None for a bug."""
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    if isinstance(exc, HungUp):
        return EXIT_HUNG_UP
    if isinstance(exc, Terminated):
        return EXIT_TERMINATED
    if isinstance(exc, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    if isinstance(exc, GmmgenError) and exc.exit_code != EXIT_BUG:
        return exc.exit_code
    if isinstance(exc, HydraException | OmegaConfBaseException):  # an override Hydra or OmegaConf refused
        return EXIT_CONFIG
    return None


def fail(message: str, code: int) -> NoReturn:
    """Print ``gmmgen: <message>`` (credentials masked) on stderr and exit with ``code``."""
    print(f"gmmgen: {redact(message)}", file=sys.stderr, flush=True)
    record_status(code)
    sys.exit(code)
