"""Evaluation metrics on cases with known answers, and the classifier + evaluate stages end to end."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from sklearn.mixture import GaussianMixture

from gmmgen import data, reduce, stages
from gmmgen import evaluate as ev
from gmmgen.config import validate

from .conftest import TINY, compose_cfg


@pytest.fixture(scope="module")
def bundled():
    digits = data.load_bundled()
    return digits.x_train[:3000], digits.y_train[:3000], digits.x_train[3000:4000], digits.y_train[3000:4000]


# ----------------------------------------------------------------------------- sample quality


def test_frechet_distance_known_answers():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((20000, 4))
    assert ev.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    shift = np.array([3.0, 0.0, 4.0, 0.0])  # |shift|^2 = 25, same covariance
    b = rng.standard_normal((20000, 4)) + shift
    assert ev.frechet_distance(a, b) == pytest.approx(25.0, rel=0.03)
    c = 2.0 * rng.standard_normal((20000, 4))  # N(0, 4I): trace term 4 * (1 + 4 - 2*2) = 4
    assert ev.frechet_distance(a, c) == pytest.approx(4.0, rel=0.05)
    assert ev.frechet_distance(a, b) == pytest.approx(ev.frechet_distance(b, a), rel=1e-6)


def test_inception_score_bounds():
    confident_balanced = np.eye(10)[np.arange(1000) % 10]
    assert ev.inception_score(confident_balanced) == pytest.approx(10.0, rel=1e-6)
    all_same = np.tile(np.eye(10)[3], (500, 1))
    assert ev.inception_score(all_same) == pytest.approx(1.0, rel=1e-6)
    uniform = np.full((100, 10), 0.1)
    assert ev.inception_score(uniform) == pytest.approx(1.0, rel=1e-6)


def test_label_coverage():
    probs = np.eye(10)[np.arange(1000) % 10] * 0.9 + 0.01
    cov = ev.label_coverage(probs)
    assert cov["classes_covered"] == 10 and cov["label_entropy_share"] == pytest.approx(1.0)
    assert cov["mean_confidence"] == pytest.approx(0.91)
    one = ev.label_coverage(np.tile(np.eye(10)[7], (50, 1)))
    assert one["classes_covered"] == 1 and one["label_entropy"] == 0.0 and one["class_counts"]["7"] == 50


# ----------------------------------------------------------------------------- memorisation


def test_copying_generator_is_flagged_and_honest_one_is_not(bundled):
    x_train, _, x_test, _ = bundled
    rng = np.random.default_rng(0)
    copies = np.clip(x_train[:500].astype(int) + rng.integers(-2, 3, x_train[:500].shape), 0, 255).astype(np.uint8)
    copied = ev.memorisation(copies, x_test[:500], x_train, quantile=0.01)
    assert copied["near_copy_share"] > 0.95 and copied["nn_distance_ratio"] < 0.2
    honest = ev.memorisation(x_test[500:], x_test[:500], x_train, quantile=0.01)
    assert honest["near_copy_share"] < 0.1 and 0.8 < honest["nn_distance_ratio"] < 1.25


def test_nearest_finds_exact_matches(bundled):
    x_train = bundled[0][:200]
    idx, dist = ev.nearest(x_train[[5, 17, 3]], x_train)
    np.testing.assert_array_equal(idx, [5, 17, 3])
    np.testing.assert_allclose(dist, 0.0, atol=1e-6)


# ----------------------------------------------------------------------------- clustering


def test_clustering_scores_known_answers():
    labels = np.repeat(np.arange(5), 20)
    perfect = (labels + 3) % 5  # same partition, other names
    s = ev.clustering_scores(labels, perfect)
    assert s["ari"] == pytest.approx(1.0) and s["nmi"] == pytest.approx(1.0) and s["purity"] == 1.0
    one = ev.clustering_scores(labels, np.zeros_like(labels))
    assert one["ari"] == pytest.approx(0.0) and one["purity"] == pytest.approx(0.2)
    np.testing.assert_array_equal(ev.majority_labels(labels, perfect, 6), [2, 3, 4, 0, 1, -1])


# ----------------------------------------------------------------------------- anomalies


@pytest.fixture(scope="module")
def density(bundled):
    """PCA (85%, whitened) and a 4-component GMM fitted on 3,000 real digits."""
    f_train = reduce.to_features(bundled[0])
    pca = reduce.fit_pca(f_train, 0.85, None, whiten=True)
    return pca, GaussianMixture(4, random_state=0).fit(pca.transform(f_train))


def _scorer(density, residual=True):
    pca, gmm = density
    return lambda images: ev.log_likelihood(pca, gmm, reduce.to_features(images), residual=residual)


def test_obvious_corruptions_get_auc_near_one(bundled, density):
    x_train, _, x_test, _ = bundled
    rng = np.random.default_rng(0)
    corrupted = {k: ev.corrupt(x_test[:300], k, rng) for k in ("noise", "inversion", "rotation", "blank")}
    report = ev.anomaly_report(_scorer(density), x_train, x_test[:300], corrupted, percentile=1.0)
    assert report["flagged_train"] == pytest.approx(0.01, abs=0.002)
    assert report["corruptions"]["noise"]["roc_auc"] > 0.99
    assert report["corruptions"]["inversion"]["roc_auc"] > 0.99
    assert report["corruptions"]["rotation"]["roc_auc"] > 0.8
    assert report["corruptions"]["inversion"]["flagged"] > 0.95
    assert report["flagged_clean_test"] < 0.1


def test_pca_space_alone_misses_pixel_noise(bundled, density):
    """Why the residual term exists: noise lives in the directions PCA discards."""
    x_train, _, x_test, _ = bundled
    noisy = {"noise": ev.corrupt(x_test[:300], "noise", np.random.default_rng(0))}
    with_res = ev.anomaly_report(_scorer(density), x_train, x_test[:300], noisy, 1.0)
    without = ev.anomaly_report(_scorer(density, residual=False), x_train, x_test[:300], noisy, 1.0)
    assert without["corruptions"]["noise"]["roc_auc"] < with_res["corruptions"]["noise"]["roc_auc"]


def test_corruptions_do_what_they_say():
    images = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3) * 10
    rng = np.random.default_rng(0)
    np.testing.assert_array_equal(ev.corrupt(images, "inversion", rng), 255 - images)
    np.testing.assert_array_equal(ev.corrupt(images, "rotation", rng)[0], np.rot90(images[0]))
    assert not ev.corrupt(images, "blank", rng).any()
    noisy = ev.corrupt(images, "noise", rng)
    assert noisy.dtype == np.uint8 and not np.array_equal(noisy, images)
    with pytest.raises(ValueError, match="unknown corruption"):
        ev.corrupt(images, "melt", rng)


# ----------------------------------------------------------------------------- the stages


def test_classifier_and_evaluate_stages(tmp_path):
    cfg = compose_cfg(tmp_path, [*TINY, "evaluate.enabled=true", "classifier.epochs=4", "evaluate.n_samples=200"])
    validate(cfg)
    out = stages.run_all(cfg)
    clf = json.loads((out["classifier"] / "metrics.json").read_text())
    assert clf["test_accuracy"] > 0.85 and clf["n_train"] == 1497  # every non-test 8x8 digit
    metrics = json.loads((out["evaluate"] / "metrics.json").read_text())
    assert metrics["reference"]["frechet_floor"] < metrics["selected"]["frechet_distance"]
    # A mixture of 8x8 digits draws several recognisable classes: IS well above 1 (one class) and at most 10.
    assert 3.0 < metrics["selected"]["inception_score"] <= 10.0
    assert metrics["reference"]["inception_score_real"] > metrics["selected"]["inception_score"] * 0.5
    assert set(metrics["anomaly"]["corruptions"]) == {"noise", "inversion", "rotation", "blank"}
    assert metrics["anomaly"]["corruptions"]["inversion"]["roc_auc"] > 0.9
    # One mixture per class: most of its samples are judged to be that class (chance would be 0.1).
    assert 0.6 < metrics["conditional"]["agreement"] <= 1.0
    with open(out["evaluate"] / "criteria.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert sorted(r["criterion"] for r in rows) == ["aic", "bic", "heldout"]
    for f in (
        "criteria.png",
        "nearest_neighbours.png",
        "cluster_means.png",
        "least_likely.png",
        "conditional.png",
        "anomaly.png",
    ):
        assert (out["evaluate"] / f).stat().st_size > 1000, f
    # The classifier is reused from the cache the second time: a marker put into the cached
    # training history comes back in the metrics, which a retrained classifier could not give.
    (cached,) = (tmp_path / "outputs" / "cache" / "classifier").iterdir()
    model_bytes = (cached / "model.keras").read_bytes()
    history = json.loads((cached / "history.json").read_text())
    history["accuracy"][-1] = 0.123456
    (cached / "history.json").write_text(json.dumps(history))
    again = json.loads((stages.run_classifier(cfg) / "metrics.json").read_text())
    assert again["train_accuracy"] == 0.123456
    assert again["test_accuracy"] == clf["test_accuracy"]
    assert (cached / "model.keras").read_bytes() == model_bytes
