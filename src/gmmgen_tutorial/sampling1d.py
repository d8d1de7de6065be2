"""Tutorial section 3: fit a 1-D mixture, draw new points from it, and test the draws.

Two Kolmogorov-Smirnov tests: one-sample, the draws against the fitted
mixture's own CDF (is the sampler right?), and two-sample, the draws against
the data (does the model reproduce the data?).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class DrawTests:
    """Kolmogorov-Smirnov statistics and p-values of the draws.

    Attributes
    ----------
    ks_model, p_model : float
        One-sample test of the draws against the fitted mixture's CDF.
    ks_data, p_data : float
        Two-sample test of the draws against the data.
    """

    ks_model: float
    p_model: float
    ks_data: float
    p_data: float


def make_data(means, variances, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` points from an equal-weight mixture of Gaussians (``variances``, not scales): shape (n,)."""
    means, sd = np.asarray(means, float), np.sqrt(np.asarray(variances, float))
    comp = rng.integers(0, len(means), n)
    return rng.normal(means[comp], sd[comp])


def fit(x: np.ndarray, n_components: int, seed: int):
    """A 1-D ``GaussianMixture`` fitted to ``x`` (shape (n,))."""
    from sklearn.mixture import GaussianMixture

    return GaussianMixture(n_components, random_state=seed).fit(np.asarray(x, float)[:, None])


def parameters(gm) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Means, variances and weights of a fitted 1-D mixture, each of shape (K,), ordered by mean."""
    order = np.argsort(gm.means_[:, 0])
    return gm.means_[order, 0], gm.covariances_.reshape(len(order), -1)[order, 0], gm.weights_[order]


def draw(gm, n: int, seed: int) -> np.ndarray:
    """``n`` shuffled draws from the fitted mixture: shape (n,). See :func:`gmmgen.core.sampling.draw`."""
    from gmmgen.core.sampling import draw as draw_points

    points, _ = draw_points(gm, n, seed)
    return points[:, 0]


def mixture_cdf(t: np.ndarray, means: np.ndarray, variances: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """CDF of the 1-D mixture at ``t`` (any shape)."""
    from scipy.stats import norm

    t = np.asarray(t, float)
    return np.sum(weights * norm.cdf(t[..., None], means, np.sqrt(variances)), axis=-1)


def test_draws(draws: np.ndarray, data: np.ndarray, means, variances, weights) -> DrawTests:
    """Both KS tests of ``draws`` (shape (m,)): against the mixture's CDF and against ``data`` (shape (n,))."""
    from scipy.stats import ks_1samp, ks_2samp

    one = ks_1samp(draws, lambda t: mixture_cdf(t, means, variances, weights))
    two = ks_2samp(draws, data)
    return DrawTests(float(one.statistic), float(one.pvalue), float(two.statistic), float(two.pvalue))
