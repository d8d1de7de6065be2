"""Stage ``select``: the GaussianMixture sweep, the chosen model, the sweep table and figure."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig

from gmmgen.core import baselines, likelihood, mixture, reduce, sweep_table
from gmmgen.core.compute import Compute, estimator_to_numpy, to_float, xp_of
from gmmgen.core.io import atomic_dir, write_json
from gmmgen.pipeline import files as F
from gmmgen.pipeline.config import Config, model_params, settle
from gmmgen.pipeline.stages.common import figure_context, load_dataset, load_joblib, stage_dir
from gmmgen.viz import plots

log = logging.getLogger(__name__)

# The sweep table's columns and its reading and writing live beside the sweep (gmmgen.core.sweep_table).
CSV_FIELDS = sweep_table.CSV_FIELDS
read_sweep_csv, write_sweep_csv = sweep_table.read_sweep_csv, sweep_table.write_sweep_csv


def dequantization_seed(cfg: Config | DictConfig) -> int:
    """Seed of the dequantization noise: the data's, so runs on the same digits score the same noisy pixels."""
    return int(settle(cfg).data.seed)


def pixel_report(pca: Any, gmm: Any, images: np.ndarray, seed: int) -> dict[str, float]:
    """Negative log-likelihood of 8-bit images in pixel space (nats/image, bits/pixel); NaN without images.

    Computed in the namespace of the estimators' arrays (numpy, or where
    :meth:`gmmgen.core.compute.Compute.estimator` put them); the images stay numpy.
    """
    if not len(images):
        return {"nats_per_image": math.nan, "bits_per_pixel": math.nan}
    return likelihood.nll_8bit(likelihood.from_sklearn(pca, gmm), images, seed)


@dataclass
class Selection:
    """What the select stage computed, before anything is written: plain values and numpy models.

    ``rows``: every fit (sweep rows with their pixel-space validation NLL);
    ``models``: ``(covariance type, K) -> model`` in numpy; ``chosen`` and
    ``notes``: the criterion's choice and why its optimum was passed over;
    ``by_criterion``: what each criterion chooses; ``report``: those choices
    on the test digits; ``chosen_test``: the chosen model's test NLL;
    ``residual_variance``: the PCA residual's (NaN without a fit); ``baselines``: the
    independent-pixel histogram and the single Gaussian on the same digits (:mod:`gmmgen.core.baselines`);
    ``n_train``, ``n_dims``: the training digits and their PCA dimensions.
    """

    rows: list[dict[str, Any]]
    models: dict[tuple[str, int], Any]
    chosen: dict[str, Any]
    notes: list[str]
    by_criterion: dict[str, dict[str, Any]]
    report: dict[str, dict[str, Any]]
    chosen_test: dict[str, float]
    residual_variance: float
    baselines: dict[str, Any]
    n_pixels: int
    n_val: int
    n_test: int
    seed: int
    n_train: int
    n_dims: int


def _sweep(cfg: Config, cmp: Compute, z_train: np.ndarray, z_val: np.ndarray):
    """Every fit of the grid, in ``cfg.compute``'s namespace: (rows, fitted models)."""
    return mixture.sweep(
        cmp.asarray(z_train),
        cmp.asarray(z_val),
        list(cfg.sweep.n_components),
        list(cfg.sweep.covariance_types),
        model_params(cfg),
        n_jobs=int(cfg.sweep.n_jobs),
        progress=bool(cfg.sweep.progress),
        backend=str(cfg.sweep.backend),
        thin=float(cfg.sweep.thin_points_per_parameter),
    )


def _add_pixel_nll(rows: list[dict[str, Any]], fitted: dict, pca_x: Any, cmp: Compute, x_val: np.ndarray, d: int):
    """Fill each row's ``val_nll_nats`` and ``val_bpp``; return the density (None without a fit)."""
    # The pixel-space part of the likelihood does not depend on the mixture: add it once.
    density = likelihood.from_sklearn(pca_x, next(iter(fitted.values()))) if fitted else None
    if density is not None and len(x_val):
        _, residual_sq = likelihood.project(density, cmp.asarray(x_val))
        xp = xp_of(residual_sq)
        offset = to_float(xp.mean(likelihood.pixel_offset(density, residual_sq)))
        offset -= d * math.log(likelihood.PIXEL_SCALE)
        jacobian, residual = likelihood.pixel_terms(density, residual_sq)
        terms = {"val_nll_jacobian": to_float(jacobian), "val_nll_residual": to_float(xp.mean(residual))}
        for row in rows:
            row.update(dict.fromkeys(sweep_table.SPLIT_FIELDS, math.nan))
            if row["status"] != "failed":
                row["val_nll_nats"] = -(row["val_ll"] + offset)
                row["val_bpp"] = float(likelihood.bits_per_pixel(row["val_nll_nats"], d))
                row.update(val_nll_mixture=-row["val_ll"], **terms)
    for row in rows:
        for key in sweep_table.SPLIT_FIELDS:
            row.setdefault(key, math.nan)
    return density


