"""Stage ``evaluate``: what the mixtures learned, measured and drawn.

For the models chosen by BIC, AIC and validation likelihood: their pixel-space
validation and test likelihoods, sample quality (Fréchet distance, precision,
recall, density, coverage and NDB/JS on the judge CNN's features against the
test digits, each beside its real-vs-real floor of the same size; Inception
Score over 10 splits, label coverage), the data-copying test (C_T of Meehan et
al. 2020 in whitened PCA coordinates, held-out = validation digits: the
memorisation verdict) and clustering, side by side; and the verdict: which
choice is best by likelihood and which by sample quality, never a copying or
degenerate one (:mod:`gmmgen.core.verdict`).
For the selected model: anomaly detection on corrupted digits (threshold taken
on validation digits) and the least likely test digits. And a class-conditional
generator (one mixture per digit, K chosen on validation digits) judged by the
CNN. Test digits only ever report: no choice here reads them.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig

from gmmgen.core import classifier, mixture, progress, reduce, verdict
from gmmgen.core import copying as cp
from gmmgen.core import coverage as cv
from gmmgen.core import metrics as ev
from gmmgen.core.compute import Compute, to_numpy
from gmmgen.core.io import atomic_dir, write_json
from gmmgen.core.sampling import generate_images
from gmmgen.errors import DataError, UpstreamError
from gmmgen.pipeline import files as F
from gmmgen.pipeline import skipped
from gmmgen.pipeline.config import Config, model_params, settle
from gmmgen.pipeline.stages.common import figure_context, load_dataset, load_joblib, load_json, load_upstream, stage_dir
from gmmgen.viz import plots, style

log = logging.getLogger(__name__)

N_SPLITS = 10  # Inception Score splits, the usual protocol

CRITERIA_FIELDS = (
    "criterion",
    "covariance_type",
    "n_components",
    "status",
    "val_nll_nats",
    "val_bpp",
    "test_nll_nats",
    "test_bpp",
    "frechet_distance",
    "frechet_floor",
    "inception_score",
    "inception_score_std",
    "label_entropy_share",
    "mean_confidence",
    "precision",
    "recall",
    "density",
    "coverage",
    "ndb",
    "ndb_share",
    "js",
    "copying_c_t",
    "copying_status",
    "nn_distance_ratio",
    "ari",
    "nmi",
    "purity",
)


@dataclass
class RealReference:
    """What every set of digits is scored against: the test digits' judge features and the k-means bins on
    them (NDB), the validation digits in PCA coordinates (held-out) and the training digits' cells (copying)."""

    features: np.ndarray  # (n_test, 128) judge features of the test digits
    bins: Any  # k-means bins on ``features``
    cells: cp.CellPartition  # k-means cells on the training digits in whitened PCA coordinates
    z_val: np.ndarray  # (n_val, d) validation digits in whitened PCA coordinates


def sample_verdicts(feats: np.ndarray, z: np.ndarray, real: RealReference, cfg: Config) -> dict[str, Any]:
    """Precision, recall, density, coverage, NDB/JS (judge features ``feats`` (n, 128)) and the copying test
    (whitened PCA coordinates ``z`` (n, d)) of one set of digits; DataError when the sets are too small."""
    e = cfg.evaluate
    try:
        pr = cv.prdc(real.features, feats, int(e.prdc_k))
        nd = cv.ndb(real.bins, real.features, feats, float(e.ndb_alpha))
        copy = cp.copying_test(real.cells, real.z_val, z, int(e.copying_min_generated), float(e.copying_threshold))
    except ValueError as exc:
        raise DataError(f"evaluate: {exc}") from None
    return {
        **{k: pr[k] for k in ("precision", "recall", "density", "coverage")},
        "ndb": nd["ndb"],
        "ndb_share": nd["ndb_share"],
        "js": nd["js"],
        "copying_c_t": copy["c_t"],
        "copying_status": copy["status"],
        "ndb_detail": nd,
        "copying": copy,
    }


def _sample_quality(images, judge, real: RealReference, pca, ds, cfg: Config) -> tuple[dict[str, Any], dict[str, Any]]:
    probs, feats = classifier.predict(judge, images)
    mem = ev.memorisation(images, ds["x_test"], ds["x_train"], float(cfg.evaluate.copy_quantile))
    score = ev.inception_score_splits(probs, min(N_SPLITS, len(probs)))
    quality = {
        "frechet_distance": ev.frechet_distance(feats, real.features),
        "inception_score": score["mean"],
        "inception_score_std": score["std"],
        **ev.label_coverage(probs),
        **{k: v for k, v in mem.items() if not k.startswith("_")},
        **sample_verdicts(feats, pca.transform(reduce.to_features(images)), real, cfg),
    }
    return quality, mem


