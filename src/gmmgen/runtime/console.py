"""What a person sees in the terminal: quiet libraries, stage banners, progress bars that survive warnings.

The rules: every message goes through :mod:`logging` (Hydra's ``job_logging``
in ``conf/runtime.yaml`` sends it to the console, short, and to the stage's
log file, in full); Python warnings are routed there too; a long step shows
one tqdm bar, and log lines written while it runs are printed above it
instead of breaking it (:func:`bar_safe_logging`); TensorFlow, absl and
MLflow are told to keep quiet before they are imported (:func:`quiet_libraries`).
Inside a Hydra multirun the jobs write only to their log files
(:func:`job_console_off`) and the launcher prints one line per job and a
summary table.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from typing import Any

log = logging.getLogger("gmmgen")

QUIET_ENV = {
    # TensorFlow's C++ logs: oneDNN notices, CPU feature lines, "NodeDef mentions attribute" errors.
    "TF_CPP_MIN_LOG_LEVEL": "3",
    # absl's C++ "log messages before absl::InitializeLog()" preamble, and gRPC's.
    "ABSL_MIN_LOG_LEVEL": "3",
    "GRPC_VERBOSITY": "ERROR",
    # MLflow's "Downloading artifacts" bars (the model it logs is read back to validate it).
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    # MLflow's own INFO lines ("Creating initial MLflow database tables", "Created version 3 of model ...").
    "MLFLOW_LOGGING_LEVEL": "WARNING",
}

NOISY_WARNINGS = (
    # MLflow asks for type hints on PythonModel.predict: the model logs an explicit signature instead.
    "type hints to the `predict` method",
    # MLflow notes how it pickled the model (cloudpickle) and the environment it inferred.
    "cloudpickle",
    # Keras saves an optimizer it will not need when the judge is only used to predict.
    "Skipping variable loading for optimizer",
)
"""Python warnings dropped on their way to the log (matched in the message text).

They are dropped as log records, not by ``warnings`` filters, because MLflow
wraps some calls in ``catch_warnings(); simplefilter("once")``, which
overrides any filter set here.
"""


class _DropNoise(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        return not any(marker in text for marker in NOISY_WARNINGS)


NOISY_LOGGERS = {
    "absl": logging.ERROR,
    "tensorflow": logging.ERROR,
    "h5py": logging.WARNING,
    "matplotlib": logging.WARNING,
    "PIL": logging.WARNING,
    "alembic": logging.WARNING,
    "mlflow": logging.WARNING,
    # MLflow's notes on how it pickled the model (cloudpickle) and inferred the environment.
    "mlflow.pyfunc": logging.ERROR,
    "mlflow.models.model": logging.ERROR,
    "mlflow.utils.environment": logging.ERROR,
    "mlflow.utils.requirements_utils": logging.ERROR,
    "mlflow.models.utils": logging.ERROR,
}


def quiet_libraries() -> None:
    """Tell TensorFlow, absl, gRPC and MLflow to keep quiet; route Python warnings through logging.

    Environment variables only take effect when set before the library is
    imported, so this runs when :mod:`gmmgen.runtime.cli` is imported (every entry
    point) and again just before TensorFlow is. A variable the user set is kept.
    """
    for key, value in QUIET_ENV.items():
        os.environ.setdefault(key, value)
    for name, level in NOISY_LOGGERS.items():
        logging.getLogger(name).setLevel(level)
    logging.captureWarnings(True)  # warnings become records of the logger "py.warnings"
    py_warnings = logging.getLogger("py.warnings")
    if not any(isinstance(f, _DropNoise) for f in py_warnings.filters):
        py_warnings.addFilter(_DropNoise())


TF_IMPORT_NOISE = ("All log messages before absl::InitializeLog()", "oneDNN custom operations are on")
"""Lines TensorFlow's C++ libraries write to stderr while loading, whatever TF_CPP_MIN_LOG_LEVEL says."""