def _test_report(by_criterion: dict[str, dict[str, Any]], fitted: dict, pca_x: Any, x_test: np.ndarray, seed: int):
    """Reporting only, after every choice is made: the chosen models on the test digits."""
    report = {}
    for crit, row in by_criterion.items():
        model = fitted[(row["covariance_type"], row["n_components"])]
        test = pixel_report(pca_x, model, x_test, seed)
        report[crit] = {
            "covariance_type": row["covariance_type"],
            "n_components": row["n_components"],
            "status": row["status"],
            "val_nll_nats": row["val_nll_nats"],
            "val_bpp": row["val_bpp"],
            "test_nll_nats": test["nats_per_image"],
            "test_bpp": test["bits_per_pixel"],
            **{k: row[k] for k in sweep_table.SPLIT_FIELDS},
        }
    return report


def compute_select(cfg: Config | DictConfig) -> Selection:
    """Fit the sweep, score every fit on the validation digits, choose; report the choices on the test digits.

    See :func:`run_select`; nothing is written here.
    """
    cfg = settle(cfg)  # typed (a no-op when given the typed config)
    cmp = Compute.from_config(cfg)
    ds = load_dataset(cfg)
    from sklearn.decomposition import PCA

    pca = load_joblib(stage_dir(cfg, F.REDUCE.name) / F.REDUCE.pca, F.REDUCE.name, PCA)
    d = int(pca.n_features_in_)
    seed = dequantization_seed(cfg)
    x_train = ds["x_train"].reshape(len(ds["x_train"]), d).astype(np.float64) / likelihood.PIXEL_SCALE
    x_val = likelihood.dequantize(ds["x_val"], seed)
    z_train, z_val = pca.transform(x_train), reduce.project(pca, x_val)
    rows, fitted = _sweep(cfg, cmp, z_train, z_val)
    models = {key: estimator_to_numpy(model) for key, model in fitted.items()}
    pca_x = cmp.estimator(pca)
    density = _add_pixel_nll(rows, fitted, pca_x, cmp, x_val, d)
    chosen, notes = mixture.select(rows, cfg.sweep.criterion, bool(cfg.sweep.allow_degenerate))
    for note in notes:
        log.warning("select: %s", note)
    by_criterion = mixture.choices(rows, bool(cfg.sweep.allow_degenerate))
    if not len(x_val):  # no validation digits (data.n_val=0): held-out likelihood chooses nothing
        by_criterion.pop("heldout", None)
    report = _test_report(by_criterion, fitted, pca_x, ds["x_test"], seed)
    chosen_test = pixel_report(pca_x, fitted[(chosen["covariance_type"], chosen["n_components"])], ds["x_test"], seed)
    return Selection(
        rows=rows,
        models=models,
        chosen=chosen,
        notes=notes,
        by_criterion=by_criterion,
        report=report,
        chosen_test=chosen_test,
        residual_variance=density.sigma2 if density is not None else math.nan,
        baselines=baselines.yardstick(
            pca_x, z_train, float(cfg.model.reg_covar), ds["x_train"], {"val": ds["x_val"], "test": ds["x_test"]}, seed
        ),
        n_pixels=d,
        n_val=int(len(ds["x_val"])),
        n_test=int(len(ds["x_test"])),
        seed=seed,
        n_train=len(z_train),
        n_dims=z_train.shape[1],
    )


