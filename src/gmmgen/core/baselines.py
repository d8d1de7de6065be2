"""Two baselines for the pixel-space yardstick, on the same digits and in the same units.

The yardstick (:mod:`gmmgen.core.likelihood`) is the negative log-likelihood of
uniformly dequantized 8-bit digits, ``v = pixel + u`` with ``u ~ U[0, 1)`` per
pixel, in nats per image (or bits per pixel). Two models put it in its place:

- **The independent-pixel histogram**: each pixel's 256-level frequencies in
  the training digits, add-alpha smoothed (``alpha = 1``: Laplace), pixels
  independent. Its density on the dequantized values is piecewise constant:
  ``p(v) = prod_i p_i(floor(v_i))`` on the unit cells of levels, so
  ``-log p(v) = -sum_i log p_i(pixel_i)`` for every draw of ``u``: the
  dequantized NLL is exactly the discrete NLL of the 8-bit image, the same
  quantity the mixture's number bounds from above. No noise is drawn.
- **The single Gaussian** (K = 1) on the same PCA: the training coordinates'
  mean and maximum-likelihood covariance (plus ``reg_covar`` on the diagonal,
  as ``GaussianMixture(n_components=1)`` computes them), scored through the
  same :class:`gmmgen.core.likelihood.PixelDensity` as every mixture.

A uniform model of the levels scores ``log 256`` nats per pixel: 8 bits/pixel.
Plain numpy (float64), arrays in, plain values out.
"""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any

import numpy as np

from gmmgen.core import likelihood
from gmmgen.core.compute import like, to_float, to_numpy, xp_of

#: Laplace smoothing of the histogram: one pseudo-count per level and pixel.
HISTOGRAM_ALPHA = 1.0
#: Bits per pixel of the uniform model of 256 levels.
UNIFORM_BPP = 8.0


def histogram_fit(images: np.ndarray, alpha: float = HISTOGRAM_ALPHA) -> np.ndarray:
    """Log-probabilities (D, 256) of each pixel's level: ``(count + alpha) / (n + 256 alpha)``.

    ``images``: (n, h, w) or (n, D) uint8 training digits, n >= 1; ``alpha`` > 0.
    Raises ValueError on no images, a non-uint8 array or ``alpha <= 0``.
    """
    if images.dtype != np.uint8 or not len(images):
        raise ValueError("histogram_fit needs at least one uint8 image")
    if not alpha > 0:
        raise ValueError(f"alpha={alpha!r}: must be > 0 (an unseen level would have probability 0)")
    flat = images.reshape(len(images), -1)
    d = flat.shape[1]
    counts = np.zeros((d, likelihood.LEVELS), np.float64)
    np.add.at(counts, (np.broadcast_to(np.arange(d), flat.shape), flat), 1.0)
    return np.log(counts + alpha) - math.log(len(flat) + likelihood.LEVELS * alpha)


def histogram_log_likelihood(log_probs: np.ndarray, images: np.ndarray) -> np.ndarray:
    """Per-image log-likelihood (n,) in nats of uint8 ``images`` under :func:`histogram_fit`'s ``log_probs``.

    Equal to the log density of the uniformly dequantized digit in levels, whatever the noise (module docstring).
    """
    flat = images.reshape(len(images), -1)
    if flat.shape[1] != log_probs.shape[0]:
        raise ValueError(f"images have {flat.shape[1]} pixels, the histogram {log_probs.shape[0]}")
    return log_probs[np.arange(flat.shape[1]), flat].sum(axis=1)


def report(nll_per_image: np.ndarray | float, n_pixels: int) -> dict[str, float]:
    """``{"nats_per_image", "bits_per_pixel"}`` of a mean NLL (NaN for an empty array)."""
    nats = float(np.mean(nll_per_image)) if np.size(nll_per_image) else math.nan
    return {"nats_per_image": nats, "bits_per_pixel": float(likelihood.bits_per_pixel(nats, n_pixels))}


def single_gaussian(z: np.ndarray, reg_covar: float) -> SimpleNamespace:
    """The K = 1 mixture of coordinates ``z`` (n, q) in closed form, with scikit-learn's fitted attributes.

    Mean and maximum-likelihood covariance (divided by n) plus ``reg_covar`` on the diagonal: what
    ``GaussianMixture(n_components=1, covariance_type="full", reg_covar=...)`` converges to.
    ``precisions_cholesky_`` is scikit-learn's: ``inv(cholesky(cov)).T``.
    """
    z = np.asarray(z, np.float64)
    mean = z.mean(axis=0)
    centred = z - mean
    cov = centred.T @ centred / len(z) + reg_covar * np.eye(z.shape[1])
    lower = np.linalg.cholesky(cov)
    prec_chol = np.linalg.solve(lower, np.eye(z.shape[1])).T
    return SimpleNamespace(
        weights_=np.ones(1),
        means_=mean[None, :],
        precisions_cholesky_=prec_chol[None, :, :],
        covariances_=cov[None, :, :],
        covariance_type="full",
        n_components=1,
    )


def yardstick(
    pca: Any, z_train: np.ndarray, reg_covar: float, train: np.ndarray, splits: dict[str, np.ndarray], seed: int
) -> dict[str, Any]:
    """Both baselines on each split (``{"val": uint8 images, "test": ...}``; an empty split gives NaN).

    The histogram is fitted on the uint8 ``train`` digits, the single Gaussian on their PCA coordinates
    ``z_train``; the Gaussian's digits are dequantized with ``seed``, as the mixtures' are, and scored in the
    namespace of ``pca``'s arrays (numpy, or where :meth:`gmmgen.core.compute.Compute.estimator` put them).
    Returns per model ``{"<split>_nll_nats", "<split>_bpp", ...}`` and per split the Gaussian's NLL split
    (mixture, Jacobian, residual: :func:`gmmgen.core.likelihood.nll_split`).
    """
    d = int(pca.n_features_in_)
    log_probs = histogram_fit(train)
    gauss_fit = single_gaussian(to_numpy(z_train), reg_covar)
    ref = pca.components_
    if xp_of(ref) is not np:  # the PCA lives in another namespace (a GPU): score the Gaussian there too
        for name in ("weights_", "means_", "precisions_cholesky_"):
            setattr(gauss_fit, name, like(getattr(gauss_fit, name), ref))
    density = likelihood.from_sklearn(pca, gauss_fit)
    hist: dict[str, Any] = {"alpha": HISTOGRAM_ALPHA}
    gauss: dict[str, Any] = {"n_components": 1, "covariance_type": "full"}
    for name, images in splits.items():
        h = report(-histogram_log_likelihood(log_probs, images) if len(images) else np.empty(0), d)
        hist.update({f"{name}_nll_nats": h["nats_per_image"], f"{name}_bpp": h["bits_per_pixel"]})
        if len(images):
            split = likelihood.nll_split(density, like(likelihood.dequantize(images, seed), density.mean))
            terms = {k: to_float(xp_of(v).mean(v)) for k, v in split.items()}
        else:
            terms = dict.fromkeys(("mixture", "jacobian", "residual", "total"), math.nan)
        gauss.update(
            {
                f"{name}_nll_nats": terms["total"],
                f"{name}_bpp": float(likelihood.bits_per_pixel(terms["total"], d)),
                **{f"{name}_nll_{k}": terms[k] for k in ("mixture", "jacobian", "residual")},
            }
        )
    return {"histogram": hist, "gaussian": gauss, "uniform_bpp": UNIFORM_BPP}
