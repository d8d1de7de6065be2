"""The pixel-space likelihood against an explicit D-dimensional Gaussian mixture (scipy), and its units."""

from __future__ import annotations

import gzip
import math

import numpy as np
import pytest
from scipy.special import logsumexp
from scipy.stats import multivariate_normal
from sklearn.mixture import GaussianMixture

from gmmgen.core import data, likelihood, reduce

from .conftest import SHARED_MNIST


def explicit_log_density(pca, gmm, x: np.ndarray) -> np.ndarray:
    """log p(x) as a mixture of full D-dimensional Gaussians, built from the fitted parameters."""
    d = pca.n_features_in_
    w = pca.components_
    s = np.sqrt(pca.explained_variance_) if pca.whiten else np.ones(pca.n_components_)
    total = pca.explained_variance_[0] / pca.explained_variance_ratio_[0]
    sigma2 = max((total - pca.explained_variance_.sum()) / (d - pca.n_components_), likelihood.SIGMA2_FLOOR)
    back = w.T * s  # D x q: z -> pixel offset
    residual_cov = sigma2 * (np.eye(d) - w.T @ w)
    covs = {
        "full": lambda k: gmm.covariances_[k],
        "tied": lambda k: gmm.covariances_,
        "diag": lambda k: np.diag(gmm.covariances_[k]),
        "spherical": lambda k: gmm.covariances_[k] * np.eye(pca.n_components_),
    }[gmm.covariance_type]
    parts = []
    for k in range(gmm.n_components):
        mean = pca.mean_ + back @ gmm.means_[k]
        cov = back @ covs(k) @ back.T + residual_cov
        parts.append(np.log(gmm.weights_[k]) + multivariate_normal(mean, cov).logpdf(x))
    return logsumexp(np.stack(parts, axis=1), axis=1)


@pytest.fixture(autouse=True)
def one_blas_thread():
    """Small dense algebra: one BLAS thread is fastest and immune to a busy machine's oversubscription."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="module")
def digits8():
    digits = data.load_digits_8x8()
    return reduce.to_features(digits.x_train[:400]), reduce.to_features(digits.x_train[400:440])


@pytest.mark.parametrize(
    ("cov", "whiten"), [("full", True), ("full", False), ("tied", True), ("diag", False), ("spherical", True)]
)
def test_equals_an_explicit_64_dimensional_gaussian_mixture(digits8, cov, whiten):
    x_train, x_new = digits8
    pca = reduce.fit_pca(x_train, None, 12, whiten=whiten)
    gmm = GaussianMixture(3, covariance_type=cov, random_state=0).fit(pca.transform(x_train))
    ours = likelihood.log_density(likelihood.from_sklearn(pca, gmm), x_new)
    np.testing.assert_allclose(ours, explicit_log_density(pca, gmm, x_new), rtol=1e-9)
    # And the mixture part is scikit-learn's own score in PCA coordinates.
    density = likelihood.from_sklearn(pca, gmm)
    z, res = likelihood.project(density, x_new)
    np.testing.assert_allclose(likelihood.mixture_log_density(density, z), gmm.score_samples(pca.transform(x_new)))
    np.testing.assert_allclose(gmm.score_samples(pca.transform(x_new)) + likelihood.pixel_offset(density, res), ours)


@pytest.mark.parametrize("whiten", [True, False])
def test_equals_an_explicit_784_dimensional_gaussian_mixture_on_real_mnist(whiten):
    raw = gzip.decompress((SHARED_MNIST / "t10k-images-idx3-ubyte.gz").read_bytes())
    images = data.parse_idx(raw)
    x_train, x_new = reduce.to_features(images[:400]), reduce.to_features(images[400:405])
    pca = reduce.fit_pca(x_train, None, 15, whiten=whiten)
    gmm = GaussianMixture(2, covariance_type="full", random_state=0).fit(pca.transform(x_train))
    ours = likelihood.log_density(likelihood.from_sklearn(pca, gmm), x_new)
    np.testing.assert_allclose(ours, explicit_log_density(pca, gmm, x_new), rtol=1e-9)


def test_whitening_does_not_change_the_pixel_density(digits8):
    """Whitening rescales the PCA coordinates; the Jacobian makes the pixel density the same."""
    x_train, x_new = digits8
    dens = []
    for whiten in (True, False):
        pca = reduce.fit_pca(x_train, None, 10, whiten=whiten)
        gmm = GaussianMixture(1, covariance_type="full", reg_covar=0.0).fit(pca.transform(x_train))
        dens.append(likelihood.log_density(likelihood.from_sklearn(pca, gmm), x_new))
    np.testing.assert_allclose(dens[0], dens[1], rtol=1e-7)


def test_the_density_integrates_to_one_in_two_dimensions():
    """A true density: numeric integration over a 2-pixel plane (q=1 kept, 1 residual direction)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((500, 2)) @ np.array([[0.3, 0.1], [0.0, 0.05]]) + 0.5
    pca = reduce.fit_pca(x, None, 1, whiten=True)
    gmm = GaussianMixture(2, random_state=0).fit(pca.transform(x))
    dens = likelihood.from_sklearn(pca, gmm)
    g = np.linspace(-1.5, 2.5, 801)
    xx, yy = np.meshgrid(g, g)
    p = np.exp(likelihood.log_density(dens, np.c_[xx.ravel(), yy.ravel()]))
    assert p.sum() * (g[1] - g[0]) ** 2 == pytest.approx(1.0, abs=1e-4)


