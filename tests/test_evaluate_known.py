"""Evaluation metrics against answers computed another way: likelihood, singular Fréchet, corruption statistics."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from sklearn.decomposition import PCA
from sklearn.mixture import GaussianMixture

from gmmgen.core import metrics as ev

# ----------------------------------------------------------------------------- log-likelihood


@pytest.fixture(scope="module")
def small_density():
    """Pixel rows in 6 dimensions with 2 strong directions; PCA keeps 2 (whitened), a 2-component GMM on top."""
    rng = np.random.default_rng(0)
    basis = np.linalg.qr(rng.standard_normal((6, 6)))[0]
    latent = np.concatenate([rng.normal(-2, 1, (150, 2)), rng.normal(2, 0.5, (150, 2))])
    x = 0.5 + latent @ basis[:, :2].T * 0.1 + 0.01 * rng.standard_normal((300, 6))
    pca = PCA(n_components=2, whiten=True, svd_solver="full").fit(x)
    gmm = GaussianMixture(2, random_state=0).fit(pca.transform(x))
    queries = 0.5 + 0.05 * rng.standard_normal((12, 6))
    return pca, gmm, queries


def _explicit_log_density(pca, gmm, x):
    """log p(x) up to a constant: the mixture on the PCA coordinates times an isotropic Gaussian
    (variance ``noise_variance_``) on the coordinates of the 4 discarded directions, by scipy."""
    q, _ = np.linalg.qr(np.concatenate([pca.components_.T, np.eye(x.shape[1])], axis=1))
    discarded = q[:, pca.n_components_ : x.shape[1]]
    rest = (x - pca.mean_) @ discarded
    noise = stats.multivariate_normal(np.zeros(rest.shape[1]), pca.noise_variance_ * np.eye(rest.shape[1]))
    return gmm.score_samples(pca.transform(x)) + noise.logpdf(rest)


def test_residual_term_matches_an_explicit_gaussian_up_to_a_constant(small_density):
    pca, gmm, x = small_density
    got = ev.log_likelihood(pca, gmm, x)
    want = _explicit_log_density(pca, gmm, x)
    assert np.ptp(want) > 10, "the queries must differ in likelihood for the check to mean anything"
    np.testing.assert_allclose(got - got[0], want - want[0], rtol=1e-7, atol=1e-6)


def test_without_residual_the_score_is_the_mixtures(small_density):
    pca, gmm, x = small_density
    np.testing.assert_array_equal(ev.log_likelihood(pca, gmm, x, residual=False), gmm.score_samples(pca.transform(x)))


def test_residual_penalty_grows_with_the_distance_off_the_pca_plane(small_density):
    pca, gmm, x = small_density
    off = pca.inverse_transform(pca.transform(x[:1]))  # on the plane: no residual
    q, _ = np.linalg.qr(np.concatenate([pca.components_.T, np.eye(6)], axis=1))
    direction = q[:, 2]  # orthogonal to both kept components
    rows = off + np.outer([0.0, 0.1, 0.2], direction)
    ll = ev.log_likelihood(pca, gmm, rows)
    # -0.5 * d^2 / noise_variance, exactly, since the PCA coordinates do not move.
    expected = -0.5 * np.array([0.0, 0.01, 0.04]) / pca.noise_variance_
    np.testing.assert_allclose(ll - ll[0], expected, rtol=1e-6)


def test_no_discarded_directions_means_no_residual_term():
    """PCA keeping every dimension: no residual term, only the whitening Jacobian, finite."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((80, 3))
    pca = PCA(n_components=3, whiten=True, svd_solver="full").fit(x)
    assert pca.noise_variance_ == 0.0
    gmm = GaussianMixture(1, random_state=0).fit(pca.transform(x))
    got = ev.log_likelihood(pca, gmm, x[:5])
    assert np.isfinite(got).all()
    jacobian = -0.5 * np.sum(np.log(pca.explained_variance_))  # pixel density = whitened density / prod(sqrt(lambda))
    np.testing.assert_allclose(got, gmm.score_samples(pca.transform(x[:5])) + jacobian, atol=1e-6)


# ----------------------------------------------------------------------------- Fréchet distance


def _frechet_symmetric(a, b):
    """Same distance by Tr((C_a^1/2 C_b C_a^1/2)^1/2), computed with eigh: stable for singular covariances."""
    ca, cb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    w, v = np.linalg.eigh(ca)
    root = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    cross = np.sqrt(np.clip(np.linalg.eigvalsh(root @ cb @ root), 0, None)).sum()
    return float(np.sum((a.mean(0) - b.mean(0)) ** 2) + np.trace(ca) + np.trace(cb) - 2 * cross)