def pixel_scorer(cmp: Compute, pca: Any, gmm: Any, residual: bool = True) -> Callable[[np.ndarray], np.ndarray]:
    """Per-image log-likelihood in nats of uint8 images (n, h, w) -> (n,) numpy, computed in ``cmp``'s namespace.

    The images' rows, the PCA and the mixture move to the namespace (a GPU with
    torch or cupy); :func:`gmmgen.core.metrics.log_likelihood` runs there; only the
    (n,) scores come back to numpy, for thresholds, ROC AUC and the files.
    """
    pca_x, gmm_x = cmp.estimator(pca), cmp.estimator(gmm)

    def score(images: np.ndarray) -> np.ndarray:
        with cmp.context():
            ll = ev.log_likelihood(pca_x, gmm_x, cmp.asarray(reduce.to_features(images)), residual=residual)
        return to_numpy(ll)

    return score


def class_mixtures(
    z_train, y_train, z_val, y_val, cov: str, cfg: Config | DictConfig
) -> tuple[dict[int, Any], dict[str, Any]]:
    """One mixture per digit class, its K chosen by ``sweep.criterion`` on that class's validation digits.

    Takes no test digits. Returns the fitted mixture per digit (classes with
    no usable fit are left out) and a record: chosen K per class and notes (a
    class without validation digits falls back to BIC, which needs none).
    """
    models, chosen_k, notes = {}, {}, []
    for digit in range(10):
        zc, zc_val = z_train[y_train == digit], z_val[y_val == digit]
        criterion = cfg.sweep.criterion
        if criterion == "heldout" and not len(zc_val):
            criterion = "bic"
            notes.append(f"digit {digit}: no validation digits, K chosen by bic")
        fits, fitted = mixture.sweep(
            zc,
            zc_val,
            list(cfg.evaluate.class_grid),
            [cov],
            model_params(cfg),
            n_jobs=1,
            progress=False,
            warn=False,
            thin=float(cfg.sweep.thin_points_per_parameter),
        )
        try:
            best, _ = mixture.select(fits, criterion, bool(cfg.sweep.allow_degenerate))
        except mixture.SweepError as exc:
            log.warning("evaluate: no mixture for digit %d (%s)", digit, exc)
            notes.append(f"digit {digit}: no mixture ({exc})")
            continue
        chosen_k[str(digit)] = best["n_components"]
        models[digit] = fitted[(cov, best["n_components"])]
    return models, {"n_components_per_class": chosen_k, "covariance_type": cov, "notes": notes}


def _class_conditional(pca, models, ds, judge, cfg: Config) -> tuple[np.ndarray, dict[str, Any]]:
    """Samples of each class's mixture, a row per digit, and the judge's agreement with the intended digit."""
    shape = tuple(ds["x_train"].shape[1:])
    n = int(cfg.evaluate.class_samples)
    rows = []
    for digit in range(10):
        if digit not in models:
            rows.append(np.zeros((n, *shape), np.uint8))
            continue
        seed = cfg.evaluate.seed + digit
        rows.append(generate_images(pca, models[digit], n, seed, shape)[0])
    grid = np.concatenate(rows)
    intended = np.repeat(np.arange(10), n)
    predicted = classifier.predict(judge, grid)[0].argmax(1)
    per_class = {str(d): float(np.mean(predicted[intended == d] == d)) for d in range(10)}
    return grid, {"agreement": float(np.mean(predicted == intended)), "agreement_per_class": per_class}


@dataclass
class Comparison:
    """The models chosen by each criterion, side by side, and the real-digit reference they are read against.

    ``rows``: one criteria-table row per criterion (:data:`CRITERIA_FIELDS`);
    ``details``: per criterion its full sample-quality and clustering numbers;
    ``selected`` / ``selected_gmm``: the row and mixture of ``sweep.criterion``;
    ``neighbours``: ten of its digits (10, h, w) and their nearest training digits (10, h, w);
    ``verdict``: :func:`criteria_verdict` of the rows.
    """

    reference: dict[str, Any]
    rows: list[dict[str, Any]]
    details: dict[str, Any]
    selected: dict[str, Any]
    selected_gmm: Any
    neighbours: tuple[np.ndarray, np.ndarray]
    verdict: dict[str, Any]


