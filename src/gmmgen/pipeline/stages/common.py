"""What every stage shares: its folder, the dataset, figure titles (file loading: :mod:`gmmgen.pipeline.upstream`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gmmgen.errors import UpstreamError
from gmmgen.pipeline import files as F
from gmmgen.pipeline.config import Config
from gmmgen.pipeline.upstream import _rebuild, load_joblib, load_json, load_npz, load_upstream, require

__all__ = ["DATA_NAMES", "figure_context", "load_dataset", "load_joblib", "load_json", "load_npz"]
__all__ += ["load_upstream", "require", "stage_dir"]


def stage_dir(cfg: Config, stage: str) -> Path:
    """The folder a stage writes: ``<paths.run_dir>/<stage>``."""
    return Path(cfg.paths.run_dir) / stage


def load_dataset(cfg: Config) -> dict[str, np.ndarray]:
    """The arrays the data stage wrote (x_<split>, y_<split> for train, val, test, clf; test may be empty)."""
    path = stage_dir(cfg, F.DATA.name) / F.DATA.dataset
    ds = load_npz(path, F.DATA.name)
    missing = sorted({"x_train", "y_train", "x_val", "y_val", "x_test", "y_test"} - set(ds))
    if missing:
        raise UpstreamError(f"{path} lacks the arrays {missing}; {_rebuild('data')}")
    return ds


DATA_NAMES = {"mnist": "MNIST", "digits": "8x8 digits"}


def figure_context(cfg: Config, n_train: int, n_dims: int | None = None, covariance: str | None = None) -> str:
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
