"""The sweep, its scores and flags, selection, and the sampler, on mixtures with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.mixture import GaussianMixture

from gmmgen.core import mixture, sampling
from gmmgen.core.mixture import SweepError

PARAMS = {"n_init": 1, "reg_covar": 1e-6, "max_iter": 200, "tol": 1e-4, "init_params": "kmeans", "random_state": 0}


def blobs(n_per: int, centers: np.ndarray, seed: int = 0, scale: float = 1.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.concatenate([c + scale * rng.standard_normal((n_per, centers.shape[1])) for c in centers])


CENTERS = np.array([[0.0, 0, 0, 0], [10, 0, 0, 0], [0, 10, 0, 0]])


@pytest.mark.parametrize("cov", ["full", "diag", "spherical", "tied"])
def test_bic_picks_the_true_number_of_components(cov):
    x, x_test = blobs(200, CENTERS, 0), blobs(100, CENTERS, 1)
    rows, models = mixture.sweep(x, x_test, [1, 2, 3, 4, 5, 6], [cov], PARAMS, n_jobs=1, progress=False)
    best, notes = mixture.select(rows, "bic")
    assert best["n_components"] == 3 and notes == []
    assert set(models) == {(cov, k) for k in range(1, 7)}


def test_rows_carry_the_sklearn_scores():
    x, x_test = blobs(100, CENTERS, 0), blobs(50, CENTERS, 1)
    rows, models = mixture.sweep(x, x_test, [2, 3], ["full"], PARAMS, n_jobs=1, progress=False)
    for row in rows:
        gmm = models[("full", row["n_components"])]
        assert row["bic"] == pytest.approx(gmm.bic(x)) and row["aic"] == pytest.approx(gmm.aic(x))
        assert row["train_ll"] == pytest.approx(gmm.score(x)) and row["val_ll"] == pytest.approx(gmm.score(x_test))
        assert row["n_parameters"] == gmm._n_parameters()
        assert row["converged"] is True and row["n_iter"] == gmm.n_iter_ and row["fit_seconds"] > 0


@pytest.mark.parametrize("cov", ["full", "tied", "diag", "spherical"])
def test_parameter_count_matches_sklearn(cov):
    x = blobs(30, CENTERS, 0)
    gmm = GaussianMixture(3, covariance_type=cov, random_state=0).fit(x)
    assert mixture.n_parameters(3, 4, cov) == gmm._n_parameters()


def test_parallel_and_sequential_sweeps_agree_exactly():
    x, x_test = blobs(150, CENTERS, 0), blobs(50, CENTERS, 1)
    grid = ([1, 2, 3, 5], ["full", "diag"])
    seq, _ = mixture.sweep(x, x_test, *grid, PARAMS, n_jobs=1, progress=False)
    par, _ = mixture.sweep(x, x_test, *grid, PARAMS, n_jobs=2, progress=False)
    strip = lambda rows: [{k: v for k, v in r.items() if k != "fit_seconds"} for r in rows]  # noqa: E731
    assert strip(seq) == strip(par)
    assert [(r["covariance_type"], r["n_components"]) for r in par] == [(c, k) for c in grid[1] for k in grid[0]]


def test_failed_fit_is_recorded_and_the_sweep_goes_on():
    x, x_test = blobs(5, CENTERS, 0), blobs(5, CENTERS, 1)  # 15 points
    rows, models = mixture.sweep(x, x_test, [2, 3, 40], ["diag"], PARAMS, n_jobs=1, progress=False)
    failed = [r for r in rows if r["status"] == "failed"]
    assert [r["n_components"] for r in failed] == [40]
    assert "more than the 15 training points" in failed[0]["reason"] and math.isnan(failed[0]["bic"])
    assert ("diag", 40) not in models
    best, _ = mixture.select(rows, "bic")
    assert best["n_components"] in (2, 3)


def test_every_fit_failing_stops_with_a_clear_error():
    x = blobs(2, CENTERS, 0)
    rows, _ = mixture.sweep(x, x, [10, 20], ["full"], PARAMS, n_jobs=1, progress=False)
    with pytest.raises(SweepError, match="every fit in the sweep failed.*K=10"):
        mixture.select(rows, "bic")


def test_ill_defined_covariance_is_a_failed_row_not_a_crash():
    x = np.zeros((50, 3))
    x[:, 0] = np.repeat(np.arange(5.0), 10)  # points stacked on 5 spots, zero variance
    row, model = mixture.fit_one(x, x, 5, "full", {**PARAMS, "reg_covar": 0.0})
    assert model is None and row["status"] == "failed" and "covariance" in row["reason"]


def test_unconverged_fit_is_flagged_and_not_chosen():
    x, x_test = blobs(200, CENTERS, 0), blobs(50, CENTERS, 1)
    params = {**PARAMS, "max_iter": 1, "init_params": "random"}
    row, _ = mixture.fit_one(x, x_test, 6, "full", params)
    assert row["status"] == "not_converged" and "did not converge" in row["reason"]
    good, _ = mixture.fit_one(x, x_test, 3, "full", PARAMS)
    assert mixture.select([row, good], "aic")[0] is good
    only, notes = mixture.select([row], "bic")
    assert only is row and "no fit converged" in notes[0]


def test_degenerate_components_are_counted():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((120, 10))
    row, gmm = mixture.fit_one(x, x, 30, "full", PARAMS)  # ~4 points a component in 10 dims
    assert row["n_degenerate"] > 0 and row["status"] == "degenerate"
    assert row["min_effective_points"] < 11
    assert f"/{30} components have fewer than 11 effective points" in row["reason"]
    ok, _ = mixture.fit_one(x, x, 1, "full", PARAMS)  # 120 points for 55 covariance parameters
    assert ok["n_degenerate"] == ok["n_thin"] == 0 and ok["status"] == "sound"


def test_a_full_covariance_needs_more_than_d_points():
    """m points give a covariance of rank m - 1: d points in d dimensions are still singular."""
    assert mixture.min_points(10, "full") == 11
    rng = np.random.default_rng(0)
    x = rng.standard_normal((10, 10))
    assert np.linalg.matrix_rank(np.cov(x, rowvar=False)) == 9
    row, _ = mixture.fit_one(x, x, 1, "full", PARAMS)
    assert row["status"] == "degenerate" and row["min_effective_points"] == pytest.approx(10)


def test_thin_components_are_a_separate_status():
    """Estimable (more than d points) but fewer points than free covariance parameters: thin, not sound."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 10))  # K=1: 40 points > 11 needed, but 40 / 55 parameters < 1
    row, _ = mixture.fit_one(x, x, 1, "full", PARAMS)
    assert row["status"] == "thin" and row["n_thin"] == 1 and row["n_degenerate"] == 0
    assert row["min_points_per_parameter"] == pytest.approx(40 / 55)
    assert "thin" in row["reason"] and "55 parameters" in row["reason"]
    loose, _ = mixture.fit_one(x, x, 1, "full", PARAMS, thin=0.5)  # the threshold is a setting
    assert loose["status"] == "sound"
    diag, _ = mixture.fit_one(x, x, 1, "diag", PARAMS)  # 10 parameters: 4 points each
    assert diag["status"] == "sound" and diag["min_points_per_parameter"] == pytest.approx(4.0)
    # Thin fits can still be chosen; degenerate ones are passed over.
    assert mixture.select([row], "bic")[0] is row


