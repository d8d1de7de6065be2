"""The pipeline's stages: each reads the folders of the stages before it and writes its own.

A stage function ``run_<stage>(cfg)`` takes the typed config
(:func:`gmmgen.config.settle`), wires it to the library functions and writes
one folder under ``paths.run_dir`` atomically (complete or absent), with the
file names of :mod:`gmmgen.files`. Stages share only :mod:`.common`; the
``track`` stage logs a whole run from the folders (see :mod:`gmmgen.tracking`).

This package imports none of its stage modules eagerly: ``pipelines/stage.py
<stage>`` imports exactly the module it runs (``gmmgen.stages.<stage>``), so
the code DVC lists as its dependencies is the code it runs.
The names below are still reachable as ``gmmgen.stages.<name>`` (loaded on
first use).
"""

from __future__ import annotations

import importlib
from typing import Any

STAGES = ("data", "reduce", "select", "generate", "classifier", "evaluate")

# name -> the module that defines it (imported on first access): a stage module,
# or the library module a helper moved down to.
_LAZY = {
    "run_classifier": f"{__name__}.classifier",
    "load_dataset": f"{__name__}.common",
    "stage_dir": f"{__name__}.common",
    "run_data": f"{__name__}.data",
    "run_evaluate": f"{__name__}.evaluate",
    "generate_images": "gmmgen.sampling",
    "run_generate": f"{__name__}.generate",
    "run_reduce": f"{__name__}.reduce",
    "read_sweep_csv": "gmmgen.sweep_table",
    "run_select": f"{__name__}.select",
    "write_sweep_csv": "gmmgen.sweep_table",
    "run_all": f"{__name__}.pipeline",
}

__all__ = ["STAGES", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
