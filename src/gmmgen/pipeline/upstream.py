"""Reading a file an earlier stage wrote: missing or unreadable gives one :class:`UpstreamError` line.

The line names the file, what is wrong, and how to rebuild it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from gmmgen.core.io import load_arrays, read_json
from gmmgen.errors import UpstreamError

T = TypeVar("T")


def _rebuild(stage: str) -> str:
    return f"rebuild it with `dvc repro --force --single-item {stage}` (or rerun pipelines/run_all.py)"


def require(path: Path, stage: str) -> Path:
    """``path``, or an :class:`UpstreamError` saying which stage must run first."""
    if not path.exists():
        raise UpstreamError(f"{path} is missing: run the '{stage}' stage first; {_rebuild(stage)}")
    return path


def load_upstream(path: Path, stage: str, loader: Callable[[Path], T], expect: type | None = None) -> T:
    """``loader(path)`` for a file the stage ``stage`` wrote.

    Parameters
    ----------
    path : Path
        The file, as the file map (:mod:`gmmgen.pipeline.files`) places it.
    stage : str
        The stage that writes it (named in the message, with how to rebuild it).
    loader : callable
        ``loader(path)`` returns the object; any exception it raises means a bad file.
    expect : type, optional
        The type the object must have.

    Raises
    ------
    UpstreamError
        One line naming the file, what is wrong and how to rebuild it, when the
        file is missing, cannot be loaded, or holds something other than an
        ``expect`` instance.
    """
    require(path, stage)
    try:
        obj = loader(path)
    except Exception as exc:  # unpickling, zip, JSON, Keras: any of them means a bad file
        reason = " ".join(str(exc).split())[:300] or "no detail"
        raise UpstreamError(f"{path} cannot be loaded ({type(exc).__name__}: {reason}); {_rebuild(stage)}") from exc
    if expect is not None and not isinstance(obj, expect):
        raise UpstreamError(f"{path} holds a {type(obj).__name__}, not a {expect.__name__}; {_rebuild(stage)}")
    return obj


def load_joblib(path: Path, stage: str, expect: type | None = None) -> Any:
    """A joblib file another stage wrote (see :func:`load_upstream`)."""
    import joblib

    return load_upstream(path, stage, joblib.load, expect)


def load_json(path: Path, stage: str) -> Any:
    """A JSON file another stage wrote (see :func:`load_upstream`)."""
    return load_upstream(path, stage, read_json)


def load_npz(path: Path, stage: str) -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` another stage wrote (see :func:`load_upstream`)."""
    return load_upstream(path, stage, load_arrays)
