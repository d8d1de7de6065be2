"""The start of a bare ``dvc repro`` or ``dvc exp run``, recorded by its first stage (data).

``make run`` and ``make exp`` record a run's start before DVC runs the stages
(:mod:`gmmgen.tracking.runinfo`), so its MLflow run spans the pipeline. Run on
its own, DVC records nothing; so ``pipelines/stage.py`` wraps the first stage
with :func:`first_stage`, which records it (kind ``dvc``, with the DVC
process's id, never competing for the champion alias) when no record exists.

This module is the hallway (:mod:`gmmgen.runtime`): dvcgen does not follow it,
so recording the start adds no code dep to the data stage, and a record is
never a file DVC hashes (it lives in ``outputs/run_start.json``, not an out).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")


def first_stage(fn: Callable[[Any], T]) -> Callable[[Any], T]:
    """``fn`` (the first stage), recording a bare DVC run's start once the config is valid, before it runs."""

    @functools.wraps(fn)
    def wrapped(cfg: Any) -> T:
        from gmmgen.tracking import runinfo

        try:
            if runinfo.note_dvc_start(Path(cfg.paths.root), Path(cfg.paths.outputs)) is not None:
                log.debug("run start recorded for this DVC process")
        except OSError as exc:  # a record is a convenience: it never stops the stage
            log.debug("no run start recorded: %s", exc)
        return fn(cfg)

    return wrapped
