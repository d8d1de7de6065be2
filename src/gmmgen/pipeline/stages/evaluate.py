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

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig

from gmmgen.core import anomaly as an
from gmmgen.core import classifier, conditional, progress, reduce
from gmmgen.core import metrics as ev
from gmmgen.core import sample_quality as sq
from gmmgen.core.anomaly import pixel_scorer as pixel_scorer  # the tests read it here
from gmmgen.core.compute import Compute
from gmmgen.core.criteria_table import CRITERIA_FIELDS, write_criteria_csv
from gmmgen.core.io import atomic_dir, write_json
from gmmgen.core.sample_quality import RealReference, VerdictSettings
from gmmgen.core.sampling import generate_images
from gmmgen.core.verdict import criteria_verdict
from gmmgen.errors import DataError, UpstreamError
from gmmgen.pipeline import files as F
from gmmgen.pipeline import skipped
from gmmgen.pipeline.config import Config, model_params, settle
from gmmgen.pipeline.stages.common import figure_context, load_dataset, load_joblib, load_json, load_upstream, stage_dir
from gmmgen.viz import plots, style

log = logging.getLogger(__name__)


def verdict_settings(cfg: Config) -> VerdictSettings:
    """The sample tests' settings of ``cfg.evaluate``."""
    e = cfg.evaluate
    return VerdictSettings(int(e.prdc_k), float(e.ndb_alpha), int(e.copying_min_generated), float(e.copying_threshold))


def class_mixtures(
    z_train, y_train, z_val, y_val, cov: str, cfg: Config | DictConfig
) -> tuple[dict[int, Any], dict[str, Any]]:
    """:func:`gmmgen.core.conditional.class_mixtures` with the config's criterion, grid and fit settings."""
    return conditional.class_mixtures(
        z_train,
        y_train,
        z_val,
        y_val,
        cov,
        cfg.sweep.criterion,
        list(cfg.evaluate.class_grid),
        model_params(cfg),
        float(cfg.sweep.thin_points_per_parameter),
        bool(cfg.sweep.allow_degenerate),
    )


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
    images, agreement = conditional.class_conditional(
        inputs.pca,
        class_models,
        inputs.judge,
        tuple(ds["x_train"].shape[1:]),
        int(cfg.evaluate.class_samples),
        cfg.evaluate.seed,
    )
    return Evaluation(comparison, majority, anomaly, least, images, {**agreement, **class_record})


def _reference(cfg: Config, inputs: Inputs, rng: np.random.Generator) -> tuple[RealReference, dict[str, Any], int]:
    """The real-digit reference, its floors (see :func:`compare_criteria`) and how many digits each set has."""
    ds, judge, pca = inputs.ds, inputs.judge, inputs.pca
    real_probs, real_feats = classifier.predict(judge, ds["x_test"])
    pool = np.concatenate([ds["x_train"], ds["x_val"]])
    n_gen = min(int(cfg.evaluate.n_samples), len(pool))
    if n_gen < int(cfg.evaluate.n_samples):
        log.warning("evaluate: %d generated digits scored, to match the %d real digits of the floor", n_gen, n_gen)
    floor_set = pool[np.sort(rng.permutation(len(pool))[:n_gen])]
    e = cfg.evaluate
    real = RealReference.of(real_feats, inputs.z_train, inputs.z_val, int(e.ndb_bins), int(e.copying_cells), e.seed)
    unseen_name = "judge" if len(ds.get("x_clf", ())) else "test"
    unseen = ds["x_clf"][:n_gen] if unseen_name == "judge" else ds["x_test"][:n_gen]
    reference = {
        **sq.reference_floors(judge, pca, real, real_probs, floor_set, unseen, verdict_settings(cfg)),
        "frechet_n": n_gen,
        "frechet_reference_n": int(len(real_feats)),
        "ndb_bins": int(e.ndb_bins),
        "ndb_alpha": float(e.ndb_alpha),
        "prdc_k": int(e.prdc_k),
        "copying_floor_digits": unseen_name,
        "copying_floor_n": int(len(unseen)),
        "copying_threshold": float(e.copying_threshold),
        "copying_cells": int(e.copying_cells),
        "copying_min_generated": int(e.copying_min_generated),
        "copying_heldout_n": int(len(inputs.z_val)),
        "near_copy_expected": float(e.copy_quantile),
    }
    return real, reference, n_gen