def test_sigma2_floor_and_units():
    assert likelihood.residual_variance(np.array([2.0, 1.0]), 3.0, 4) == likelihood.SIGMA2_FLOOR
    assert likelihood.residual_variance(np.array([2.0, 1.0]), 5.0, 4) == pytest.approx(1.0)
    assert likelihood.bits_per_pixel(784 * math.log(2.0), 784) == pytest.approx(1.0)
    images = np.full((3, 2, 2), 7, np.uint8)
    deq = likelihood.dequantize(images, seed=0)
    assert deq.shape == (3, 4) and np.all((deq >= 7 / 255) & (deq < 8 / 255))
    np.testing.assert_array_equal(deq, likelihood.dequantize(images, seed=0))


def test_uniform_density_on_the_cube_is_eight_bits_per_pixel():
    """A model with density 1/255^D on the pixel cube has log p(v) = -D log 256... checked via the units."""
    d = 16
    # log p_feature = 0 (uniform on [0,1]^D): nats per image = D log 255, bits per pixel = log2(255).
    nats = -likelihood.discrete_log_likelihood(np.zeros(1), d)[0]
    assert nats == pytest.approx(d * math.log(255.0))
    assert likelihood.bits_per_pixel(nats, d) == pytest.approx(math.log2(255.0))


def test_runs_with_different_pca_settings_are_ranked_by_the_pixel_likelihood(tmp_path):
    """One yardstick across PCA dimensions: each run's val_bpp is the exact pixel likelihood of the same digits."""
    import joblib

    from gmmgen.core.io import read_json
    from gmmgen.pipeline.stages.common import load_dataset, stage_dir
    from gmmgen.pipeline.stages.data import run_data
    from gmmgen.pipeline.stages.reduce import run_reduce
    from gmmgen.pipeline.stages.select import run_select
    from gmmgen.runtime.hydra_callbacks import rank_jobs
    from gmmgen.runtime.validation import validate

    from .conftest import TINY, compose_cfg

    rows = []
    for i, (variance, whiten) in enumerate([(0.5, "true"), (0.8, "false"), (0.95, "true")]):
        overrides = [*TINY, "sweep.n_components=[2,4]", f"pca.variance={variance}", f"pca.whiten={whiten}"]
        cfg = compose_cfg(tmp_path / str(i), overrides)
        validate(cfg)
        for stage in (run_data, run_reduce, run_select):
            stage(cfg)
        chosen = read_json(stage_dir(cfg, "select") / "metrics.json")["chosen"]
        pca = joblib.load(stage_dir(cfg, "reduce") / "pca.joblib")
        gmm = joblib.load(stage_dir(cfg, "select") / "model.joblib")
        ds = load_dataset(cfg)
        direct = likelihood.nll_8bit(likelihood.from_sklearn(pca, gmm), ds["x_val"], seed=int(cfg.seed))
        assert chosen["val_bpp"] == pytest.approx(direct["bits_per_pixel"], rel=1e-9)
        assert chosen["val_nll_nats"] == pytest.approx(direct["nats_per_image"], rel=1e-9)
        sha = read_json(stage_dir(cfg, "data") / "provenance.json")["dataset_sha256"]
        rows.append({"job": i, "dims": pca.n_components_, "val_bpp": chosen["val_bpp"], "data_sha256": sha})
    assert len({r["dims"] for r in rows}) == 3
    ranked, note = rank_jobs(rows)
    assert [r["val_bpp"] for r in ranked] == sorted(r["val_bpp"] for r in rows)
    assert [r["rank"] for r in ranked] == [1, 2, 3] and note.startswith("comparable")
    ranked, note = rank_jobs([*rows[:2], {**rows[2], "data_sha256": "other"}, {"val_bpp": None, "data_sha256": ""}])
    assert note.startswith("NOT comparable") and ranked[-1]["rank"] == ""
