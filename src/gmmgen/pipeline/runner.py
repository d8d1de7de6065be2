"""Every compute stage of one config, in order, in one process (multirun jobs, tests, benchmarks)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from gmmgen.pipeline import registry
from gmmgen.pipeline.config import Config, settle

#: The stages the judge CNN needs; left out when ``evaluate.enabled`` is false.
JUDGED = ("classifier", "evaluate")


def run_all(
    cfg: Config | DictConfig, announce: Callable[[Callable[[Any], Path]], None] | None = None
) -> dict[str, Path]:
    """Run every compute stage of the registry in order; ``announce(fn)`` before each, if given.

    Returns each stage's folder by name. The summary and track stages are not
    run here (they read a finished run: ``pipelines/run_all.py`` logs it).
    """
    cfg = settle(cfg)  # typed (a no-op when given the typed config)
    out = {}
    for stage in registry.STAGES:
        if not stage.compute or (stage.name in JUDGED and not cfg.evaluate.enabled):
            continue
        fn = stage.load()
        if announce is not None:
            announce(fn)
        out[stage.name] = fn(cfg)
    return out