def _score_criteria(cfg: Config, inputs: Inputs, real: RealReference, reference: dict[str, Any], n_gen: int, step):
    """Each criterion's model, sampled and scored: (table rows, details, the selected one's row, model, neighbours)."""
    ds, judge, pca = inputs.ds, inputs.judge, inputs.pca
    shape = tuple(ds["x_train"].shape[1:])
    rows, details, picked = [], {}, None
    for crit, info in inputs.chosen_by.items():
        gmm = inputs.models[crit]
        images, _ = generate_images(pca, gmm, n_gen, cfg.evaluate.seed, shape)
        quality, mem = sq.sample_quality(
            images,
            judge,
            real,
            pca,
            ds["x_test"],
            ds["x_train"],
            float(cfg.evaluate.copy_quantile),
            verdict_settings(cfg),
        )
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
    return rows, details, picked


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
    real, reference, n_gen = _reference(cfg, inputs, rng)
    rows, details, picked = _score_criteria(cfg, inputs, real, reference, n_gen, step)
    if picked is None:
        raise UpstreamError(
            f"{F.SELECT.name}/{F.SELECT.metrics} has no model chosen by sweep.criterion={cfg.sweep.criterion!r}; "
            "rebuild it with "
            "`dvc repro --force --single-item select`"
        )
    selected, selected_gmm, neighbours = picked
    return Comparison(reference, rows, details, selected, selected_gmm, neighbours, criteria_verdict(rows))


def anomaly_detection(cfg: Config, pca: Any, gmm: Any, ds: dict[str, np.ndarray], rng: np.random.Generator):
    """:func:`gmmgen.core.anomaly.anomaly_detection` in ``cfg.compute``'s namespace with ``cfg.evaluate``'s settings."""
    e = cfg.evaluate
    corruptions, noise_std, percentile = list(e.corruptions), float(e.noise_std), float(e.anomaly_percentile)
    return an.anomaly_detection(
        Compute.from_config(cfg), pca, gmm, ds["x_val"], ds["x_test"], rng, corruptions, noise_std, percentile
    )


def _metrics(cfg: Config, result: Evaluation) -> dict[str, Any]:
    """``evaluate/metrics.json``: the selected model, the reference, the verdict and every measurement."""
    comparison = result.comparison
    return {
        "selected": {k: comparison.selected[k] for k in CRITERIA_FIELDS if k != "criterion"},
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


def _figures(cfg: Config, inputs: Inputs, result: Evaluation, tmp: Path) -> None:
    """The stage's figures, into the folder being written."""
    ds, pca, comparison = inputs.ds, inputs.pca, result.comparison
    selected, selected_gmm = comparison.selected, comparison.selected_gmm
    n_dims = int(pca.n_components_)
    context = figure_context(cfg, len(ds["x_train"]), n_dims)
    selected_context = figure_context(cfg, len(ds["x_train"]), n_dims, selected["covariance_type"])
    by = style.CRITERION_LABEL.get(cfg.sweep.criterion, cfg.sweep.criterion)
    selected_name = f"{selected['covariance_type']} K={selected['n_components']} (chosen by {by})"
    plots.criteria_comparison(
        comparison.rows,
        comparison.reference,
        F.EVALUATE.figure(tmp, "criteria"),
        title=f"{context}; {int(cfg.evaluate.n_samples):,} samples each",
        used=str(cfg.sweep.criterion),
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
    means = reduce.to_images(pca.inverse_transform(selected_gmm.means_[heaviest]), tuple(ds["x_train"].shape[1:]))
    plots.labelled_grid(
        means,
        [f"majority {result.majority[k]}" for k in heaviest],
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
    plots.anomaly_bars(result.anomaly, F.EVALUATE.figure(tmp, "anomaly"), title=f"{selected_name}; {selected_context}")


def write_evaluation(cfg: Config, inputs: Inputs, result: Evaluation) -> Path:
    """Write the criteria table, metrics and figures of ``result`` into the evaluate folder (atomically)."""
    out = stage_dir(cfg, F.EVALUATE.name)
    with atomic_dir(out) as tmp:
        write_criteria_csv(result.comparison.rows, tmp / F.EVALUATE.criteria)
        write_json(tmp / F.EVALUATE.metrics, _metrics(cfg, result))
        _figures(cfg, inputs, result, tmp)
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
