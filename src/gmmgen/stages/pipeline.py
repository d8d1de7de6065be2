"""Every compute stage of one config, in order, in one process (multirun jobs, tests, benchmarks)."""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig

from gmmgen.config import Config, settle
from gmmgen.stages.classifier import run_classifier
from gmmgen.stages.data import run_data
from gmmgen.stages.evaluate import run_evaluate
from gmmgen.stages.generate import run_generate
from gmmgen.stages.reduce import run_reduce
from gmmgen.stages.select import run_select


def run_all(cfg: Config | DictConfig) -> dict[str, Path]:
    """Every compute stage in order, each announced by a banner (the track stage is separate)."""
    cfg = settle(cfg)  # typed (a no-op when given the typed config)
    from gmmgen import console

    steps = [run_data, run_reduce, run_select, run_generate]
    if cfg.evaluate.enabled:
        steps += [run_classifier, run_evaluate]
    out = {}
    for fn in steps:
        name = fn.__name__.removeprefix("run_")
        console.banner(name, console.describe(fn))
        out[name] = fn(cfg)
    return out
