"""How long work reports its progress, without knowing what a terminal shows.

The maths asks for a bar (:func:`progress`), a guard that keeps log lines
from breaking it (:func:`bar_safe_logging`) and a quiet TensorFlow import
(:func:`before_tensorflow`). By default a bar is silent, the guard does
nothing and TensorFlow's C++ log levels are raised; the process that runs a stage installs the real ones
(:func:`install`; :mod:`gmmgen.runtime.console` does so when imported). So how
a bar looks, or what it says, is never a dependency of what a stage computes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any


def _silent_bar(iterable: Any = None, **kwargs: Any) -> Any:
    from tqdm.auto import tqdm

    kwargs["disable"] = True
    return tqdm(iterable, **kwargs)


@contextlib.contextmanager
def _no_guard() -> Iterator[None]:
    yield


#: TensorFlow's and absl's C++ log levels, set (unless the user set them) before TensorFlow loads.
TF_QUIET_ENV = {"TF_CPP_MIN_LOG_LEVEL": "3", "ABSL_MIN_LOG_LEVEL": "3"}


def _quiet_tf_env() -> None:
    import os

    for key, value in TF_QUIET_ENV.items():
        os.environ.setdefault(key, value)


_HOOKS: dict[str, Callable[..., Any]] = {"bar": _silent_bar, "guard": _no_guard, "tensorflow": _quiet_tf_env}


def install(
    bar: Callable[..., Any] | None = None,
    guard: Callable[[], contextlib.AbstractContextManager[None]] | None = None,
    tensorflow: Callable[[], None] | None = None,
) -> None:
    """Use ``bar`` for progress bars (tqdm's signature), ``guard`` around them, ``tensorflow`` before TF loads."""
    for key, fn in (("bar", bar), ("guard", guard), ("tensorflow", tensorflow)):
        if fn is not None:
            _HOOKS[key] = fn


def progress(iterable: Any = None, **kwargs: Any) -> Any:
    """A progress bar over ``iterable`` (tqdm's keywords: ``total``, ``desc``, ``unit``, ``disable``)."""
    return _HOOKS["bar"](iterable, **kwargs)


def bar_safe_logging() -> contextlib.AbstractContextManager[None]:
    """A context in which log lines print above a running bar instead of through it."""
    return _HOOKS["guard"]()


def before_tensorflow() -> None:
    """Call before TensorFlow's first import: its log levels are raised (the installed hook may do more)."""
    _HOOKS["tensorflow"]()