def test_selection_by_each_criterion_and_edge_warning():
    rows = [
        dict(covariance_type="full", n_components=k, status="sound", converged=True, bic=b, aic=a, val_ll=t)
        for k, b, a, t in [(1, 30.0, 30.0, -5.0), (2, 10.0, 20.0, -1.0), (4, 20.0, 5.0, -2.0)]
    ]
    assert mixture.select(rows, "bic") == (rows[1], [])
    best, notes = mixture.select(rows, "aic")
    assert best is rows[2] and "largest value of the grid" in notes[0]
    assert mixture.select(rows, "heldout")[0] is rows[1]
    assert set(mixture.choices(rows)) == {"bic", "aic", "heldout"}


def test_single_k_grid_is_not_an_edge_warning():
    row = dict(covariance_type="full", n_components=110, status="sound", converged=True, bic=1.0, aic=1.0, val_ll=0.0)
    assert mixture.select([row], "bic") == (row, [])


# ----------------------------------------------------------------------------- sampler


def _gmm(cov: str) -> GaussianMixture:
    x = blobs(300, CENTERS, 0, scale=0.5)
    x = np.concatenate([x[:300], x[300:400], x[600:650]])  # weights ~ 0.67 / 0.22 / 0.11
    return GaussianMixture(3, covariance_type=cov, random_state=0).fit(x)


