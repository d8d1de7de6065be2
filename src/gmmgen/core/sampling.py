"""Draw new points from a fitted mixture, under our own seed.

``GaussianMixture.sample`` returns its points grouped by component and reseeds
from ``random_state`` on every call, so two calls give the same points. This
module draws with a ``numpy.random.Generator`` the caller seeds and returns
the points in random order.

The mixture's arrays may live in any Array API namespace (see
:mod:`gmmgen.core.compute`): the random numbers are always drawn by numpy on the
CPU (so a seed gives the same points everywhere), and the arithmetic on them
(Cholesky factors, offsets, means) runs in the mixture's namespace.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.mixture import GaussianMixture

from gmmgen.core import reduce
from gmmgen.core.compute import dispatch_for, like, to_numpy, xp_of


def _cholesky_factors(gmm: GaussianMixture, xp: Any = np) -> Any:
    """Lower Cholesky factor of every component's covariance, shape (K, d, d) or broadcastable."""
    cov, kind = gmm.covariances_, gmm.covariance_type
    if kind == "full":
        return xp.linalg.cholesky(cov)
    if kind == "tied":
        return xp.linalg.cholesky(cov)[None, :, :]
    if kind == "diag":
        return xp.sqrt(cov)  # (K, d): elementwise scale
    return xp.sqrt(cov)[:, None]  # spherical (K,) -> (K, 1)


DRAW_BLOCK = 500  # digits whose full-covariance factors are gathered at once in draw()


def draw(gmm: GaussianMixture, n: int, seed: int) -> tuple[Any, np.ndarray]:
    """Draw ``n`` points from ``gmm``; return them shuffled (n, d), in the mixture's namespace,
    with their numpy component labels (n,)."""
    rng = np.random.default_rng(seed)
    weights = to_numpy(gmm.weights_)
    counts = rng.multinomial(n, weights / weights.sum())
    labels = np.repeat(np.arange(len(counts)), counts)
    rng.shuffle(labels)
    d = int(gmm.means_.shape[1])
    z = rng.standard_normal((n, d))
    xp = xp_of(gmm.means_)
    if xp is np:
        factors = _cholesky_factors(gmm)
        if gmm.covariance_type == "full":
            # A block of rows at a time: a (d, d) factor per digit for all n at once took n*d*d*8 bytes (600 MB
            # for 10,000 digits in 87 dimensions). Row by row the same arithmetic, so the same numbers.
            offsets = np.empty_like(z)
            for i in range(0, n, DRAW_BLOCK):
                rows = slice(i, i + DRAW_BLOCK)
                offsets[rows] = np.einsum("nij,nj->ni", factors[labels[rows]], z[rows])
        elif gmm.covariance_type == "tied":
            offsets = z @ factors[0].T
        else:
            offsets = z * factors[labels]
        return gmm.means_[labels] + offsets, labels
    # The same arithmetic in the standard's terms (take, matmul) on the mixture's device.
    z_x, idx = xp.astype(like(z, gmm.means_), gmm.means_.dtype), like(labels, gmm.means_)
    factors = _cholesky_factors(gmm, xp)
    if gmm.covariance_type == "full":
        offsets = xp.matmul(xp.take(factors, idx, axis=0), z_x[:, :, None])[:, :, 0]
    elif gmm.covariance_type == "tied":
        offsets = z_x @ xp.matrix_transpose(factors[0, ...])
    else:
        offsets = z_x * xp.take(factors, idx, axis=0)
    return xp.take(gmm.means_, idx, axis=0) + offsets, labels


def residual_noise(pca: Any, n: int, seed: int, sigma2: float) -> np.ndarray:
    """Isotropic Gaussian noise N(0, sigma2) in the D - q directions the PCA discards: (n, D) numpy rows.

    ``e - (e W^T) W`` with ``e ~ N(0, sigma2 I_D)``, drawn from numpy's generator seeded with ``(seed, 1)`` (apart
    from the mixture's draws, so the same latent digits come out with and without it).
    """
    w = to_numpy(pca.components_).astype(np.float64)
    e = np.random.default_rng([int(seed), 1]).standard_normal((n, w.shape[1])) * np.sqrt(sigma2)
    return e - (e @ w.T) @ w


def generate_images(
    pca: Any, gmm: Any, n: int, seed: int, shape: tuple[int, int], residual: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``n`` digits from the mixture and map them to uint8 images (n, *shape) with the PCA inverse.

    ``seed`` seeds numpy's generator (the same digits on every namespace);
    ``shape`` is an image's (height, width) in pixels. Without ``residual`` a
    digit is the mean image given its latent draw (``mu + W^T S z``): smooth,
    on the PCA's subspace, not a draw from the density the likelihood scores.
    With ``residual`` the isotropic noise of the discarded directions is added
    (:func:`residual_noise`, ``sigma^2`` of :func:`gmmgen.core.likelihood.from_sklearn`):
    a draw from that scored density (PCA + mixture + residual), then clipped
    to [0, 1] and rounded to 8-bit levels.

    ``pca`` and ``gmm`` may hold arrays of any one Array API namespace: the
    arithmetic runs there; the images and component labels (n,) come back as numpy.
    """
    z, labels = draw(gmm, n, seed)
    with dispatch_for(z):
        x = pca.inverse_transform(z)
        if residual:
            from gmmgen.core.likelihood import from_sklearn

            x = x + like(residual_noise(pca, n, seed, from_sklearn(pca, gmm).sigma2), x)
        return reduce.to_images(x, shape), labels