def quiet_tensorflow() -> None:
    """Import TensorFlow and Keras quietly: log levels set first, load-time C++ lines dropped.

    TF_CPP_MIN_LOG_LEVEL silences TensorFlow's own C++ logs, but absl's
    "log messages before absl::InitializeLog()" preamble and the oneDNN notice
    are written straight to the stderr file descriptor while the libraries
    load. So the first import runs with descriptor 2 sent to a temporary file;
    afterwards any line that is not one of :data:`TF_IMPORT_NOISE` is written
    back to stderr, so a real load error is still seen.
    """
    quiet_libraries()
    if "tensorflow" in sys.modules:
        return
    import tempfile

    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as capture:
        os.dup2(capture.fileno(), 2)
        try:
            import tensorflow  # noqa: F401
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            text = capture.read().decode(errors="replace")
    kept = [line for line in text.splitlines() if line.strip() and not any(n in line for n in TF_IMPORT_NOISE)]
    if kept:
        print("\n".join(kept), file=sys.stderr, flush=True)
    import absl.logging
    import keras

    absl.logging.set_verbosity(absl.logging.ERROR)
    keras.config.disable_interactive_logging()  # Keras's download bars and prints go to absl (errors only)


def banner(stage: str, what: str = "") -> None:
    """Log the start of a stage as one visible line: ``== select: fit the sweep and choose a model``."""
    log.info("== %s%s", stage, f": {what}" if what else "")


def describe(fn: Any) -> str:
    """The first line of ``fn``'s docstring, lower-cased at the start, without the final period or doc markup
    (````x```` and ``:func:`x``` read as ``x``)."""
    import re

    doc = (getattr(fn, "__doc__", None) or "").strip().splitlines()
    line = doc[0].rstrip(".") if doc else ""
    line = re.sub(r":[a-z]+:`~?([^`]*)`", r"\1", line).replace("``", "")
    return line[:1].lower() + line[1:]


def _console_handlers(logger: logging.Logger) -> list[logging.Handler]:
    return [
        h
        for h in logger.handlers
        if isinstance(h, logging.StreamHandler)
        and not isinstance(h, logging.FileHandler)
        and getattr(h, "stream", None) in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__)
    ]


@contextlib.contextmanager
def bar_safe_logging() -> Iterator[None]:
    """While a tqdm bar runs, print log lines above it (tqdm.write) instead of through it.

    tqdm's ``logging_redirect_tqdm``, keeping the console handler's level, so a
    multirun job whose console is off stays quiet.
    """
    from tqdm.contrib.logging import logging_redirect_tqdm

    root = logging.getLogger()
    levels = [h.level for h in _console_handlers(root)]
    with logging_redirect_tqdm([root]):
        if levels:
            for h in root.handlers:
                if type(h).__name__ == "_TqdmLoggingHandler":
                    h.setLevel(min(levels))
        yield


def progress(iterable: Any = None, **kwargs: Any) -> Any:
    """A tqdm bar in the project's format (``desc``, ``total``, ``unit``, ``disable`` as in tqdm).

    Off when the console is off (a multirun job) or when ``disable`` is given true.
    """
    from tqdm.auto import tqdm

    kwargs["disable"] = bool(kwargs.get("disable", False)) or console_is_off()
    kwargs.setdefault("dynamic_ncols", True)
    kwargs.setdefault("leave", True)
    return tqdm(iterable, **kwargs)


_OFF = {"value": False}


def console_is_off() -> bool:
    """True inside a multirun job after :func:`job_console_off`."""
    return _OFF["value"]


def job_console_off() -> None:
    """Send this process's log lines only to its log file, errors excepted (for multirun jobs)."""
    _OFF["value"] = True
    for h in _console_handlers(logging.getLogger()):
        h.setLevel(logging.ERROR)


class ConsoleFormatter(logging.Formatter):
    """Short console lines: the message alone for INFO, ``warning: <message>`` and ``error: ...`` above it."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        if record.levelno >= logging.ERROR:
            return f"error: {text}"
        if record.levelno >= logging.WARNING:
            return f"warning: {text}"
        return text


def _install_hooks() -> None:
    """Give the library's progress hooks (:mod:`gmmgen.core.progress`) this module's bars, guard and quiet TF."""
    from gmmgen.core import progress as hooks

    hooks.install(bar=progress, guard=bar_safe_logging, tensorflow=quiet_tensorflow)


_install_hooks()
