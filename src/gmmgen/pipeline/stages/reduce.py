"""Stage ``reduce``: PCA on the training digits; projections, metrics, figures."""

from __future__ import annotations

import csv
import logging
from pathlib import Path

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


def run_reduce(cfg: Config | DictConfig) -> Path:
    """Fit PCA on the training digits; write the model, projections, metrics and figures.

    The PCA is fitted and applied in ``cfg.compute``'s namespace; the files get numpy.
    """
    cfg = settle(cfg)  # typed (a no-op when given the typed config)
    import joblib

    cmp = Compute.from_config(cfg)
    ds = load_dataset(cfg)
    x_tr, x_va, x_te = (cmp.asarray(reduce.to_features(ds[k])) for k in ("x_train", "x_val", "x_test"))
    try:
        pca = reduce.fit_pca(x_tr, cfg.pca.variance, cfg.pca.n_components, cfg.pca.whiten, cfg.pca.svd_solver, cfg.seed)
    except ConfigError as exc:  # the library names its argument; the user set the config key
        raise ConfigError(f"pca.{exc}") from None
    # The whole spectrum, for the explained-variance figure.
    full = reduce.fit_pca(x_tr, None, min(int(s) for s in x_tr.shape), False, cfg.pca.svd_solver)
    full_ratio = to_numpy(full.explained_variance_ratio_)
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
    out = stage_dir(cfg, F.REDUCE.name)
    with atomic_dir(out) as tmp:
        joblib.dump(estimator_to_numpy(pca), tmp / F.REDUCE.pca)
        save_arrays(
            tmp / F.REDUCE.projected,
            z_train=z_train,
            z_val=z_val,
            z_test=z_test,
            y_train=ds["y_train"],
            y_val=ds["y_val"],
            y_test=ds["y_test"],
        )
        write_json(tmp / F.REDUCE.metrics, metrics)
        with open(tmp / F.REDUCE.variance, "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["n_components", "cumulative_variance"])
            w.writerows((i + 1, f"{v:.6f}") for i, v in enumerate(np.cumsum(full_ratio)))
        context = figure_context(cfg, int(x_tr.shape[0]), metrics["n_dims_kept"], covariance="")
        plots.explained_variance(
            full_ratio,
            cfg.pca.variance,
            metrics["n_dims_kept"],
            F.REDUCE.figure(tmp, "explained_variance"),
            title=context,
        )
        plots.reconstructions(
            originals, recon, F.REDUCE.figure(tmp, "reconstructions"), metrics["n_dims_kept"], subtitle=context
        )
    log.info(
        "reduce: %d -> %d dims, %.3f of the variance",
        metrics["n_dims_in"],
        metrics["n_dims_kept"],
        metrics["variance_explained"],
    )
    return out
