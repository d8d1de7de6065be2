"""PCA: variance kept, whitening, fixed counts, and the trip back to pixels."""

from __future__ import annotations

import numpy as np
import pytest

from gmmgen.core import data, reduce


@pytest.fixture(scope="module")
def digits_x():
    return reduce.to_features(data.load_bundled().x_train[:1500])


def test_variance_threshold_is_the_smallest_count_reaching_it(digits_x):
    pca = reduce.fit_pca(digits_x, 0.85, None, whiten=True)
    kept = np.cumsum(pca.explained_variance_ratio_)
    assert kept[-1] >= 0.85 > kept[-2]
    assert 40 <= pca.n_components_ <= 80  # about 56 on 2,000 MNIST digits


def test_whitened_projection_has_unit_variance(digits_x):
    z = reduce.fit_pca(digits_x, 0.85, None, whiten=True).transform(digits_x)
    np.testing.assert_allclose(z.var(axis=0, ddof=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(z.mean(axis=0), 0.0, atol=1e-8)
    plain = reduce.fit_pca(digits_x, 0.85, None, whiten=False).transform(digits_x)
    assert plain.var(axis=0)[0] > 2 * plain.var(axis=0)[-1]


def test_fixed_count_and_bounds(digits_x):
    assert reduce.fit_pca(digits_x, None, 12, whiten=True).n_components_ == 12
    assert reduce.fit_pca(digits_x, 1.0, None, whiten=False).n_components_ == 784
    with pytest.raises(ValueError, match="^n_components=2000: must be at most"):
        reduce.fit_pca(digits_x, None, 2000, whiten=True)


def test_inverse_transform_and_images(digits_x):
    pca = reduce.fit_pca(digits_x, 0.95, None, whiten=True)
    back = pca.inverse_transform(pca.transform(digits_x[:10]))
    assert np.mean((back - digits_x[:10]) ** 2) < 0.01
    images = reduce.to_images(back, (28, 28))
    assert images.dtype == np.uint8 and images.shape == (10, 28, 28)
    np.testing.assert_array_equal(reduce.to_images(np.array([[-1.0, 0.5, 2.0, 1.0]]), (2, 2)), [[[0, 128], [255, 255]]])