def test_frechet_distance_with_singular_covariances():
    """Two points each in 4 dimensions (rank-1 covariances, nearly nilpotent product): the regularised
    fallback gives the distance the stable formula gives, not NaN."""
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((2, 4)), rng.standard_normal((2, 4))
    a[:, 0] = 0.0
    b[:, 1] = 0.0
    got = ev.frechet_distance(a, b)
    assert np.isfinite(got)
    assert got == pytest.approx(_frechet_symmetric(a, b), rel=1e-4)


def test_frechet_distance_of_random_sets_matches_the_stable_formula():
    rng = np.random.default_rng(2)
    a = rng.standard_normal((300, 5))
    b = rng.standard_normal((300, 5)) @ np.diag([1.0, 2.0, 0.5, 1.0, 3.0]) + 1.0
    assert ev.frechet_distance(a, b) == pytest.approx(_frechet_symmetric(a, b), rel=1e-6)


def test_frechet_distance_is_never_negative():
    a = np.random.default_rng(3).standard_normal((50, 3))
    assert ev.frechet_distance(a, a) == 0.0 or 0.0 < ev.frechet_distance(a, a) < 1e-6


# ----------------------------------------------------------------------------- Inception Score, label coverage


def test_inception_score_of_a_known_mixture():
    """Half the digits confidently 0, half confidently 1: IS = exp(log 2) = 2."""
    probs = np.repeat(np.eye(10)[[0, 1]], 50, axis=0)
    assert ev.inception_score(probs) == pytest.approx(2.0, rel=1e-9)
    soft = np.full((4, 10), 0.05)
    soft[[0, 1], 0] = 0.55
    soft[[2, 3], 1] = 0.55
    kl = 0.55 * np.log(0.55 / 0.3) + 0.05 * np.log(0.05 / 0.3) + 8 * 0.05 * np.log(0.05 / 0.05)
    assert ev.inception_score(soft) == pytest.approx(np.exp(kl), rel=1e-9)


def test_label_coverage_of_two_classes():
    probs = np.zeros((40, 10))
    probs[:30, 4] = 0.8
    probs[30:, 6] = 0.6
    probs[:, 0] += 1 - probs.sum(1)
    cov = ev.label_coverage(probs)
    assert cov["class_counts"] == {str(i): {4: 30, 6: 10}.get(i, 0) for i in range(10)}
    entropy = -(0.75 * np.log(0.75) + 0.25 * np.log(0.25))
    assert cov["label_entropy"] == pytest.approx(entropy)
    assert cov["label_entropy_share"] == pytest.approx(entropy / np.log(10))
    assert cov["classes_covered"] == 2
    assert cov["mean_confidence"] == pytest.approx(0.75 * 0.8 + 0.25 * 0.6)


# ----------------------------------------------------------------------------- corruptions


def test_noise_has_the_stated_mean_and_spread():
    """Mid-grey digits plus N(0, 0.05) on [0, 1] pixels: mean stays 128, spread is 0.05 * 255."""
    images = np.full((100, 28, 28), 128, np.uint8)
    noisy = ev.corrupt(images, "noise", np.random.default_rng(0), noise_std=0.05)
    assert noisy.dtype == np.uint8 and noisy.shape == images.shape
    assert noisy.mean() == pytest.approx(128.0, abs=0.15)
    assert noisy.astype(float).std() == pytest.approx(0.05 * 255, rel=0.02)


def test_noise_is_clipped_to_the_pixel_range():
    images = np.zeros((20, 8, 8), np.uint8)
    images[:10] = 255
    noisy = ev.corrupt(images, "noise", np.random.default_rng(0), noise_std=0.5)
    # Half the black pixels get positive noise, half stay 0; white pixels mirror that.
    assert np.mean(noisy[10:] == 0) == pytest.approx(0.5, abs=0.1)
    assert np.mean(noisy[:10] == 255) == pytest.approx(0.5, abs=0.1)
    assert 0 < noisy[10:].max() and noisy[:10].min() < 255


def test_noise_default_spread_and_seeding():
    images = np.full((10, 8, 8), 100, np.uint8)
    default = ev.corrupt(images, "noise", np.random.default_rng(5))
    np.testing.assert_array_equal(default, ev.corrupt(images, "noise", np.random.default_rng(5), noise_std=0.5))
    assert not np.array_equal(default, ev.corrupt(images, "noise", np.random.default_rng(6)))


@pytest.mark.parametrize("kind", ["noise", "inversion", "rotation", "blank"])
def test_corruptions_are_new_uint8_arrays(kind):
    images = np.arange(3 * 4 * 4, dtype=np.uint8).reshape(3, 4, 4)
    before = images.copy()
    out = ev.corrupt(images, kind, np.random.default_rng(0))
    assert out.dtype == np.uint8 and out.shape == images.shape
    assert not np.shares_memory(out, images)
    np.testing.assert_array_equal(images, before)


def test_rotation_is_a_quarter_turn_counter_clockwise_of_every_image():
    images = np.zeros((2, 3, 3), np.uint8)
    images[:, 0, 2] = 9  # top right
    out = ev.corrupt(images, "rotation", np.random.default_rng(0))
    assert out[0, 0, 0] == 9 and out[1, 0, 0] == 9 and out.sum() == 18  # now top left


