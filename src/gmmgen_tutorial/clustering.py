"""Tutorial section 2: clustering 2-D points with a Gaussian mixture; BIC and AIC over K.

The tutorial fits 4 components to 1,000 two-dimensional points and colours
each point by its most responsible component. It only *states* that BIC or AIC
choose K; :func:`criteria_over_k` computes them, on those points and on
points that truly have clusters (:func:`blobs`), where BIC should find the
true number.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class CriteriaOverK:
    """BIC and AIC of full-covariance fits over a grid of K.

    Attributes
    ----------
    k : ndarray of shape (n_k,)
    bic, aic : ndarray of shape (n_k,)
        Lower is better.
    """

    k: np.ndarray
    bic: np.ndarray
    aic: np.ndarray

    @property
    def best_bic(self) -> int:
        return int(self.k[np.argmin(self.bic)])

    @property
    def best_aic(self) -> int:
        return int(self.k[np.argmin(self.aic)])


def make_points(n: int, kind: str, rng: np.random.Generator) -> np.ndarray:
    """Points without cluster structure: standard normal or uniform on [-2, 2]^2.

    Returns
    -------
    ndarray of shape (n, 2)

    Raises
    ------
    ValueError
        For an unknown ``kind``.
    """
    if kind == "normal":
        return rng.standard_normal((n, 2))
    if kind == "uniform":
        return rng.uniform(-2.0, 2.0, (n, 2))
    raise ValueError(f"points kind {kind!r}: must be 'normal' or 'uniform'")


def blobs(n: int, centers: int, std: float, box: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's ``make_blobs``: ``centers`` isotropic clusters in [-box, box]^2.

    Returns
    -------
    x : ndarray of shape (n, 2)
    y : ndarray of shape (n,)
        The true cluster of each point.
    """
    from sklearn.datasets import make_blobs

    return make_blobs(n_samples=n, centers=centers, cluster_std=std, center_box=(-box, box), random_state=seed)


def fit(x: np.ndarray, n_components: int, seed: int, n_init: int = 1):
    """A full-covariance ``GaussianMixture`` fitted to ``x`` (shape (n, d))."""
    from sklearn.mixture import GaussianMixture

    return GaussianMixture(n_components, covariance_type="full", n_init=n_init, random_state=seed).fit(x)


def criteria_over_k(x: np.ndarray, ks, seed: int, n_init: int = 1) -> CriteriaOverK:
    """BIC and AIC of a full-covariance fit for each K in ``ks`` (every fit from ``seed``)."""
    ks = np.asarray(sorted(ks))
    fits = [fit(x, int(k), seed, n_init) for k in ks]
    return CriteriaOverK(k=ks, bic=np.array([g.bic(x) for g in fits]), aic=np.array([g.aic(x) for g in fits]))


def label_agreement(true: np.ndarray, pred: np.ndarray) -> float:
    """Adjusted Rand index between two labellings of the same points (1 = identical partitions)."""
    from sklearn.metrics import adjusted_rand_score

    return float(adjusted_rand_score(true, pred))
