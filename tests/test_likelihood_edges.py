"""The pixel density at its edges: far-away points, data with no variance, a wrong covariance type."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest
from sklearn.decomposition import PCA
from sklearn.mixture import GaussianMixture

from gmmgen.core import likelihood


def _density(x, q, k=2):
    pca = PCA(n_components=q, whiten=True, svd_solver="full").fit(x)
    gmm = GaussianMixture(k, random_state=0, reg_covar=1e-3).fit(pca.transform(x))
    return pca, gmm, likelihood.from_sklearn(pca, gmm)


def test_far_points_get_finite_log_densities():
    """Log densities of -1e6 nats: the log-sum-exp is taken around its largest term, not underflowed to -inf."""
    x = np.random.default_rng(0).standard_normal((200, 3))
    pca, gmm, density = _density(x, 3)
    z = np.full((2, 3), 1e3)
    got = likelihood.mixture_log_density(density, z)
    assert np.all(np.isfinite(got)) and np.all(got < -1e5)
    np.testing.assert_allclose(got, gmm.score_samples(z), rtol=1e-9)


def test_data_without_variance_gets_the_floor_variance():
    x = np.zeros((20, 5))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-learn warns about the 0/0 variance ratio
        pca = PCA(n_components=2, svd_solver="full").fit(x)
        gmm = GaussianMixture(1, reg_covar=1e-3).fit(pca.transform(x))
        density = likelihood.from_sklearn(pca, gmm)
    assert density.sigma2 == likelihood.SIGMA2_FLOOR


def test_unknown_covariance_type_is_named():
    x = np.random.default_rng(1).standard_normal((50, 3))
    _, _, density = _density(x, 2, k=1)
    bad = dataclasses.replace(density, covariance_type="round")
    with pytest.raises(ValueError, match=r"^covariance_type='round': must be full, tied, diag or spherical$"):
        likelihood.mixture_log_density(bad, np.zeros((1, 2)))


def test_float32_estimators_give_a_float64_density():
    """Estimators fitted on float32 pixels hold float32 arrays; the density on numpy is computed in float64."""
    x = np.random.default_rng(2).standard_normal((200, 6)).astype(np.float32)
    pca, gmm, density = _density(x, 3)
    assert pca.components_.dtype == gmm.means_.dtype == np.float32
    arrays = ("mean", "components", "scale", "weights", "means", "precisions_cholesky")
    assert {name: getattr(density, name).dtype for name in arrays} == dict.fromkeys(arrays, np.dtype(np.float64))
    ll = likelihood.log_density(density, x.astype(np.float64))
    assert ll.dtype == np.float64
    np.testing.assert_allclose(
        ll,
        gmm.score_samples(pca.transform(x))
        + likelihood.pixel_offset(density, likelihood.project(density, x.astype(np.float64))[1]),
        rtol=1e-4,
    )