@pytest.mark.parametrize("cov", ["full", "tied", "diag", "spherical"])
def test_draws_follow_the_weights_means_and_covariances(cov):
    gmm = _gmm(cov)
    z, labels = sampling.draw(gmm, 60_000, seed=1)
    share = np.bincount(labels, minlength=3) / len(labels)
    np.testing.assert_allclose(share, gmm.weights_, atol=0.01)
    for k in range(3):
        pts = z[labels == k]
        np.testing.assert_allclose(pts.mean(0), gmm.means_[k], atol=0.05)
        if cov == "full":
            want = gmm.covariances_[k]
        elif cov == "tied":
            want = gmm.covariances_
        elif cov == "diag":
            want = np.diag(gmm.covariances_[k])
        else:
            want = np.eye(4) * gmm.covariances_[k]
        np.testing.assert_allclose(np.cov(pts.T), want, atol=0.05)


def test_draws_are_shuffled_and_seeded():
    gmm = _gmm("full")
    z1, l1 = sampling.draw(gmm, 500, seed=5)
    z2, l2 = sampling.draw(gmm, 500, seed=5)
    z3, _ = sampling.draw(gmm, 500, seed=6)
    np.testing.assert_array_equal(z1, z2)
    np.testing.assert_array_equal(l1, l2)
    assert not np.allclose(z1, z3)
    assert np.any(np.diff(l1) < 0), "draws are grouped by component, not shuffled"
    # sklearn's own sample() is grouped and repeats itself: the reason this module exists.
    _, sk_labels = gmm.sample(500)
    assert np.all(np.diff(sk_labels) >= 0)


def test_draw_takes_the_weights_as_proportions():
    """Weights that do not sum to 1 (float32 weights from a GPU fit sum to 1 only within rounding) are normalised."""
    gmm = _gmm("diag")
    gmm.weights_ = np.array([0.3, 0.1, 0.1])  # sum 0.5: shares 0.6 / 0.2 / 0.2
    _, labels = sampling.draw(gmm, 20_000, seed=2)
    np.testing.assert_allclose(np.bincount(labels, minlength=3) / 20_000, [0.6, 0.2, 0.2], atol=0.015)


@pytest.mark.parametrize("cov", ["full", "tied", "diag", "spherical"])
def test_draws_in_another_namespace_are_the_numpy_draws(cov):
    """A mixture whose arrays live in another Array API namespace draws the same points there, for every type."""
    pytest.importorskip("array_api_strict")
    from gmmgen.core.compute import Compute, namespace_name, to_numpy

    gmm = _gmm(cov)
    points, labels = sampling.draw(gmm, 300, seed=3)
    points_s, labels_s = sampling.draw(Compute("array_api_strict").estimator(gmm), 300, seed=3)
    assert namespace_name(points_s) == "array_api_strict" and isinstance(labels_s, np.ndarray)
    np.testing.assert_array_equal(labels_s, labels)
    np.testing.assert_allclose(to_numpy(points_s), points, rtol=0, atol=1e-9)


def test_generated_images_are_the_draws_mapped_back_through_the_pca():
    """Digits drawn in PCA coordinates, mapped back to pixels, clipped and rounded: uint8 images with their labels,
    the same on another Array API namespace."""
    from sklearn.decomposition import PCA

    from gmmgen.core import reduce

    pixels = np.random.default_rng(0).random((120, 16))
    pca = PCA(3, whiten=True).fit(pixels)
    gmm = GaussianMixture(2, random_state=0).fit(pca.transform(pixels))
    images, labels = sampling.generate_images(pca, gmm, 25, seed=4, shape=(4, 4))
    z, want_labels = sampling.draw(gmm, 25, seed=4)
    assert images.shape == (25, 4, 4) and images.dtype == np.uint8
    np.testing.assert_array_equal(labels, want_labels)
    np.testing.assert_array_equal(images, reduce.to_images(pca.inverse_transform(z), (4, 4)))
    pytest.importorskip("array_api_strict")
    from gmmgen.core.compute import Compute

    strict = Compute("array_api_strict")
    images_s, labels_s = sampling.generate_images(strict.estimator(pca), strict.estimator(gmm), 25, 4, (4, 4))
    assert isinstance(images_s, np.ndarray) and isinstance(labels_s, np.ndarray)
    np.testing.assert_array_equal(labels_s, labels)
    np.testing.assert_array_equal(images_s, images)
