"""Stage ``reduce``: PCA on the training digits; projections, metrics, figures."""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig

from gmmgen.core import reduce
from gmmgen.core.compute import Compute, estimator_to_numpy, to_numpy
from gmmgen.core.io import atomic_dir, save_arrays, write_json
from gmmgen.errors import ConfigError
from gmmgen.pipeline import files as F
from gmmgen.pipeline.config import Config, settle
from gmmgen.pipeline.stages.common import figure_context, load_dataset, stage_dir
from gmmgen.viz import plots

log = logging.getLogger(__name__)


@dataclass
class Reduced:
    """What the reduce stage computed, before anything is written (numpy but ``pca``, in the compute namespace).

    ``z_*``: the splits in PCA coordinates; ``full_ratio``: the whole
    spectrum's explained-variance ratios; ``originals`` and ``recon``: the
    first validation digit of each class and its reconstruction; ``n_train``:
    the training digits.
    """

    pca: Any
    metrics: dict[str, Any]
    full_ratio: np.ndarray
    z_train: np.ndarray
    z_val: np.ndarray
    z_test: np.ndarray
    originals: np.ndarray
    recon: np.ndarray
    n_train: int


def _fit(cfg: Config, x_tr: Any) -> tuple[Any, np.ndarray]:
    """The configured PCA, and the whole spectrum's explained-variance ratios (for the figure)."""
    try:
        pca = reduce.fit_pca(x_tr, cfg.pca.variance, cfg.pca.n_components, cfg.pca.whiten, cfg.pca.svd_solver, cfg.seed)
    except ConfigError as exc:  # the library names its argument; the user set the config key
        raise ConfigError(f"pca.{exc}") from None
    # The whole spectrum, for the explained-variance figure.
    full = reduce.fit_pca(x_tr, None, min(int(s) for s in x_tr.shape), False, cfg.pca.svd_solver)
    return pca, to_numpy(full.explained_variance_ratio_)


def compute_reduce(cfg: Config | DictConfig) -> tuple[Reduced, dict[str, np.ndarray]]:
    """Fit PCA on the training digits and project every split (in ``cfg.compute``'s namespace); return it and
    the dataset read. Nothing is written."""
    cfg = settle(cfg)  # typed (a no-op when given the typed config)
    cmp = Compute.from_config(cfg)
    ds = load_dataset(cfg)
    x_tr, x_va, x_te = (cmp.asarray(reduce.to_features(ds[k])) for k in ("x_train", "x_val", "x_test"))
    pca, full_ratio = _fit(cfg, x_tr)
    metrics = reduce.summary(pca, x_tr, x_va, x_te)
    shape = tuple(ds["x_train"].shape[1:])
    # The first validation digit of each class (the splits keep the pool's order, which may be sorted by class).
    shown, labels = (ds["x_val"], ds["y_val"]) if len(ds["x_val"]) else (ds["x_train"], ds["y_train"])
    originals = shown[[int(np.flatnonzero(labels == c)[0]) for c in np.unique(labels)][:10]]
    with cmp.context():
        z_train, z_val = to_numpy(pca.transform(x_tr)), to_numpy(reduce.project(pca, x_va))
        n_kept = int(to_numpy(pca.n_components_))
        z_test = to_numpy(pca.transform(x_te)) if int(x_te.shape[0]) else np.zeros((0, n_kept))
        x_orig = cmp.asarray(reduce.to_features(originals))
        recon = reduce.to_images(pca.inverse_transform(pca.transform(x_orig)), shape)
    reduced = Reduced(pca, metrics, full_ratio, z_train, z_val, z_test, originals, recon, int(x_tr.shape[0]))
    return reduced, ds


def write_reduce(cfg: Config, r: Reduced, ds: dict[str, np.ndarray]) -> Path:
    """Write the PCA (numpy), the projections with their labels, metrics, the spectrum and the figures at once."""
    import joblib

    metrics, full_ratio, originals = r.metrics, r.full_ratio, r.originals
    out = stage_dir(cfg, F.REDUCE.name)
    with atomic_dir(out) as tmp:
        joblib.dump(estimator_to_numpy(r.pca), tmp / F.REDUCE.pca)
        save_arrays(
            tmp / F.REDUCE.projected,
            z_train=r.z_train,
            z_val=r.z_val,
            z_test=r.z_test,
            y_train=ds["y_train"],
            y_val=ds["y_val"],
            y_test=ds["y_test"],
        )
        write_json(tmp / F.REDUCE.metrics, metrics)
        with open(tmp / F.REDUCE.variance, "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["n_components", "cumulative_variance"])
            w.writerows((i + 1, f"{v:.6f}") for i, v in enumerate(np.cumsum(full_ratio)))
        context = figure_context(cfg, r.n_train, metrics["n_dims_kept"], covariance="")
        plots.explained_variance(
            full_ratio,
            cfg.pca.variance,
            metrics["n_dims_kept"],
            F.REDUCE.figure(tmp, "explained_variance"),
            title=context,
        )
        plots.reconstructions(
            originals, r.recon, F.REDUCE.figure(tmp, "reconstructions"), metrics["n_dims_kept"], subtitle=context
        )
    return out


def run_reduce(cfg: Config | DictConfig) -> Path:
    """Fit PCA on the training digits; write the model, projections, metrics and figures.

    The PCA is fitted and applied in ``cfg.compute``'s namespace; the files get numpy.
    """
    cfg = settle(cfg)  # typed (a no-op when given the typed config)
    reduced, ds = compute_reduce(cfg)
    out = write_reduce(cfg, reduced, ds)
    metrics = reduced.metrics
    log.info(
        "reduce: %d -> %d dims, %.3f of the variance",
        metrics["n_dims_in"],
        metrics["n_dims_kept"],
        metrics["variance_explained"],
    )
    return out