def select_metrics(cfg: Config, sel: Selection) -> dict[str, Any]:
    """``select/metrics.json``: the chosen fit, every criterion's choice, the yardstick and the sweep's counts."""
    rows, chosen = sel.rows, sel.chosen
    return {
        "criterion": cfg.sweep.criterion,
        "chosen": {
            **{k: chosen[k] for k in CSV_FIELDS},
            "test_nll_nats": sel.chosen_test["nats_per_image"],
            "test_bpp": sel.chosen_test["bits_per_pixel"],
        },
        "by_criterion": sel.report,
        "yardstick": {
            "what": "negative log-likelihood of uniformly dequantized 8-bit digits under PCA + mixture + "
            "isotropic residual (probabilistic PCA), in pixel space; lower is better",
            "n_pixels": sel.n_pixels,
            "n_val": sel.n_val,
            "n_test": sel.n_test,
            "dequantization_seed": sel.seed,
            "residual_variance": sel.residual_variance,
            "baselines": sel.baselines,
            "comparable": "across runs on the same validation digits (same data settings and data seed); "
            "bic, aic, train_ll and val_ll only within this run",
            "dominated_by": "the residual term: the isotropic Gaussian on the discarded PCA directions scores "
            "most of every image's nats; K and the covariance type change only the mixture term, so across "
            "pca settings the number compares the residual model, not the mixture (val_nll_mixture, "
            "val_nll_jacobian, val_nll_residual in sweep.csv)",
        },
        "n_fits": len(rows),
        "n_failed": sum(r["status"] == "failed" for r in rows),
        "n_not_converged": sum(r["status"] == "not_converged" for r in rows),
        "n_degenerate_fits": sum(r["n_degenerate"] > 0 for r in rows),
        "n_thin_fits": sum(r["status"] == "thin" for r in rows),
        "warnings": sel.notes,
    }


def write_select(cfg: Config, sel: Selection) -> tuple[Path, dict[str, Any]]:
    """Write the stage's folder (models, sweep table, metrics, run times, figure) at once; return it and the metrics."""
    import joblib

    rows, chosen, by_criterion = sel.rows, sel.chosen, sel.by_criterion
    out = stage_dir(cfg, F.SELECT.name)
    with atomic_dir(out) as tmp:
        chosen_model = sel.models[(chosen["covariance_type"], chosen["n_components"])]
        joblib.dump(chosen_model, tmp / F.SELECT.model)
        (tmp / F.SELECT.by_criterion).mkdir()
        for crit, row in by_criterion.items():
            model = sel.models[(row["covariance_type"], row["n_components"])]
            joblib.dump(model, tmp / F.SELECT.model_for(crit))
        write_sweep_csv(rows, tmp / F.SELECT.sweep)
        metrics = select_metrics(cfg, sel)
        write_json(tmp / F.SELECT.metrics, metrics)
        write_json(
            tmp / F.SELECT.runtime,
            {
                "sweep_seconds": float(sum(r["fit_seconds"] for r in rows)),
                "fit_seconds": {f"{r['covariance_type']}-{r['n_components']}": r["fit_seconds"] for r in rows},
            },
        )
        context = figure_context(cfg, sel.n_train, sel.n_dims)
        plots.sweep_criteria(rows, by_criterion, cfg.sweep.criterion, F.SELECT.figure(tmp, "sweep"), title=context)
    return out, metrics


def run_select(cfg: Config | DictConfig) -> Path:
    """Fit the sweep, choose a model by the criterion on validation digits; write table, models, metrics, figure.

    Every fit is scored on the validation digits, uniformly dequantized, both in
    the PCA coordinates (``val_ll``, which ``heldout`` maximises) and as the
    pixel-space negative log-likelihood (``val_nll_nats``, ``val_bpp``: the same
    ranking within this run, and comparable with other runs on the same
    digits). Test digits are touched only after the choice, to report the
    chosen models.

    The fits, their own scores (BIC, AIC, ``train_ll``, ``val_ll``) and the
    pixel-space report run in ``cfg.compute``'s namespace (fits one after
    another on a GPU); the models are taken to numpy for the files.
    """
    cfg = settle(cfg)  # typed (a no-op when given the typed config)
    sel = compute_select(cfg)
    out, metrics = write_select(cfg, sel)
    chosen = sel.chosen
    log.info(
        "select: %s chose %s K=%d (%s; BIC %.1f, validation %.4f bits/pixel); "
        "%d fits, %d failed, %d thin, %d degenerate",
        cfg.sweep.criterion,
        chosen["covariance_type"],
        chosen["n_components"],
        chosen["status"],
        chosen["bic"],
        chosen["val_bpp"],
        len(sel.rows),
        metrics["n_failed"],
        metrics["n_thin_fits"],
        metrics["n_degenerate_fits"],
    )
    return out
