"""Issue 23, item 8: the dequantization noise is uniform noise on [0, 1) drawn from the seed, nothing else.

A constant (or unseeded, or non-uniform) noise gives rows still inside each
pixel's bin, so the bin check alone does not see it; these do.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from gmmgen.core import likelihood

IMAGES = np.random.default_rng(7).integers(0, 256, size=(50, 20, 20), dtype=np.uint8)  # 20,000 pixels


def noise(seed: int) -> np.ndarray:
    """The noise ``u`` the rows carry: ``255 * row - pixel``."""
    flat = IMAGES.reshape(len(IMAGES), -1).astype(np.float64)
    return likelihood.dequantize(IMAGES, seed) * likelihood.PIXEL_SCALE - flat


def test_the_noise_is_numpys_uniform_draw_from_the_seed():
    u = noise(3)
    # Known answer: numpy's generator seeded with the seed, one uniform per pixel, row-major.
    expected = np.random.default_rng(3).random((len(IMAGES), 400))
    np.testing.assert_allclose(u, expected, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(likelihood.dequantize(IMAGES, 3), likelihood.dequantize(IMAGES, 3))
    assert not np.allclose(u, noise(4))  # another seed, other noise
    assert np.mean(np.isclose(u, noise(4), atol=1e-6)) < 0.01


def test_the_noise_is_uniform_on_the_unit_interval():
    u = noise(0).ravel()
    assert u.min() >= 0.0 and u.max() < 1.0
    assert u.mean() == pytest.approx(0.5, abs=0.01)  # sd of the mean of 20,000: 0.002
    assert u.var() == pytest.approx(1 / 12, abs=0.003)
    assert stats.kstest(u, "uniform").pvalue > 1e-4
    assert len(np.unique(u)) == u.size  # no constant, no repeats


def test_the_likelihood_depends_on_the_seeded_noise():
    """A constant noise (or one the seed does not drive) would give the same NLL for every seed."""
    from sklearn.decomposition import PCA
    from sklearn.mixture import GaussianMixture

    from gmmgen.core import data, reduce

    digits = data.load_digits_8x8()
    x = reduce.to_features(digits.x_train[:300])
    pca = PCA(10, whiten=True, random_state=0).fit(x)
    gmm = GaussianMixture(3, random_state=0).fit(pca.transform(x))
    density = likelihood.from_sklearn(pca, gmm)
    images = digits.x_train[300:400]
    a, b = (likelihood.nll_8bit(density, images, seed=s)["nats_per_image"] for s in (0, 1))
    assert a == likelihood.nll_8bit(density, images, seed=0)["nats_per_image"]
    assert a != b and abs(a - b) < 0.05 * abs(a)  # other noise, a little other NLL
