"""Draw new points from a fitted mixture, under our own seed.

``GaussianMixture.sample`` returns its points grouped by component and reseeds
from ``random_state`` on every call, so two calls give the same points. This
module draws with a ``numpy.random.Generator`` the caller seeds and returns
the points in random order.
"""

from __future__ import annotations

import numpy as np
from sklearn.mixture import GaussianMixture


def _cholesky_factors(gmm: GaussianMixture) -> np.ndarray:
    """Lower Cholesky factor of every component's covariance, shape (K, d, d) or broadcastable."""
    cov, kind = gmm.covariances_, gmm.covariance_type
    if kind == "full":
        return np.linalg.cholesky(cov)
    if kind == "tied":
        return np.linalg.cholesky(cov)[None, :, :]
    if kind == "diag":
        return np.sqrt(cov)  # (K, d): elementwise scale
    return np.sqrt(cov)[:, None]  # spherical (K,) -> (K, 1)


def draw(gmm: GaussianMixture, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``n`` points from ``gmm``; return them shuffled, with their component labels."""
    rng = np.random.default_rng(seed)
    counts = rng.multinomial(n, gmm.weights_ / gmm.weights_.sum())
    labels = np.repeat(np.arange(len(counts)), counts)
    rng.shuffle(labels)
    d = gmm.means_.shape[1]
    z = rng.standard_normal((n, d))
    factors = _cholesky_factors(gmm)
    if gmm.covariance_type in ("full", "tied"):
        chol = factors[labels] if gmm.covariance_type == "full" else factors[0]
        offsets = np.einsum("nij,nj->ni", chol, z) if chol.ndim == 3 else z @ chol.T
    else:
        offsets = z * factors[labels]
    return gmm.means_[labels] + offsets, labels
