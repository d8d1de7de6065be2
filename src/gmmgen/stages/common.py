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


DATA_NAMES = {"mnist": "MNIST", "digits": "8x8 digits"}


def figure_context(cfg: Any, n_train: int, n_dims: int | None = None, covariance: str | None = None) -> str:
    """One line naming the data, N, the PCA setting and the covariance type, for figure titles.

    ``covariance`` defaults to the sweep's covariance types joined by "+"; "" leaves it out.
    """
    data = DATA_NAMES.get(str(cfg.data.name), str(cfg.data.name))
    if cfg.pca.variance is not None:
        pca = f"PCA {float(cfg.pca.variance):.0%} of variance"
    else:
        pca = f"PCA {int(cfg.pca.n_components)} components"
    if n_dims is not None:
        pca += f" → {n_dims} dims"
    if cfg.pca.whiten:
        pca += ", whitened"
    cov = "+".join(cfg.sweep.covariance_types) if covariance is None else covariance
    return f"{data}, N={n_train:,} training digits, {pca}" + (f", {cov} covariance" if cov else "")
