"""What every stage shares: where its folder is, and reading what came before."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from gmmgen.io import load_arrays


def stage_dir(cfg: Any, stage: str) -> Path:
    """The folder a stage writes: ``<paths.run_dir>/<stage>``."""
    return Path(cfg.paths.run_dir) / stage


def require(path: Path, stage: str) -> Path:
    """``path``, or a FileNotFoundError saying which stage must run first."""
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run the '{stage}' stage first")
    return path


def load_dataset(cfg: Any) -> dict[str, np.ndarray]:
    """The arrays the data stage wrote (x_train, y_train, x_test, y_test)."""
    return load_arrays(require(stage_dir(cfg, "data") / "dataset.npz", "data"))
