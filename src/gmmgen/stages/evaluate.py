"""Stage ``evaluate``: what the mixtures learned, measured and drawn.

For the models chosen by BIC, AIC and held-out likelihood: sample quality
(Fréchet distance on classifier features, classifier Inception Score, label
coverage), memorisation and clustering, side by side. For the selected model:
anomaly detection on corrupted digits and the least likely real digits. And a
class-conditional generator (one mixture per digit) judged by the classifier.
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path
from typing import Any

import numpy as np

from gmmgen import classifier, mixture, plots, reduce
from gmmgen import evaluate as ev
from gmmgen.config import seed_for
from gmmgen.io import atomic_dir, read_json, write_json
from gmmgen.stages.common import load_dataset, require, stage_dir
from gmmgen.stages.generate import generate_images
from gmmgen.stages.select import model_params

log = logging.getLogger(__name__)

CRITERIA_FIELDS = (
    "criterion",
    "covariance_type",
    "n_components",
    "heldout_ll",
    "frechet_distance",
    "inception_score",
    "label_entropy_share",
    "mean_confidence",
    "near_copy_share",
    "nn_distance_ratio",
    "ari",
    "nmi",
    "purity",
)


def _sample_quality(images, judge, real_feats, ds, cfg) -> tuple[dict[str, Any], dict[str, Any]]:
    probs, feats = classifier.predict(judge, images)
    mem = ev.memorisation(images, ds["x_test"], ds["x_train"], float(cfg.evaluate.copy_quantile))
    quality = {
        "frechet_distance": ev.frechet_distance(feats, real_feats),
        "inception_score": ev.inception_score(probs),
        **ev.label_coverage(probs),
        **{k: v for k, v in mem.items() if not k.startswith("_")},
    }
    return quality, mem


def _class_conditional(pca, z_train, z_test, ds, judge, cov: str, cfg) -> tuple[np.ndarray, dict[str, Any]]:
    """One mixture per digit class, sized by the sweep's criterion; samples and the classifier's agreement."""
    shape = tuple(ds["x_train"].shape[1:])
    rows, chosen_k = [], {}
    for digit in range(10):
        zc, zc_test = z_train[ds["y_train"] == digit], z_test[ds["y_test"] == digit]
        fits, models = mixture.sweep(
            zc,
            zc_test if len(zc_test) else zc,
            list(cfg.evaluate.class_grid),
            [cov],
            model_params(cfg),
            n_jobs=1,
            progress=False,
            warn=False,
        )
        try:
            best, _ = mixture.select(fits, cfg.sweep.criterion, bool(cfg.sweep.allow_degenerate))
        except mixture.SweepError as exc:
            log.warning("evaluate: no mixture for digit %d (%s)", digit, exc)
            rows.append(np.zeros((int(cfg.evaluate.class_samples), *shape), np.uint8))
            continue
        chosen_k[str(digit)] = best["n_components"]
        gmm = models[(cov, best["n_components"])]
        seed = seed_for(cfg, "evaluate.seed") + digit
        images, _ = generate_images(pca, gmm, int(cfg.evaluate.class_samples), seed, shape)
        rows.append(images)
    grid = np.concatenate(rows)
    intended = np.repeat(np.arange(10), int(cfg.evaluate.class_samples))
    predicted = classifier.predict(judge, grid)[0].argmax(1)
    per_class = {str(d): float(np.mean(predicted[intended == d] == d)) for d in range(10)}
    return grid, {
        "agreement": float(np.mean(predicted == intended)),
        "agreement_per_class": per_class,
        "n_components_per_class": chosen_k,
        "covariance_type": cov,
    }


def run_evaluate(cfg: Any) -> Path:
    """Measure every use of the fitted mixtures; write metrics, the criteria table and figures."""
    import joblib

    ds = load_dataset(cfg)
    shape = tuple(ds["x_train"].shape[1:])
    pca = joblib.load(require(stage_dir(cfg, "reduce") / "pca.joblib", "reduce"))
    select_dir = stage_dir(cfg, "select")
    chosen_by = read_json(require(select_dir / "metrics.json", "select"))["by_criterion"]
    judge = classifier.load(require(stage_dir(cfg, "classifier") / "model.keras", "classifier"))
    z_train = pca.transform(reduce.to_features(ds["x_train"]))
    z_test = pca.transform(reduce.to_features(ds["x_test"]))
    rng = np.random.default_rng(seed_for(cfg, "evaluate.seed"))

    real_probs, real_feats = classifier.predict(judge, ds["x_test"])
    halves = rng.permutation(len(real_feats))
    half = len(halves) // 2
    reference = {
        "frechet_floor": ev.frechet_distance(real_feats[halves[:half]], real_feats[halves[half:]]),
        "inception_score_real": ev.inception_score(real_probs),
        "near_copy_expected": float(cfg.evaluate.copy_quantile),
        **{f"real_{k}": v for k, v in ev.label_coverage(real_probs).items() if k != "class_counts"},
    }

    rows, details, neighbours = [], {}, None
    for crit, info in chosen_by.items():
        gmm = joblib.load(select_dir / "by_criterion" / f"{crit}.joblib")
        images, _ = generate_images(pca, gmm, int(cfg.evaluate.n_samples), seed_for(cfg, "evaluate.seed"), shape)
        quality, mem = _sample_quality(images, judge, real_feats, ds, cfg)
        clusters = ev.clustering_scores(ds["y_test"], gmm.predict(z_test))
        row = {
            "criterion": crit,
            **info,
            "heldout_ll": float(gmm.score(z_test)),
            **{k: quality[k] for k in CRITERIA_FIELDS if k in quality},
            **clusters,
        }
        rows.append(row)
        details[crit] = {"quality": quality, "clustering": clusters}
        if crit == cfg.sweep.criterion:
            neighbours = (images[:10], ds["x_train"][mem["_nearest_index"][:10]])
            selected, selected_gmm = row, gmm

    # Clustering and anomaly detection with the selected model.
    train_clusters = selected_gmm.predict(z_train)
    majority = ev.majority_labels(ds["y_train"], train_clusters, selected_gmm.n_components)

    def score(images: np.ndarray) -> np.ndarray:  # pixel-space: mixture + PCA residual
        return ev.log_likelihood(pca, selected_gmm, reduce.to_features(images), residual=True)

    def score_pca_only(images: np.ndarray) -> np.ndarray:
        return ev.log_likelihood(pca, selected_gmm, reduce.to_features(images), residual=False)

    corrupted = {
        kind: ev.corrupt(ds["x_test"], kind, rng, float(cfg.evaluate.noise_std)) for kind in cfg.evaluate.corruptions
    }
    percentile = float(cfg.evaluate.anomaly_percentile)
    anomaly = ev.anomaly_report(score, ds["x_train"], ds["x_test"], corrupted, percentile)
    anomaly["pca_space_only"] = ev.anomaly_report(score_pca_only, ds["x_train"], ds["x_test"], corrupted, percentile)
    test_ll = score(ds["x_test"])
    least = np.argsort(test_ll, kind="stable")[: int(cfg.evaluate.n_least_likely)]
    conditional, conditional_metrics = _class_conditional(
        pca, z_train, z_test, ds, judge, selected["covariance_type"], cfg
    )

    out = stage_dir(cfg, "evaluate")
    with atomic_dir(out) as tmp:
        with open(tmp / "criteria.csv", "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(CRITERIA_FIELDS))
            w.writeheader()
            w.writerows({k: r[k] for k in CRITERIA_FIELDS} for r in rows)
        metrics = {
            "selected": {k: selected[k] for k in CRITERIA_FIELDS if k != "criterion"},
            "reference": reference,
            "by_criterion": details,
            "clustering": {**details[cfg.sweep.criterion]["clustering"], "majority_labels": majority.tolist()},
            "anomaly": anomaly,
            "conditional": conditional_metrics,
        }
        write_json(tmp / "metrics.json", metrics)
        plots.criteria_comparison(rows, reference, tmp / "criteria.png")
        gen, near = neighbours
        plots.image_grid(
            np.concatenate([gen, near]),
            tmp / "nearest_neighbours.png",
            cols=len(gen),
            title="generated (top) and their nearest training digits (bottom)",
        )
        heaviest = np.argsort(-selected_gmm.weights_, kind="stable")[:100]
        means = reduce.to_images(pca.inverse_transform(selected_gmm.means_[heaviest]), shape)
        plots.labelled_grid(
            means,
            [f"k{k}: {majority[k]}" for k in heaviest],
            tmp / "cluster_means.png",
            title="component means with their majority digit",
        )
        plots.image_grid(
            ds["x_test"][least],
            tmp / "least_likely.png",
            cols=10,
            title="least likely real test digits under the selected model",
        )
        plots.image_grid(
            conditional,
            tmp / "conditional.png",
            cols=int(cfg.evaluate.class_samples),
            title="one mixture per class: a row per digit",
            row_labels=[str(d) for d in range(10)],
        )
        plots.anomaly_bars(anomaly, tmp / "anomaly.png")
    log.info(
        "evaluate: FD %.2f (floor %.2f), IS %.2f (real %.2f), near-copies %.3f, ARI %.3f, conditional agreement %.2f",
        selected["frechet_distance"],
        reference["frechet_floor"],
        selected["inception_score"],
        reference["inception_score_real"],
        selected["near_copy_share"],
        selected["ari"],
        conditional_metrics["agreement"],
    )
    return out