@dataclass
class Evaluation:
    """Everything the evaluate stage measured, before anything is written."""

    comparison: Comparison
    majority: np.ndarray  # (K,) majority training digit of each selected component
    anomaly: dict[str, Any]
    least_likely: np.ndarray  # indices of the least likely test digits, least first
    conditional: np.ndarray  # (10 * class_samples, h, w) class-conditional digits, a row per digit
    conditional_metrics: dict[str, Any]


@dataclass
class Inputs:
    """What the evaluate stage reads: the digits, the PCA, its projections, the judge and the chosen mixtures."""

    ds: dict[str, np.ndarray]
    pca: Any
    judge: Any
    chosen_by: dict[str, Any]
    models: dict[str, Any]  # criterion -> GaussianMixture
    z_train: np.ndarray
    z_val: np.ndarray
    z_test: np.ndarray


def run_evaluate(cfg: Config | DictConfig) -> Path:
    """Measure every use of the fitted mixtures; write metrics, the criteria table and figures."""
    cfg = settle(cfg)  # typed (a no-op when given the typed config)
    if not cfg.evaluate.enabled and not _has_digits_to_evaluate(cfg):
        reason = (
            "evaluate.enabled=false and no test, validation or judge digits: no sample quality, copying test, "
            "verdict or anomaly detection"
        )
        return skipped.write_skipped(stage_dir(cfg, F.EVALUATE.name), F.EVALUATE, reason)
    n_criteria = len(load_json(stage_dir(cfg, F.SELECT.name) / F.SELECT.metrics, F.SELECT.name)["by_criterion"])
    bar = progress.progress(total=n_criteria + 2, desc="evaluate", unit="step", disable=not cfg.sweep.progress)
    with progress.bar_safe_logging():
        try:
            inputs = load_inputs(cfg)
            evaluation = evaluate(cfg, inputs, lambda: bar.update(1))
            out = write_evaluation(cfg, inputs, evaluation)
            bar.update(1)
        finally:
            bar.close()
    _log_headline(evaluation)
    return out


def _has_digits_to_evaluate(cfg: Config) -> bool:
    """Test, validation and judge digits all present (``make run`` evaluates even with evaluate.enabled=false)."""
    ds = load_dataset(cfg)
    return all(len(ds.get(k, ())) for k in ("x_test", "x_val", "x_clf"))


def load_inputs(cfg: Config) -> Inputs:
    """Read what the earlier stages wrote; DataError when there are no test digits to report on."""
    from sklearn.decomposition import PCA
    from sklearn.mixture import GaussianMixture

    ds = load_dataset(cfg)
    if not len(ds["x_test"]):
        raise DataError("evaluate: the dataset has no test digits to report on (data.n_test=0)")
    pca = load_joblib(stage_dir(cfg, F.REDUCE.name) / F.REDUCE.pca, F.REDUCE.name, PCA)
    select_dir = stage_dir(cfg, F.SELECT.name)
    chosen_by = load_json(select_dir / F.SELECT.metrics, F.SELECT.name)["by_criterion"]
    judge = load_upstream(stage_dir(cfg, F.CLASSIFIER.name) / F.CLASSIFIER.model, F.CLASSIFIER.name, classifier.load)
    models = {
        crit: load_joblib(select_dir / F.SELECT.model_for(crit), F.SELECT.name, GaussianMixture) for crit in chosen_by
    }
    return Inputs(
        ds=ds,
        pca=pca,
        judge=judge,
        chosen_by=chosen_by,
        models=models,
        z_train=pca.transform(reduce.to_features(ds["x_train"])),
        z_val=pca.transform(reduce.to_features(ds["x_val"])),
        z_test=pca.transform(reduce.to_features(ds["x_test"])),
    )


def evaluate(cfg: Config, inputs: Inputs, step: Callable[[], Any] = lambda: None) -> Evaluation:
    """Every measurement, in a fixed order of random draws; ``step()`` after each criterion and the anomalies."""
    ds = inputs.ds
    rng = np.random.default_rng(cfg.evaluate.seed)
    comparison = compare_criteria(cfg, inputs, rng, step)
    gmm = comparison.selected_gmm
    majority = ev.majority_labels(ds["y_train"], gmm.predict(inputs.z_train), gmm.n_components)
    anomaly, test_ll = anomaly_detection(cfg, inputs.pca, gmm, ds, rng)
    step()
    least = np.argsort(test_ll, kind="stable")[: int(cfg.evaluate.n_least_likely)]
    class_models, class_record = class_mixtures(
        inputs.z_train, ds["y_train"], inputs.z_val, ds["y_val"], comparison.selected["covariance_type"], cfg
    )
    conditional, agreement = _class_conditional(inputs.pca, class_models, ds, inputs.judge, cfg)
    return Evaluation(comparison, majority, anomaly, least, conditional, {**agreement, **class_record})


