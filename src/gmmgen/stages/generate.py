"""Stage ``generate``: draw digits from the chosen mixture; write them and the digit grids."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from gmmgen import plots, reduce, sampling
from gmmgen.compute import Compute, dispatch_for
from gmmgen.config import seed_for
from gmmgen.io import atomic_dir, write_json
from gmmgen.stages.common import figure_context, load_dataset, load_joblib, stage_dir

log = logging.getLogger(__name__)


def generate_images(pca: Any, gmm: Any, n: int, seed: int, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``n`` digits from the mixture and map them to uint8 images (n, *shape) with the PCA inverse.

    ``pca`` and ``gmm`` may hold arrays of any one Array API namespace: the
    arithmetic runs there; the images and component labels (n,) come back as numpy.
    """
    z, labels = sampling.draw(gmm, n, seed)
    with dispatch_for(z):
        return reduce.to_images(pca.inverse_transform(z), shape), labels


def run_generate(cfg: Any) -> Path:
    """Draw digits from the chosen model; write them and the digit grids (computed in ``cfg.compute``'s namespace)."""
    from sklearn.decomposition import PCA
    from sklearn.mixture import GaussianMixture

    cmp = Compute.from_config(cfg)
    pca = load_joblib(stage_dir(cfg, "reduce") / "pca.joblib", "reduce", PCA)
    gmm = load_joblib(stage_dir(cfg, "select") / "model.joblib", "select", GaussianMixture)
    pca_x, gmm_x = cmp.estimator(pca), cmp.estimator(gmm)
    ds = load_dataset(cfg)
    shape = tuple(ds["x_train"].shape[1:])
    images, labels = generate_images(pca_x, gmm_x, int(cfg.sample.n), seed_for(cfg, "sample.seed"), shape)
    heaviest = np.argsort(-gmm.weights_, kind="stable")[:100]
    with cmp.context():
        means = reduce.to_images(pca_x.inverse_transform(cmp.asarray(gmm.means_[heaviest])), shape)
    shown = "test" if len(ds["x_test"]) else "validation"  # for the eye only: nothing is chosen here
    real = ds["x_test" if len(ds["x_test"]) else "x_val"][: int(cfg.sample.n_real)]
    cols, k = int(cfg.sample.grid_cols), gmm.n_components
    context = figure_context(cfg, len(ds["x_train"]), pca.n_components_, gmm.covariance_type)
    out = stage_dir(cfg, "generate")
    with atomic_dir(out) as tmp:
        np.save(tmp / "samples.npy", images)
        np.save(tmp / "sample_components.npy", labels.astype(np.int32))
        plots.image_grid(
            images,
            tmp / "generated.png",
            cols=cols,
            title=f"{len(images)} digits drawn from the GMM (K={k})",
            subtitle=context,
        )
        plots.image_grid(
            means,
            tmp / "component_means.png",
            cols=10,
            title=f"component means, heaviest first ({len(heaviest)} of {k})",
            subtitle=context,
        )
        plots.side_by_side(
            images[:100],
            real[:100],
            tmp / "generated_vs_real.png",
            (f"drawn from the GMM ({gmm.covariance_type} K={k})", f"real {shown} digits"),
            cols=cols,
            subtitle=context,
        )
        used = np.bincount(labels, minlength=k)
        write_json(
            tmp / "metrics.json",
            {
                "n_samples": len(images),
                "components_used": int(np.sum(used > 0)),
                "mean_pixel_generated": float(images.mean()),
                "mean_pixel_real": float(real.mean()),
                "share_pixels_saturated": float(np.mean((images == 0) | (images == 255))),
            },
        )
    log.info("generate: %d digits from K=%d -> %s", len(images), k, out / "generated.png")
    return out
