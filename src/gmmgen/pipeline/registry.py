"""The one list of the pipeline's stages: their order, the module that runs each, the params DVC watches.

The entry point (``pipelines/stage.py <name>``), the in-process runner
(:mod:`gmmgen.pipeline.runner`), the benchmark and ``dvc.yaml``
(:mod:`gmmgen.pipeline.dvcgen` writes each stage's ``cmd``, code ``deps`` and
``params`` from here) all read this list; the files each stage writes are in
:mod:`gmmgen.pipeline.files`. Adding a stage: a module with ``run_<name>(cfg)``,
an entry here, its files in the file map, then ``make dvc-yaml``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Stage:
    """One stage: ``module`` defines ``run_<name>(cfg)``; ``params`` are the params.yaml keys it reads."""

    name: str
    module: str
    params: tuple[str, ...]
    compute: bool = True  # False: runs after the compute stages and decides none of their outputs

    @property
    def function(self) -> str:
        """The name of the stage's function in :attr:`module`."""
        return f"run_{self.name}"

    def load(self) -> Callable[[Any], Any]:
        """Import the stage's module (only that one) and return its function."""
        return getattr(importlib.import_module(self.module), self.function)


_STAGES = "gmmgen.pipeline.stages"

#: Every stage in pipeline order (``dvc.yaml`` lists them in this order).
STAGES: tuple[Stage, ...] = (
    Stage("data", f"{_STAGES}.data", ("seed", "data")),
    Stage("reduce", f"{_STAGES}.reduce", ("seed", "pca", "compute")),
    Stage("select", f"{_STAGES}.select", ("seed", "data.seed", "model", "sweep", "compute")),
    Stage("generate", f"{_STAGES}.generate", ("seed", "sample", "compute")),
    Stage("classifier", f"{_STAGES}.classifier", ("seed", "classifier", "evaluate.enabled")),
    Stage(
        "evaluate",
        f"{_STAGES}.evaluate",
        ("seed", "evaluate", "model", "sweep.criterion", "sweep.allow_degenerate", "sweep.thin_points_per_parameter"),
    ),
    Stage("summary", f"{_STAGES}.summary", (), compute=False),
    Stage("track", "gmmgen.tracking.stage", ("tracking",), compute=False),
)

BY_NAME: dict[str, Stage] = {s.name: s for s in STAGES}
NAMES: tuple[str, ...] = tuple(BY_NAME)
