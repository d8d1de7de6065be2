"""Every compute stage of one config, in order, in one process (multirun jobs, tests, benchmarks)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gmmgen.stages.classifier import run_classifier
from gmmgen.stages.data import run_data
from gmmgen.stages.evaluate import run_evaluate
from gmmgen.stages.generate import run_generate
from gmmgen.stages.reduce import run_reduce
from gmmgen.stages.select import run_select


def run_all(cfg: Any) -> dict[str, Path]:
    """Every compute stage in order (the track stage is separate)."""
    out = {"data": run_data(cfg), "reduce": run_reduce(cfg), "select": run_select(cfg), "generate": run_generate(cfg)}
    if cfg.evaluate.enabled:
        out["classifier"] = run_classifier(cfg)
        out["evaluate"] = run_evaluate(cfg)
    return out
