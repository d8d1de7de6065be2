"""Stage ``generate``: draw digits from the chosen mixture; write them and the digit grids."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig

from gmmgen.core import reduce
from gmmgen.core.compute import Compute
from gmmgen.core.io import atomic_dir, write_json
from gmmgen.core.sampling import generate_images
from gmmgen.pipeline import files as F
from gmmgen.pipeline.config import Config, settle
from gmmgen.pipeline.stages.common import figure_context, load_dataset, load_joblib, stage_dir
from gmmgen.viz import plots

log = logging.getLogger(__name__)


@dataclass
class Drawn:
    """What the generate stage computed, before anything is written.

    ``images`` (n, h, w) uint8 and ``labels`` (n,): the digits drawn and the
    component of each; ``means``: the heaviest components' means as images;
    ``real``, ``shown``: real digits for the eye and which split they are;
    ``k``, ``covariance_type``: the mixture's; ``context``: the figures' subtitle;
    ``residual``: whether the digits are draws from the scored density (``sample.residual``).
    """

    images: np.ndarray
    labels: np.ndarray
    means: np.ndarray
    real: np.ndarray
    shown: str
    k: int
    covariance_type: str
    context: str
    residual: bool = False


def compute_generate(cfg: Config | DictConfig) -> Drawn:
    """Draw digits from the chosen model (in ``cfg.compute``'s namespace); nothing is written."""
    cfg = settle(cfg)  # typed (a no-op when given the typed config)
    from sklearn.decomposition import PCA
    from sklearn.mixture import GaussianMixture

    cmp = Compute.from_config(cfg)
    pca = load_joblib(stage_dir(cfg, F.REDUCE.name) / F.REDUCE.pca, F.REDUCE.name, PCA)
    gmm = load_joblib(stage_dir(cfg, F.SELECT.name) / F.SELECT.model, F.SELECT.name, GaussianMixture)
    pca_x, gmm_x = cmp.estimator(pca), cmp.estimator(gmm)
    ds = load_dataset(cfg)
    shape = tuple(ds["x_train"].shape[1:])
    residual = bool(cfg.sample.residual)
    images, labels = generate_images(pca_x, gmm_x, int(cfg.sample.n), cfg.sample.seed, shape, residual=residual)
    heaviest = np.argsort(-gmm.weights_, kind="stable")[:100]
    with cmp.context():
        means = reduce.to_images(pca_x.inverse_transform(cmp.asarray(gmm.means_[heaviest])), shape)
    # for the eye only: nothing is chosen here (training digits when there are no others, as in experiment=pdsh)
    shown = next((name for name in ("test", "val", "train") if len(ds[f"x_{name}"])), "train")
    real = ds[f"x_{shown}"][: int(cfg.sample.n_real)]
    shown = {"val": "validation", "train": "training"}.get(shown, shown)
    context = figure_context(cfg, len(ds["x_train"]), pca.n_components_, gmm.covariance_type)
    return Drawn(images, labels, means, real, shown, int(gmm.n_components), str(gmm.covariance_type), context, residual)


def write_generate(cfg: Config, drawn: Drawn) -> Path:
    """Write the digits, their components, the three grids and the metrics at once."""
    images, labels, means, real, shown, context = (
        drawn.images,
        drawn.labels,
        drawn.means,
        drawn.real,
        drawn.shown,
        drawn.context,
    )
    cols, k = int(cfg.sample.grid_cols), drawn.k
    out = stage_dir(cfg, F.GENERATE.name)
    with atomic_dir(out) as tmp:
        np.save(tmp / F.GENERATE.samples, images)
        np.save(tmp / F.GENERATE.components, labels.astype(np.int32))
        plots.image_grid(
            images,
            F.GENERATE.figure(tmp, "generated"),
            cols=cols,
            title=f"{len(images)} digits drawn from the GMM (K={k}): "
            + ("draws from the scored density (residual noise added)" if drawn.residual else "mean image of each draw"),
            subtitle=context,
        )
        plots.image_grid(
            means,
            F.GENERATE.figure(tmp, "component_means"),
            cols=10,
            title=f"component means, heaviest first ({len(means)} of {k})",
            subtitle=context,
        )
        plots.side_by_side(
            images[:100],
            real[:100],
            F.GENERATE.figure(tmp, "generated_vs_real"),
            (f"drawn from the GMM ({drawn.covariance_type} K={k})", f"real {shown} digits"),
            cols=cols,
            subtitle=context,
        )
        write_json(tmp / F.GENERATE.metrics, _metrics(drawn))
    return out


def _metrics(drawn: Drawn) -> dict[str, Any]:
    images, real = drawn.images, drawn.real
    used = np.bincount(drawn.labels, minlength=drawn.k)
    return {
        "n_samples": len(images),
        "residual": drawn.residual,
        "what": "draws from the scored density: PCA + mixture + isotropic residual noise (sample.residual)"
        if drawn.residual
        else "the mean image given each latent draw: PCA inverse of the mixture's draw, no residual noise",
        "components_used": int(np.sum(used > 0)),
        "mean_pixel_generated": float(images.mean()),
        "mean_pixel_real": float(real.mean()),
        "share_pixels_saturated": float(np.mean((images == 0) | (images == 255))),
    }


def run_generate(cfg: Config | DictConfig) -> Path:
    """Draw digits from the chosen model; write them and the digit grids (computed in ``cfg.compute``'s namespace)."""
    cfg = settle(cfg)  # typed (a no-op when given the typed config)
    drawn = compute_generate(cfg)
    out = write_generate(cfg, drawn)
    log.info("generate: %d digits from K=%d -> %s", len(drawn.images), drawn.k, F.GENERATE.figure(out, "generated"))
    return out
