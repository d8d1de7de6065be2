"""PCA helpers, exactly: pixel scaling both ways, the bounds on what is kept, solver and seed, the summary."""

from __future__ import annotations

import numpy as np
import pytest

from gmmgen.core import reduce


@pytest.fixture(scope="module")
def x():
    rng = np.random.default_rng(0)
    return rng.random((60, 12)) @ np.diag(np.linspace(2.0, 0.1, 12))


def test_features_are_float64_pixels_on_0_1():
    images = np.array([[[0, 255], [51, 102]], [[255, 255], [0, 0]]], np.uint8)
    features = reduce.to_features(images)
    assert features.dtype == np.float64 and features.shape == (2, 4)
    np.testing.assert_allclose(features, [[0.0, 1.0, 0.2, 0.4], [1.0, 1.0, 0.0, 0.0]])
    np.testing.assert_array_equal(reduce.to_images(features, (2, 2)), images)


def test_everything_kept_at_variance_one_and_at_most_min_shape(x):
    assert reduce.fit_pca(x, 1.0, None, whiten=False).n_components_ == 12
    assert reduce.fit_pca(x, None, 12, whiten=False).n_components_ == 12  # min(60, 12): allowed
    with pytest.raises(ValueError, match=r"^n_components=13: must be at most min\(n_samples, n_features\) = 12$"):
        reduce.fit_pca(x, None, 13, whiten=False)
    assert reduce.fit_pca(x[:8], None, 8, whiten=False).n_components_ == 8  # fewer samples than features
    assert 1 <= reduce.fit_pca(x, 0.5, None, whiten=False).n_components_ < 12


def test_solver_seed_and_whitening_are_passed_on(x):
    pca = reduce.fit_pca(x, None, 3, whiten=True, svd_solver="covariance_eigh", seed=7)
    assert pca.svd_solver == "covariance_eigh" and pca.random_state == 7 and pca.whiten is True
    assert reduce.fit_pca(x, None, 3, whiten=False).svd_solver == "full"
    assert reduce.fit_pca(x, None, 3, whiten=False).random_state == 0


def test_summary(x):
    pca = reduce.fit_pca(x[:40], None, 4, whiten=True)
    s = reduce.summary(pca, x[:40], x[40:45], x[45:])
    assert s["n_dims_in"] == 12 and s["n_dims_kept"] == 4
    assert s["variance_explained"] == pytest.approx(pca.explained_variance_ratio_.sum())
    parts = (
        ("reconstruction_mse_train", x[:40]),
        ("reconstruction_mse_val", x[40:45]),
        ("reconstruction_mse_test", x[45:]),
    )
    for key, part in parts:
        back = pca.inverse_transform(pca.transform(part))
        assert s[key] == pytest.approx(np.mean((back - part) ** 2))
    assert 0 < s["reconstruction_mse_train"] < s["reconstruction_mse_test"]
    assert reduce.summary(pca, x[:40], x[40:45], x[:0])["reconstruction_mse_test"] is None  # no test digits


def test_images_and_summary_from_another_namespace_are_the_numpy_ones(x):
    """Features and a PCA in another Array API namespace (a GPU's) give the numpy images and summary."""
    pytest.importorskip("array_api_strict")
    from gmmgen.core.compute import Compute

    strict = Compute("array_api_strict")
    # Outside [0, 1], exact halves (round half to even, as np.rint: 0.5 -> 0, 1.5 -> 2) and ordinary values.
    features = np.array([[-1.0, 0.5 / 255, 1.5 / 255, 2.0], [0.2, 0.4, 1.0, 128.5 / 255], [0.0, 1.0, 0.6, 0.8]])
    images = reduce.to_images(features, (2, 2))
    np.testing.assert_array_equal(images[0], [[0, 0], [2, 255]])
    on_strict = reduce.to_images(strict.asarray(features), (2, 2))
    assert isinstance(on_strict, np.ndarray) and on_strict.dtype == np.uint8
    np.testing.assert_array_equal(on_strict, images)

    pca = reduce.fit_pca(x[:40], None, 4, whiten=True)
    want = reduce.summary(pca, x[:40], x[40:45], x[45:])
    got = reduce.summary(strict.estimator(pca), *(strict.asarray(p) for p in (x[:40], x[40:45], x[45:])))
    assert got["n_dims_in"] == 12 and got["n_dims_kept"] == 4
    for key in ("variance_explained", "reconstruction_mse_train", "reconstruction_mse_val", "reconstruction_mse_test"):
        assert isinstance(got[key], float) and got[key] == pytest.approx(want[key], rel=1e-12), key


def test_project_of_no_rows_is_an_empty_q_column_array_of_the_input_dtype(x):
    from sklearn.decomposition import PCA

    pca = PCA(n_components=5).fit(x)
    np.testing.assert_array_equal(reduce.project(pca, x[:7]), pca.transform(x[:7]))
    empty = reduce.project(pca, x[:0].astype(np.float32))
    assert empty.shape == (0, 5) and empty.dtype == np.float32 and isinstance(empty, np.ndarray)