def compare_criteria(cfg: Config, inputs: Inputs, rng: np.random.Generator, step: Callable[[], Any]) -> Comparison:
    """Sample quality, memorisation and clustering of each criterion's model against a real-digit reference.

    The floor: real digits the judge never saw (the mixture's own training +
    validation digits), as many as the generated set, scored against the same
    test digits as the generated sets (Fréchet distance, precision, recall,
    density, coverage, NDB/JS). Draws the floor's digits from ``rng``. The
    copying test's floor: real digits from the same pool that neither the
    mixture nor any choice saw (the judge's digits, drawn at random by the data
    stage; the test digits when there are none) in place of generated ones:
    C_T about 0. The k-means cells and bins are seeded with ``evaluate.seed``.
    """
    ds, judge, pca = inputs.ds, inputs.judge, inputs.pca
    shape = tuple(ds["x_train"].shape[1:])
    real_probs, real_feats = classifier.predict(judge, ds["x_test"])
    pool = np.concatenate([ds["x_train"], ds["x_val"]])
    n_gen = min(int(cfg.evaluate.n_samples), len(pool))
    if n_gen < int(cfg.evaluate.n_samples):
        log.warning("evaluate: %d generated digits scored, to match the %d real digits of the floor", n_gen, n_gen)
    floor_set = pool[np.sort(rng.permutation(len(pool))[:n_gen])]
    real_is = ev.inception_score_splits(real_probs, min(N_SPLITS, len(real_probs)))
    try:
        real = RealReference(
            features=real_feats,
            bins=cv.fit_bins(real_feats, int(cfg.evaluate.ndb_bins), cfg.evaluate.seed),
            cells=cp.CellPartition.of(inputs.z_train, int(cfg.evaluate.copying_cells), cfg.evaluate.seed),
            z_val=inputs.z_val,
        )
    except ValueError as exc:
        raise DataError(f"evaluate: {exc}") from None
    unseen_name = "judge" if len(ds.get("x_clf", ())) else "test"
    unseen = ds["x_clf"][:n_gen] if unseen_name == "judge" else ds["x_test"][:n_gen]
    floor_feats = classifier.predict(judge, floor_set)[1]
    floor = sample_verdicts(floor_feats, pca.transform(reduce.to_features(floor_set)), real, cfg)
    unseen_copy = cp.copying_test(
        real.cells,
        real.z_val,
        pca.transform(reduce.to_features(unseen)),
        int(cfg.evaluate.copying_min_generated),
        float(cfg.evaluate.copying_threshold),
    )
    reference = {
        "frechet_floor": ev.frechet_distance(floor_feats, real_feats),
        "frechet_n": n_gen,
        "frechet_reference_n": int(len(real_feats)),
        **{f"{k}_floor": floor[k] for k in ("precision", "recall", "density", "coverage", "ndb", "ndb_share", "js")},
        "ndb_bins": int(cfg.evaluate.ndb_bins),
        "ndb_alpha": float(cfg.evaluate.ndb_alpha),
        "prdc_k": int(cfg.evaluate.prdc_k),
        "copying_c_t_floor": unseen_copy["c_t"],
        "copying_floor_digits": unseen_name,
        "copying_floor_n": int(len(unseen)),
        "copying_threshold": float(cfg.evaluate.copying_threshold),
        "copying_cells": int(cfg.evaluate.copying_cells),
        "copying_min_generated": int(cfg.evaluate.copying_min_generated),
        "copying_heldout_n": int(len(inputs.z_val)),
        "inception_score_real": real_is["mean"],
        "inception_score_real_std": real_is["std"],
        "inception_score_splits": real_is["n_splits"],
        "near_copy_expected": float(cfg.evaluate.copy_quantile),
        **{f"real_{k}": v for k, v in ev.label_coverage(real_probs).items() if k != "class_counts"},
    }
    rows, details, picked = [], {}, None
    for crit, info in inputs.chosen_by.items():
        gmm = inputs.models[crit]
        images, _ = generate_images(pca, gmm, n_gen, cfg.evaluate.seed, shape)
        quality, mem = _sample_quality(images, judge, real, pca, ds, cfg)
        clusters = ev.clustering_scores(ds["y_test"], gmm.predict(inputs.z_test))
        row = {
            "criterion": crit,
            **info,
            "frechet_floor": reference["frechet_floor"],
            **{k: quality[k] for k in CRITERIA_FIELDS if k in quality},
            **clusters,
        }
        rows.append(row)
        step()
        details[crit] = {"quality": quality, "clustering": clusters}
        if crit == cfg.sweep.criterion:
            picked = (row, gmm, (images[:10], ds["x_train"][mem["_nearest_index"][:10]]))
    if picked is None:
        raise UpstreamError(
            f"{F.SELECT.name}/{F.SELECT.metrics} has no model chosen by sweep.criterion={cfg.sweep.criterion!r}; "
            "rebuild it with "
            "`dvc repro --force --single-item select`"
        )
    selected, selected_gmm, neighbours = picked
    return Comparison(reference, rows, details, selected, selected_gmm, neighbours, criteria_verdict(rows))


