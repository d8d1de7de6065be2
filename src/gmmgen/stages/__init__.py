"""The pipeline's stages: each reads the folders of the stages before it and writes its own.

A stage function takes the composed config, wires it to the library functions
and writes one folder under ``paths.run_dir`` atomically (complete or absent).
Nothing here talks to MLflow: the ``track`` stage logs a whole run from these
folders afterwards (see :mod:`gmmgen.tracking`).

This package imports none of its stage modules eagerly: a stage's entry point
imports exactly the modules it runs (``from gmmgen.stages.select import
run_select``), so the code DVC lists as its dependencies is the code it runs.
The names below are still reachable as ``gmmgen.stages.<name>`` (loaded on
first use).
"""

from __future__ import annotations

import importlib
from typing import Any

STAGES = ("data", "reduce", "select", "generate", "classifier", "evaluate")

# name -> the stage module that defines it (imported on first access).
_LAZY = {
    "run_classifier": "classifier",
    "load_dataset": "common",
    "stage_dir": "common",
    "run_data": "data",
    "run_evaluate": "evaluate",
    "generate_images": "generate",
    "run_generate": "generate",
    "run_reduce": "reduce",
    "read_sweep_csv": "select",
    "run_select": "select",
    "write_sweep_csv": "select",
    "run_all": "pipeline",
}

__all__ = ["STAGES", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
