"""Evaluation metrics on cases with known answers, and the classifier + evaluate stages end to end."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from sklearn.mixture import GaussianMixture

from gmmgen.core import data, reduce
from gmmgen.core import metrics as ev
from gmmgen.pipeline.runner import run_all
from gmmgen.pipeline.stages.classifier import run_classifier
from gmmgen.pipeline.stages.common import load_dataset
from gmmgen.runtime.validation import validate

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


def test_frechet_trace_from_eigenvalues_matches_sqrtm_and_stays_quiet_when_singular():
    import warnings

    from scipy import linalg

    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((300, 6)) @ rng.standard_normal((6, 6)), rng.standard_normal((300, 6))
    ca, cb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    want = np.sum((a.mean(0) - b.mean(0)) ** 2) + np.trace(ca + cb - 2 * np.real(linalg.sqrtm(ca @ cb)))
    assert ev.frechet_distance(a, b) == pytest.approx(want, rel=1e-9)
    # Fewer rows than features and dead features: singular covariances, no warning, finite answer.
    thin = np.c_[rng.standard_normal((20, 40)), np.zeros((20, 10))]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert ev.frechet_distance(thin, thin) == pytest.approx(0.0, abs=1e-6)
        assert np.isfinite(ev.frechet_distance(thin, thin[::-1] + 1.0))


def test_inception_score_over_ten_splits():
    confident_balanced = np.eye(10)[np.arange(1000) % 10]
    split = ev.inception_score_splits(confident_balanced)
    assert split == {"mean": pytest.approx(10.0), "std": pytest.approx(0.0, abs=1e-9), "n_splits": 10}
    # Each split of a sorted set holds one class: every split scores 1.
    sorted_labels = np.eye(10)[np.repeat(np.arange(10), 100)]
    assert ev.inception_score(sorted_labels) == pytest.approx(10.0)
    assert ev.inception_score_splits(sorted_labels)["mean"] == pytest.approx(1.0)
    rng = np.random.default_rng(0)
    noisy = rng.dirichlet(np.full(10, 0.3), size=1000)
    s = ev.inception_score_splits(noisy)
    assert s["std"] > 0 and s["mean"] == pytest.approx(
        np.mean([ev.inception_score(p) for p in np.array_split(noisy, 10)])
    )
    with pytest.raises(ValueError, match="cannot make 10 splits"):
        ev.inception_score_splits(noisy[:5])


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
    assert report["flagged_reference"] == pytest.approx(0.01, abs=0.002)
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
    cfg = compose_cfg(
        tmp_path,
        [*TINY, "evaluate.enabled=true", "classifier.epochs=8", "classifier.batch_size=32", "evaluate.n_samples=200"],
    )
    validate(cfg)
    out = run_all(cfg)
    clf = json.loads((out["classifier"] / "metrics.json").read_text())
    # The judge trains on the 697 digits that are neither train (600), validation (200) nor test (300).
    assert clf["test_accuracy"] > 0.85 and clf["n_train"] == 697 and clf["accuracy_measured_on"] == "test"
    ds = load_dataset(cfg)
    judge_digits = {x.tobytes() for x in ds["x_clf"]}
    # Distinct 8x8 digits can be pixel-identical; the record says how many, and they are few.
    shared = {k: sum(x.tobytes() in judge_digits for x in ds[f"x_{k}"]) for k in ("train", "val", "test")}
    assert clf["identical_images_in"] == shared and sum(shared.values()) < 10
    metrics = json.loads((out["evaluate"] / "metrics.json").read_text())
    ref = metrics["reference"]
    assert ref["frechet_floor"] < metrics["selected"]["frechet_distance"]
    assert ref["frechet_n"] == 200 and ref["frechet_reference_n"] == 300 and ref["inception_score_splits"] == 10
    # A mixture of 8x8 digits draws several recognisable classes: IS well above 1 (one class) and at most 10.
    assert 3.0 < metrics["selected"]["inception_score"] <= 10.0 and metrics["selected"]["inception_score_std"] > 0
    assert metrics["selected"]["test_bpp"] > 0 and metrics["anomaly"]["flagged_reference"] <= 0.02
    assert metrics["reference"]["inception_score_real"] > metrics["selected"]["inception_score"] * 0.5
    assert set(metrics["anomaly"]["corruptions"]) == {"noise", "inversion", "rotation", "blank"}
    assert metrics["anomaly"]["corruptions"]["inversion"]["roc_auc"] > 0.9
    # One mixture per class: most of its samples are judged to be that class (chance would be 0.1).
    assert 0.6 < metrics["conditional"]["agreement"] <= 1.0
    # Precision, recall and NDB beside their real-vs-real floors; the copying test beside unseen real digits.
    selected = metrics["selected"]
    assert 0.5 < ref["precision_floor"] <= 1 and 0.5 < ref["recall_floor"] <= 1 and ref["prdc_k"] == 5
    assert 0 <= selected["precision"] <= 1 and 0 <= selected["recall"] <= 1
    assert ref["ndb_floor"] < ref["ndb_bins"] == 20 and 0 <= selected["ndb"] <= 20
    assert ref["copying_floor_digits"] == "judge" and abs(ref["copying_c_t_floor"]) < 3
    assert selected["copying_status"] in ("copying", "not copying", "untested")
    copying = metrics["by_criterion"]["bic"]["quality"]["copying"]
    assert copying["n_cells"] == 10 and len(copying["cells"]) == 10 and copying["threshold"] == -3.0
    assert 0 <= copying["generated_share_dropped"] < 1 and len(copying["driving_cells"]) <= 3
    assert metrics["verdict"]["sentence"].endswith(".") and set(metrics["verdict"]["by_criterion"]) == {
        "bic",
        "aic",
        "heldout",
    }
    with open(out["evaluate"] / "criteria.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert sorted(r["criterion"] for r in rows) == ["aic", "bic", "heldout"]
    assert all(r["copying_status"] in ("copying", "not copying", "untested") and r["precision"] for r in rows)
    for f in (
        "criteria.png",
        "nearest_neighbours.png",
        "cluster_means.png",
        "least_likely.png",
        "conditional.png",
        "anomaly.png",
    ):
        assert (out["evaluate"] / f).stat().st_size > 1000, f
    # The findings tables of docs/results.md come from these files.
    from gmmgen.report import findings

    block = findings.findings_markdown(tmp_path / "outputs")
    select = json.loads((out["select"] / "metrics.json").read_text())
    for crit, info in select["by_criterion"].items():
        assert f"| {crit} | full K={info['n_components']} | {info['status']} |" in block
        assert f"{info['test_bpp']:.4f}" in block and f"{info['val_bpp']:.4f}" in block
    assert f"({ref['frechet_floor']:.1f})" in block and "± " in block
    readme = f"intro\n{findings.BEGIN}\nold numbers\n{findings.END}\nrest\n"
    new = findings.replace_block(readme, block)
    assert "old numbers" not in new and new.startswith("intro\n") and new.endswith(f"{findings.END}\nrest\n")
    with pytest.raises(ValueError, match="markers are missing"):
        findings.replace_block("no markers", block)
    # The classifier is reused from the cache the second time: a marker put into the cached
    # training history comes back in the metrics, which a retrained classifier could not give.
    (cached,) = (tmp_path / "outputs" / "cache" / "classifier").iterdir()
    model_bytes = (cached / "model.keras").read_bytes()
    history = json.loads((cached / "history.json").read_text())
    history["accuracy"][-1] = 0.123456
    (cached / "history.json").write_text(json.dumps(history))
    again = json.loads((run_classifier(cfg) / "metrics.json").read_text())
    assert again["train_accuracy"] == 0.123456
    assert again["test_accuracy"] == clf["test_accuracy"]
    assert (cached / "model.keras").read_bytes() == model_bytes
