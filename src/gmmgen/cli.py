"""What every ``pipelines/`` entry point shares: validation, clear errors, signals.

A config error (a compute setting this machine cannot provide included: a
namespace that is not installed, cuda without a GPU) prints one line naming the
key, the value and what is allowed, and exits with status 2 before any work; a known failure (no data, every fit
failed, tracking unreachable) prints one line and exits with status 1. Inside a
Hydra multirun the error is raised instead, so Hydra reports the failing job
and the other jobs still run.
"""

from __future__ import annotations

import logging
import signal
import sys
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

from gmmgen import console
from gmmgen.compute import Compute, ComputeError
from gmmgen.config import ConfigError, validate
from gmmgen.data import DataError
from gmmgen.mixture import SweepError

log = logging.getLogger("gmmgen")
T = TypeVar("T")

console.quiet_libraries()  # before any entry point imports TensorFlow or MLflow


class TrackingError(RuntimeError):
    """The tracking store cannot be reached or written."""


class Terminated(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C so that runs end as KILLED and temp files go."""


KNOWN_ERRORS: tuple[type[BaseException], ...] = (DataError, SweepError, TrackingError, FileNotFoundError)


def _on_sigterm(signum: int, frame: Any) -> None:
    raise Terminated(f"signal {signum}")


def _in_multirun() -> bool:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def fail(message: str, code: int) -> NoReturn:
    """Print ``gmmgen: <message>`` on stderr and exit with ``code``."""
    print(f"gmmgen: {message}", file=sys.stderr, flush=True)
    sys.exit(code)


def run(cfg: Any, fn: Callable[[Any], T], banner: bool = True) -> T:
    """Validate ``cfg`` then call ``fn(cfg)``, turning known failures into one-line errors.

    With ``banner``, a line names the stage (``fn``'s name without ``run_``)
    and what it does (its docstring's first line) before it starts.
    """
    signal.signal(signal.SIGTERM, _on_sigterm)
    console.quiet_libraries()  # again: Hydra's logging setup reset the loggers' levels
    multirun = _in_multirun()
    try:
        validate(cfg)
        Compute.from_config(cfg).check()  # the namespace imports, the GPU is there
        if banner:
            console.banner(fn.__name__.removeprefix("run_"), console.describe(fn))
        return fn(cfg)
    except (ConfigError, ComputeError) as exc:
        if multirun:
            raise
        fail(f"config error: {exc}", 2)
    except KNOWN_ERRORS as exc:
        if multirun:
            raise
        fail(f"error: {exc}", 1)
    except KeyboardInterrupt:
        if not multirun:
            fail("interrupted; no partial stage folder was kept", 130)
        raise
