"""The yardstick placed: the NLL split, the independent-pixel histogram and the single Gaussian, by known answers."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy.stats import multivariate_normal
from sklearn.decomposition import PCA
from sklearn.mixture import GaussianMixture

from gmmgen.core import baselines, likelihood
from gmmgen.core.sweep_table import SPLIT_FIELDS, read_sweep_csv
from gmmgen.pipeline.stages.data import run_data
from gmmgen.pipeline.stages.reduce import run_reduce
from gmmgen.pipeline.stages.select import run_select

from .conftest import TINY, compose_cfg


@pytest.fixture(scope="module")
def digits():
    """Small 8x8-like uint8 digits (smooth blobs plus noise), 64 pixels: fast and full-rank enough."""
    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, size=(4, 8, 8))
    idx = rng.integers(0, 4, size=300)
    noisy = base[idx] + rng.normal(0, 30, size=(300, 8, 8))
    return np.clip(noisy, 0, 255).astype(np.uint8)


def test_histogram_of_constant_images_by_hand():
    # Ten training images, every pixel at level 7; Laplace smoothing: p(7) = (10 + 1) / (10 + 256), else 1 / 266.
    train = np.full((10, 2, 3), 7, np.uint8)
    lp = baselines.histogram_fit(train, alpha=1.0)
    same = -baselines.histogram_log_likelihood(lp, np.full((1, 2, 3), 7, np.uint8))
    other = -baselines.histogram_log_likelihood(lp, np.full((1, 2, 3), 8, np.uint8))
    assert same[0] == pytest.approx(6 * math.log(266 / 11), abs=1e-12)
    assert other[0] == pytest.approx(6 * math.log(266), abs=1e-12)
    assert np.allclose(np.exp(lp).sum(axis=1), 1.0)
    rep = baselines.report(same, 6)
    assert rep["bits_per_pixel"] == pytest.approx(math.log2(266 / 11), abs=1e-12)


def test_histogram_equals_the_dequantized_density_whatever_the_noise(digits):
    # The histogram's density on v = pixel + u is piecewise constant on the unit cells: any u gives the same value.
    lp = baselines.histogram_fit(digits[:200])
    test = digits[200:]
    exact = baselines.histogram_log_likelihood(lp, test)
    for seed in (0, 1):
        v = likelihood.dequantize(test, seed) * likelihood.PIXEL_SCALE  # in levels, [0, 256)
        cells = np.floor(v).astype(int)
        assert np.array_equal(cells, test.reshape(len(test), -1))
        by_cell = lp[np.arange(64), cells].sum(axis=1)
        assert np.allclose(by_cell, exact, atol=1e-12)


def test_histogram_refuses_bad_input():
    with pytest.raises(ValueError, match="alpha"):
        baselines.histogram_fit(np.zeros((2, 2, 2), np.uint8), alpha=0)
    with pytest.raises(ValueError, match="uint8"):
        baselines.histogram_fit(np.zeros((2, 4)))


def test_single_gaussian_is_the_scipy_normal_in_pixel_space(digits):
    x = digits.reshape(len(digits), -1) / 255.0
    pca = PCA(n_components=10, whiten=True, svd_solver="full").fit(x[:200])
    z = pca.transform(x[:200])
    g = baselines.single_gaussian(z, reg_covar=1e-6)
    # the mixture term: scipy's normal with the same mean and covariance
    dens = likelihood.from_sklearn(pca, g)
    rows = likelihood.dequantize(digits[200:], 3)
    zt = pca.transform(rows)
    mvn = multivariate_normal(g.means_[0], g.covariances_[0]).logpdf(zt)
    assert np.allclose(likelihood.mixture_log_density(dens, zt), mvn, atol=1e-10)
    # the whole pixel density: one 64-d normal, N(mu + W^T S m, W^T S C S W + sigma^2 (I - W^T W))
    w, s = pca.components_, np.sqrt(pca.explained_variance_)
    cov = w.T @ np.diag(s) @ g.covariances_[0] @ np.diag(s) @ w + dens.sigma2 * (np.eye(64) - w.T @ w)
    full = multivariate_normal(pca.mean_ + w.T @ (s * g.means_[0]), cov).logpdf(rows)
    assert np.allclose(likelihood.log_density(dens, rows), full, atol=1e-8)
    # and it is what GaussianMixture(n_components=1) fits
    gm = GaussianMixture(1, covariance_type="full", reg_covar=1e-6).fit(z)
    assert np.allclose(gm.score_samples(zt), mvn, atol=1e-8)


def test_split_sums_to_the_nll(digits):
    x = digits.reshape(len(digits), -1) / 255.0
    pca = PCA(n_components=6, whiten=True, svd_solver="full").fit(x[:200])
    gmm = GaussianMixture(3, covariance_type="full", random_state=0).fit(pca.transform(x[:200]))
    dens = likelihood.from_sklearn(pca, gmm)
    rows = likelihood.dequantize(digits[200:], 5)
    split = likelihood.nll_split(dens, rows)
    total = -likelihood.discrete_log_likelihood(likelihood.log_density(dens, rows), 64)
    assert np.allclose(split["mixture"] + split["jacobian"] + split["residual"], total, rtol=0, atol=1e-10)
    assert np.allclose(split["total"], total, rtol=0, atol=1e-10)
    # the Jacobian is the PCA's alone: sum of log(255 sqrt(lambda)); the mixture term is -score_samples
    assert split["jacobian"][0] == pytest.approx(np.sum(np.log(255 * np.sqrt(pca.explained_variance_))), abs=1e-10)
    assert np.allclose(split["mixture"], -gmm.score_samples(pca.transform(rows)), atol=1e-10)
    assert np.mean(split["total"]) == pytest.approx(likelihood.nll_8bit(dens, digits[200:], 5)["nats_per_image"])


def test_select_writes_the_split_and_the_baselines(tmp_path):
    cfg = compose_cfg(tmp_path, [*TINY, "sweep.n_components=[1,2,4]"])
    for run in (run_data, run_reduce, run_select):
        out = run(cfg)
    rows = read_sweep_csv(out / "sweep.csv")
    for r in rows:
        if r["status"] == "failed":
            continue
        parts = sum(r[k] for k in SPLIT_FIELDS)
        assert parts == pytest.approx(r["val_nll_nats"], rel=0, abs=1e-9)
        assert r["val_nll_mixture"] == -r["val_ll"]
    assert len({r["val_nll_residual"] for r in rows if r["status"] != "failed"}) == 1  # the mixture does not move it
    metrics = json.loads((out / "metrics.json").read_text())
    base = metrics["yardstick"]["baselines"]
    assert 0 < base["histogram"]["val_bpp"] < 8 and 0 < base["histogram"]["test_bpp"] < 8
    gauss, k1 = base["gaussian"], [r for r in rows if r["n_components"] == 1]
    assert k1  # the K=1 fit of the sweep is the closed-form Gaussian
    assert gauss["val_nll_nats"] == pytest.approx(k1[0]["val_nll_nats"], abs=1e-6)
    assert sum(gauss[f"val_nll_{k}"] for k in ("mixture", "jacobian", "residual")) == pytest.approx(
        gauss["val_nll_nats"], abs=1e-9
    )
    assert set(SPLIT_FIELDS) <= set(metrics["chosen"])


def test_residual_draws_come_from_the_scored_density(digits):
    """sample.residual: the noise lives in the discarded directions with variance sigma^2; the latent draws stay."""
    from gmmgen.core.sampling import generate_images, residual_noise

    x = digits.reshape(len(digits), -1) / 255.0
    pca = PCA(n_components=6, whiten=True, svd_solver="full").fit(x)
    gmm = GaussianMixture(2, covariance_type="full", random_state=0).fit(pca.transform(x))
    sigma2 = likelihood.from_sklearn(pca, gmm).sigma2
    noise = residual_noise(pca, 4000, 7, sigma2)
    assert np.abs(noise @ pca.components_.T).max() < 1e-10  # nothing in the kept directions
    per_direction = np.sum(noise**2, axis=1).mean() / (64 - 6)
    assert per_direction == pytest.approx(sigma2, rel=0.02)
    plain, labels = generate_images(pca, gmm, 50, 7, (8, 8))
    noisy, labels_r = generate_images(pca, gmm, 50, 7, (8, 8), residual=True)
    assert np.array_equal(labels, labels_r) and not np.array_equal(plain, noisy)
    # the noisy digits' residual energy is what the density expects; the mean images have none
    resid = lambda im: likelihood.project(likelihood.from_sklearn(pca, gmm), im.reshape(50, -1) / 255.0)[1]  # noqa: E731
    assert resid(noisy).mean() > 10 * resid(plain).mean()
