"""Known answers for core/sampling's residual draws and block-wise full-covariance draws, and core/mixture's
k-means start and flagged-fits line (focused tests: the mutation campaign runs them against each mutant)."""

from __future__ import annotations

import logging
import tracemalloc

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.mixture import GaussianMixture

from gmmgen.core import mixture, reduce, sampling
from gmmgen.core.likelihood import from_sklearn


@pytest.fixture(scope="module")
def fitted():
    """PCA (10 of 64 dims, whitened) and a full K=3 mixture on 400 of sklearn's 8x8 digits."""
    x = load_digits().data[:400] / 16.0
    pca = PCA(n_components=10, whiten=True, random_state=0).fit(x)
    gmm = GaussianMixture(3, covariance_type="full", random_state=0).fit(pca.transform(x))
    return pca, gmm


def test_residual_noise_lies_in_the_discarded_directions_with_the_residual_variance(fitted):
    pca, _ = fitted
    e = sampling.residual_noise(pca, 4000, 7, 0.25)
    assert e.shape == (4000, 64)
    assert np.abs(e @ pca.components_.T).max() < 1e-10  # nothing along the kept axes
    # E|e|^2 = sigma2 (D - q): 0.25 * 54 = 13.5 per row.
    assert np.mean(np.sum(e**2, axis=1)) == pytest.approx(0.25 * 54, rel=0.02)
    w = pca.components_
    raw = np.random.default_rng([7, 1]).standard_normal((4000, 64)) * 0.5
    np.testing.assert_array_equal(e, raw - (raw @ w.T) @ w)  # numpy's draw from (seed, 1), projected
    assert not np.array_equal(e, sampling.residual_noise(pca, 4000, 8, 0.25))


def test_residual_digits_are_the_mean_digits_plus_the_scored_residual(fitted):
    pca, gmm = fitted
    mean_images, labels = sampling.generate_images(pca, gmm, 50, 3, (8, 8))
    noisy, labels_r = sampling.generate_images(pca, gmm, 50, 3, (8, 8), residual=True)
    np.testing.assert_array_equal(labels, labels_r)  # the same latent draws
    z, _ = sampling.draw(gmm, 50, 3)
    sigma2 = from_sklearn(pca, gmm).sigma2
    expected = reduce.to_images(pca.inverse_transform(z) + sampling.residual_noise(pca, 50, 3, sigma2), (8, 8))
    np.testing.assert_array_equal(noisy, expected)
    np.testing.assert_array_equal(mean_images, reduce.to_images(pca.inverse_transform(z), (8, 8)))
    assert not np.array_equal(noisy, mean_images)


def test_full_covariance_draws_go_block_by_block_with_the_one_pass_numbers(fitted, monkeypatch):
    _, gmm = fitted
    n = 2 * sampling.DRAW_BLOCK + 7
    z_blocks, labels = sampling.draw(gmm, n, 11)
    rng = np.random.default_rng(11)
    counts = rng.multinomial(n, gmm.weights_ / gmm.weights_.sum())
    again = np.repeat(np.arange(3), counts)
    rng.shuffle(again)
    np.testing.assert_array_equal(labels, again)
    z = rng.standard_normal((n, gmm.means_.shape[1]))
    one_pass = gmm.means_[labels] + np.einsum("nij,nj->ni", np.linalg.cholesky(gmm.covariances_)[labels], z)
    np.testing.assert_allclose(z_blocks, one_pass, rtol=0, atol=1e-12)
    calls = []
    einsum = np.einsum
    monkeypatch.setattr(np, "einsum", lambda *a, **k: calls.append(a[1].shape[0]) or einsum(*a, **k))
    sampling.draw(gmm, n, 11)
    assert calls == [sampling.DRAW_BLOCK, sampling.DRAW_BLOCK, 7]  # three blocks, none larger than DRAW_BLOCK


def test_a_large_full_covariance_draw_never_gathers_every_factor_at_once():
    d, n = 40, 6000
    rng = np.random.default_rng(0)
    gmm = GaussianMixture(2, covariance_type="full")
    gmm.weights_ = np.array([0.5, 0.5])
    gmm.means_ = rng.standard_normal((2, d))
    gmm.covariances_ = np.stack([np.eye(d), 2 * np.eye(d)])
    tracemalloc.start()
    sampling.draw(gmm, n, 0)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    # All factors at once: n * d * d * 8 bytes = 77 MB; a block of DRAW_BLOCK rows: 6.4 MB, plus the (n, d) arrays.
    assert peak < 20e6, peak


def test_kmeans_start_uses_the_configured_regularisation_and_initialisation():
    x = load_digits().data[:300, :6] / 16.0
    base = mixture.kmeans_start(x, 3, "diag", {}, np.random.RandomState(0))
    reg = mixture.kmeans_start(x, 3, "diag", {"reg_covar": 1.0}, np.random.RandomState(0))
    # diag precisions = 1 / (variance + reg_covar): a reg_covar of 1 caps every precision at 1.
    assert base[2].max() > 1 and reg[2].max() <= 1
    np.testing.assert_allclose(1 / reg[2] - 1, 1 / base[2] - 1e-6, rtol=1e-6)
    rand = mixture.kmeans_start(x, 3, "diag", {"init_params": "random"}, np.random.RandomState(0))
    assert not np.allclose(rand[1], base[1])  # another start


def test_the_flagged_fits_line_names_each_fit_by_status(caplog):
    x = np.random.default_rng(0).standard_normal((40, 3))
    with caplog.at_level(logging.INFO, logger="gmmgen.core.mixture"):
        rows, _ = mixture.sweep(x, x[:10], [1, 12, 16], ["full"], {"random_state": 0}, n_jobs=1, progress=False)
    flagged = [f"full K={r['n_components']}" for r in rows if r["status"] not in ("sound", "thin")]
    assert len(flagged) >= 2
    (line,) = [r.getMessage() for r in caplog.records if "fits flagged" in r.getMessage()]
    assert f"{', '.join(flagged)} (reasons in sweep.csv" in line, line
