"""Stage ``reduce``: PCA on the training digits; projections, metrics, figures."""

from __future__ import annotations

import csv
import logging
from pathlib import Path
from typing import Any

import numpy as np

from gmmgen import plots, reduce
from gmmgen.io import atomic_dir, save_arrays, write_json
from gmmgen.stages.common import load_dataset, stage_dir

log = logging.getLogger(__name__)


def run_reduce(cfg: Any) -> Path:
    """Fit PCA on the training digits; write the model, projections, metrics and figures."""
    import joblib

    ds = load_dataset(cfg)
    x_tr, x_va, x_te = (reduce.to_features(ds[k]) for k in ("x_train", "x_val", "x_test"))
    pca = reduce.fit_pca(x_tr, cfg.pca.variance, cfg.pca.n_components, cfg.pca.whiten, cfg.pca.svd_solver, cfg.seed)
    # The whole spectrum, for the explained-variance figure.
    full_ratio = reduce.fit_pca(x_tr, None, min(x_tr.shape), False, cfg.pca.svd_solver).explained_variance_ratio_
    metrics = reduce.summary(pca, x_tr, x_va, x_te)
    shape = tuple(ds["x_train"].shape[1:])
    out = stage_dir(cfg, "reduce")
    with atomic_dir(out) as tmp:
        joblib.dump(pca, tmp / "pca.joblib")
        save_arrays(
            tmp / "projected.npz",
            z_train=pca.transform(x_tr),
            z_val=pca.transform(x_va),
            z_test=pca.transform(x_te) if len(x_te) else np.zeros((0, pca.n_components_)),
            y_train=ds["y_train"],
            y_val=ds["y_val"],
            y_test=ds["y_test"],
        )
        write_json(tmp / "metrics.json", metrics)
        with open(tmp / "explained_variance.csv", "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["n_components", "cumulative_variance"])
            w.writerows((i + 1, f"{v:.6f}") for i, v in enumerate(np.cumsum(full_ratio)))
        plots.explained_variance(full_ratio, cfg.pca.variance, metrics["n_dims_kept"], tmp / "explained_variance.png")
        originals = ds["x_val"][:10]
        recon = reduce.to_images(pca.inverse_transform(pca.transform(reduce.to_features(originals))), shape)
        plots.reconstructions(originals, recon, tmp / "reconstructions.png", metrics["n_dims_kept"])
    log.info(
        "reduce: %d -> %d dims, %.3f of the variance",
        metrics["n_dims_in"],
        metrics["n_dims_kept"],
        metrics["variance_explained"],
    )
    return out
