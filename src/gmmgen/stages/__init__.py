"""The pipeline's stages: each reads the folders of the stages before it and writes its own.

A stage function takes the composed config, wires it to the library functions
and writes one folder under ``paths.run_dir`` atomically (complete or absent).
Nothing here talks to MLflow: the ``track`` stage logs a whole run from these
folders afterwards (see :mod:`gmmgen.tracking`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

# None of these imports TensorFlow: gmmgen.classifier imports it when a model is built or loaded.
from gmmgen.stages.classifier import run_classifier
from gmmgen.stages.common import load_dataset, stage_dir
from gmmgen.stages.data import run_data
from gmmgen.stages.evaluate import run_evaluate
from gmmgen.stages.generate import generate_images, run_generate
from gmmgen.stages.reduce import run_reduce
from gmmgen.stages.select import read_sweep_csv, run_select, write_sweep_csv

STAGES = ("data", "reduce", "select", "generate", "classifier", "evaluate")

__all__ = [
    "STAGES",
    "generate_images",
    "load_dataset",
    "read_sweep_csv",
    "run_all",
    "run_classifier",
    "run_evaluate",
    "run_data",
    "run_generate",
    "run_reduce",
    "run_select",
    "stage_dir",
    "write_sweep_csv",
]


def run_all(cfg: Any) -> dict[str, Path]:
    """Every compute stage in order, each announced by a banner (the track stage is separate)."""
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