# ----------------------------------------------------------------------------- memorisation and anomalies, by hand


def _lit(n_pixels: list[int]) -> np.ndarray:
    """8x8 black images with the first ``k`` pixels white: distance sqrt(k) from a black image on [0, 1] pixels."""
    images = np.zeros((len(n_pixels), 8, 8), np.uint8)
    for i, k in enumerate(n_pixels):
        images[i].reshape(-1)[:k] = 255
    return images


def test_nearest_distances_are_on_pixels_scaled_to_0_1():
    train = _lit([0, 64])
    idx, dist = ev.nearest(_lit([1, 4, 60]), train)
    np.testing.assert_array_equal(idx, [0, 0, 1])
    np.testing.assert_allclose(dist, [1.0, 2.0, 2.0], rtol=1e-6)


def test_memorisation_by_hand():
    train = _lit([0])
    real = _lit([1, 2, 3, 4, 5])  # distances 1, 1.41, 1.73, 2, 2.24
    generated = _lit([1, 3, 9])  # distances 1, 1.73, 3
    m = ev.memorisation(generated, real, train, quantile=0.5)
    assert m["near_copy_threshold"] == pytest.approx(np.sqrt(3), rel=1e-6)
    assert m["near_copy_share"] == pytest.approx(1 / 3), "only distances strictly below the threshold are copies"
    assert m["near_copy_share_expected"] == 0.5
    assert m["nn_distance_generated_median"] == pytest.approx(np.sqrt(3), rel=1e-6)
    assert m["nn_distance_real_median"] == pytest.approx(np.sqrt(3), rel=1e-6)
    assert m["nn_distance_ratio"] == pytest.approx(1.0, rel=1e-6)
    np.testing.assert_array_equal(m["_nearest_index"], [0, 0, 0])
    np.testing.assert_allclose(m["_nearest_distance"], [1.0, np.sqrt(3), 3.0], rtol=1e-6)


def test_anomaly_report_by_hand():
    """A score that reads pixel [0, 0]: thresholds, shares and ROC AUC can be counted on one's fingers."""

    def pixel(v):
        images = np.zeros((len(v), 2, 2), np.uint8)
        images[:, 0, 0] = v
        return images

    score = lambda images: images[:, 0, 0].astype(float)  # noqa: E731
    report = ev.anomaly_report(score, pixel(range(100)), pixel([5, 50, 60]), {"odd": pixel([1, 2, 200])}, 10.0)
    assert report["threshold"] == pytest.approx(9.9)
    assert report["flagged_reference"] == pytest.approx(0.10) and report["percentile"] == 10.0
    assert report["flagged_clean_test"] == pytest.approx(1 / 3)
    # Less likely = anomalous: the odd 1 and 2 rank below all clean digits, 200 above them: AUC 6/9.
    assert report["corruptions"] == {"odd": {"flagged": pytest.approx(2 / 3), "roc_auc": pytest.approx(6 / 9)}}


def test_clustering_counts_the_clusters_used():
    labels = np.repeat(np.arange(3), 4)
    scores = ev.clustering_scores(labels, np.array([0, 0, 0, 0, 5, 5, 5, 7, 7, 7, 7, 7]))
    assert scores["clusters_used"] == 3
    assert scores["purity"] == pytest.approx(11 / 12)
    np.testing.assert_array_equal(ev.majority_labels(labels, np.array([1, 1, 1, 1] * 3), 3), [-1, 0, -1])


def test_a_class_predicted_once_is_covered():
    cov = ev.label_coverage(np.eye(10)[[0, 0, 5]])
    assert cov["classes_covered"] == 2 and cov["class_counts"]["5"] == 1


def test_digits_exactly_at_the_threshold_are_not_flagged():
    def pixel(v):
        images = np.zeros((len(v), 2, 2), np.uint8)
        images[:, 0, 0] = v
        return images

    score = lambda images: images[:, 0, 0].astype(float)  # noqa: E731
    report = ev.anomaly_report(score, pixel([0, 10, 10, 10, 20]), pixel([10, 9]), {"same": pixel([10])}, 50.0)
    assert report["threshold"] == 10.0
    assert report["flagged_reference"] == pytest.approx(0.2) and report["flagged_clean_test"] == 0.5
    assert report["corruptions"]["same"]["flagged"] == 0.0


def test_inception_score_splits_with_one_digit_per_split():
    probs = np.repeat(np.eye(10)[[0, 1]], 5, axis=0)
    split = ev.inception_score_splits(probs, n_splits=10)
    assert split == {"mean": pytest.approx(1.0), "std": pytest.approx(0.0), "n_splits": 10}
    with pytest.raises(ValueError, match="9 samples cannot make 10 splits"):
        ev.inception_score_splits(probs[:9], n_splits=10)