def criteria_verdict(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per choice its verdict numbers, and which criterion's choice is best by likelihood and by samples.

    Criteria that chose the same model are one candidate, named by all of
    them ("bic/aic: full K=110"); :func:`gmmgen.core.verdict.name_bests` decides.
    """
    by_model: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for r in rows:
        by_model.setdefault((r["covariance_type"], int(r["n_components"])), []).append(r)
    candidates = [
        {
            "name": "/".join(r["criterion"] for r in group) + f": {cov} K={k}",
            "criteria": [r["criterion"] for r in group],
            "fit_status": group[0]["status"],
            "copying_status": group[0]["copying_status"],
            "val_nll_nats": group[0]["val_nll_nats"],
            "frechet_distance": group[0]["frechet_distance"],
        }
        for (cov, k), group in by_model.items()
    ]
    named = verdict.name_bests(candidates)
    crit_of = {c["name"]: c["criteria"] for c in candidates}
    return {
        **named,
        "likelihood_best_criteria": crit_of.get(named["likelihood_best"], []),
        "sample_best_criteria": crit_of.get(named["sample_best"], []),
        "by_criterion": {
            r["criterion"]: {k: r[k] for k in VERDICT_FIELDS if k in r}
            | {"named_best": _named(r["criterion"], named, crit_of)}
            for r in rows
        },
    }


VERDICT_FIELDS = (
    "covariance_type",
    "n_components",
    "status",
    "val_nll_nats",
    "val_bpp",
    "frechet_distance",
    "frechet_floor",
    "precision",
    "recall",
    "ndb",
    "ndb_share",
    "copying_c_t",
    "copying_status",
)
"""What the verdict shows per choice (``status`` is the fit's: sound, thin or degenerate)."""


def _named(criterion: str, named: dict[str, Any], crit_of: dict[str, list[str]]) -> str:
    """'likelihood', 'samples', 'both' or '' : for which best ``criterion``'s choice is named."""
    lik = criterion in crit_of.get(named["likelihood_best"], [])
    smp = criterion in crit_of.get(named["sample_best"], [])
    return "both" if lik and smp else "likelihood" if lik else "samples" if smp else ""


def anomaly_detection(cfg: Config, pca: Any, gmm: Any, ds: dict[str, np.ndarray], rng: np.random.Generator):
    """Anomaly report on corrupted test digits (threshold on validation digits) and the test log-likelihoods.

    Scores are the exact pixel-space log density (and, for comparison, the
    PCA-space part alone), computed in ``cfg.compute``'s namespace (see
    :func:`pixel_scorer`). Corruptions draw from ``rng``. Returns the report
    and the test digits' log-likelihoods (n_test,), in nats.
    """

    cmp = Compute.from_config(cfg)
    score = pixel_scorer(cmp, pca, gmm, residual=True)  # the exact pixel-space density
    score_pca_only = pixel_scorer(cmp, pca, gmm, residual=False)

    corrupted = {
        kind: ev.corrupt(ds["x_test"], kind, rng, float(cfg.evaluate.noise_std)) for kind in cfg.evaluate.corruptions
    }
    percentile = float(cfg.evaluate.anomaly_percentile)
    anomaly = ev.anomaly_report(score, ds["x_val"], ds["x_test"], corrupted, percentile)
    anomaly["pca_space_only"] = ev.anomaly_report(score_pca_only, ds["x_val"], ds["x_test"], corrupted, percentile)
    return anomaly, score(ds["x_test"])


def write_evaluation(cfg: Config, inputs: Inputs, result: Evaluation) -> Path:
    """Write the criteria table, metrics and figures of ``result`` into the evaluate folder (atomically)."""
    ds, pca, comparison = inputs.ds, inputs.pca, result.comparison
    selected, selected_gmm = comparison.selected, comparison.selected_gmm
    shape = tuple(ds["x_train"].shape[1:])
    n_dims = int(pca.n_components_)
    context = figure_context(cfg, len(ds["x_train"]), n_dims)
    selected_context = figure_context(cfg, len(ds["x_train"]), n_dims, selected["covariance_type"])
    by = style.CRITERION_LABEL.get(cfg.sweep.criterion, cfg.sweep.criterion)
    selected_name = f"{selected['covariance_type']} K={selected['n_components']} (chosen by {by})"
    out = stage_dir(cfg, F.EVALUATE.name)
    with atomic_dir(out) as tmp:
        with open(tmp / F.EVALUATE.criteria, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(CRITERIA_FIELDS))
            w.writeheader()
            w.writerows({k: r[k] for k in CRITERIA_FIELDS} for r in comparison.rows)
        metrics = {
            "selected": {k: selected[k] for k in CRITERIA_FIELDS if k != "criterion"},
            "reference": comparison.reference,
            "verdict": comparison.verdict,
            "by_criterion": comparison.details,
            "clustering": {
                **comparison.details[cfg.sweep.criterion]["clustering"],
                "majority_labels": result.majority.tolist(),
            },
            "anomaly": result.anomaly,
            "conditional": result.conditional_metrics,
        }
        write_json(tmp / F.EVALUATE.metrics, metrics)
        plots.criteria_comparison(
            comparison.rows,
            comparison.reference,
            F.EVALUATE.figure(tmp, "criteria"),
            title=f"{context}; {int(cfg.evaluate.n_samples):,} samples each",
        )
        gen, near = comparison.neighbours
        plots.image_grid(
            np.concatenate([gen, near]),
            F.EVALUATE.figure(tmp, "nearest_neighbours"),
            cols=len(gen),
            title=f"top: digits drawn from {selected_name}; bottom: the nearest training digit of each",
            subtitle=selected_context,
        )
        heaviest = np.argsort(-selected_gmm.weights_, kind="stable")[:100]
        means = reduce.to_images(pca.inverse_transform(selected_gmm.means_[heaviest]), shape)
        plots.labelled_grid(
            means,
            [f"k{k}: {result.majority[k]}" for k in heaviest],
            F.EVALUATE.figure(tmp, "cluster_means"),
            title=f"component means of {selected_name}, heaviest first, with their majority digit",
            subtitle=selected_context,
        )
        plots.image_grid(
            ds["x_test"][result.least_likely],
            F.EVALUATE.figure(tmp, "least_likely"),
            cols=10,
            title=f"least likely test digits under {selected_name}, by pixel-space density",
            subtitle=selected_context,
        )
        plots.image_grid(
            result.conditional,
            F.EVALUATE.figure(tmp, "conditional"),
            cols=int(cfg.evaluate.class_samples),
            title="class-conditional generation: one mixture per digit, a row per digit",
            subtitle=figure_context(cfg, len(ds["x_train"]), n_dims, result.conditional_metrics["covariance_type"])
            + f", K per digit by {by}",
            row_labels=[str(d) for d in range(10)],
        )
        plots.anomaly_bars(
            result.anomaly, F.EVALUATE.figure(tmp, "anomaly"), title=f"{selected_name}; {selected_context}"
        )
    return out


def _log_headline(result: Evaluation) -> None:
    selected, reference = result.comparison.selected, result.comparison.reference
    log.info(
        "evaluate: FD %.2f (floor %.2f), IS %.2f (real %.2f), precision %.2f (floor %.2f), recall %.2f (floor %.2f), "
        "NDB %d/%d (floor %d), C_T %.2f (unseen digits %.2f): %s; ARI %.3f, conditional agreement %.2f",
        selected["frechet_distance"],
        reference["frechet_floor"],
        selected["inception_score"],
        reference["inception_score_real"],
        selected["precision"],
        reference["precision_floor"],
        selected["recall"],
        reference["recall_floor"],
        selected["ndb"],
        reference["ndb_bins"],
        reference["ndb_floor"],
        selected["copying_c_t"],
        reference["copying_c_t_floor"],
        selected["copying_status"],
        selected["ari"],
        result.conditional_metrics["agreement"],
    )
    log.info("evaluate: %s", result.comparison.verdict["sentence"])
