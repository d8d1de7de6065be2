"""The tutorial's stages: config in, ``<paths.run_dir>/tutorial/<section>/`` out (complete or absent).

Each stage takes the tutorial's config (:class:`~gmmgen_tutorial.config.TutorialConfig`,
composed from ``conf/tutorial.yaml``, or settled), draws its data from its
section's seed (``<section>.seed``, or the tutorial's ``seed``), runs its
section's module, and writes metrics.json, a CSV where there is a table, and
its figures. Nothing here talks to MLflow
(:mod:`gmmgen_tutorial.track` logs the folders afterwards) or imports TensorFlow.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig

from gmmgen.core.io import atomic_dir, write_json
from gmmgen_tutorial import anomaly, clustering, em1d, sampling1d
from gmmgen_tutorial import plots as tplots
from gmmgen_tutorial.config import TutorialConfig, settle
from gmmgen_tutorial.section_io import one_thread, rounded, section_dir, seeds, write_csv
from gmmgen_tutorial.stage_segmentation import run_segmentation

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- 1. EM by hand


@dataclass
class EMResult:
    """What the EM section computed, before anything is written.

    ``x``: the points; ``means``, ``variances``: the true components;
    ``runs``: (start number, start, history) of every start that did not
    collapse; ``collapsed``: how many did; ``best``: the index into ``runs``
    of the highest final log-likelihood; ``sk_ll``: scikit-learn's
    log-likelihood from the same start; ``diff``: its largest parameter
    differences from the best run.
    """

    x: np.ndarray
    means: np.ndarray
    variances: np.ndarray
    runs: list[tuple[int, tuple, em1d.EMHistory]]
    collapsed: int
    best: int
    sk_ll: float
    diff: dict[str, float]

    @property
    def hist(self) -> em1d.EMHistory:
        return self.runs[self.best][2]


def compute_em(cfg: TutorialConfig | DictConfig) -> EMResult:
    """EM by hand from ``em.n_starts`` random starts, and scikit-learn's EM from the best one's start."""
    cfg = settle(cfg)  # typed, seeds resolved (a no-op on the entry point's typed config)
    c = cfg.em
    rng = np.random.default_rng(c.seed)
    means, variances = np.array(c.means, float), np.array(c.variances, float)
    k = len(means)
    x, _ = em1d.make_data(means, variances, c.n_per_component, rng)
    runs: list[tuple[int, tuple, em1d.EMHistory]] = []
    collapsed = 0
    for i in range(c.n_starts):
        start = em1d.random_start(x, k, rng)
        try:
            runs.append((i, start, em1d.run_em(x, *start, c.n_steps)))
        except ValueError as exc:
            collapsed += 1
            log.warning("tutorial em: start %d: %s", i, exc)
    if not runs:
        raise ValueError(f"tutorial em: all {c.n_starts} random starts collapsed")
    best = max(range(len(runs)), key=lambda j: runs[j][2].log_likelihood[-1])
    _, start, hist = runs[best]
    with one_thread():
        gm = em1d.sklearn_em(x, *start, c.n_steps)
    sk_ll = float(gm.score(x[:, None]) * len(x))
    diff = {
        "means": float(np.abs(hist.means[-1] - gm.means_[:, 0]).max()),
        "variances": float(np.abs(hist.variances[-1] - gm.covariances_).max()),
        "weights": float(np.abs(hist.weights[-1] - gm.weights_).max()),
    }
    return EMResult(x, means, variances, runs, collapsed, best, sk_ll, diff)


def em_metrics(c: Any, e: EMResult) -> dict[str, Any]:
    """The EM section's metrics.json."""
    hist, runs, diff = e.hist, e.runs, e.diff
    steps_up = np.concatenate([np.diff(run[2].log_likelihood) for run in runs])
    order = np.argsort(hist.means[-1])
    return {
        "n_points": len(e.x),
        "n_steps": c.n_steps,
        "n_starts": c.n_starts,
        "n_collapsed_starts": e.collapsed,
        "chosen_start": runs[e.best][0],
        "start_log_likelihood": rounded(hist.log_likelihood[0]),
        "final_log_likelihood": rounded(hist.log_likelihood[-1]),
        "final_log_likelihood_by_start": {str(i): rounded(h.log_likelihood[-1]) for i, _, h in runs},
        # Smallest change of the log-likelihood over one step, over every start (EM: never < 0).
        "min_step_change": rounded(steps_up.min(), 12),
        "monotone": bool(steps_up.min() >= -1e-9 * abs(hist.log_likelihood).max()),
        "sklearn_max_abs_diff": {key: float(f"{v:.3e}") for key, v in diff.items()},
        "sklearn_agrees_1e-6": bool(max(diff.values()) < 1e-6),
        "sklearn_log_likelihood": rounded(e.sk_ll),
        "fitted": {
            "means": [rounded(v, 6) for v in hist.means[-1][order]],
            "variances": [rounded(v, 6) for v in hist.variances[-1][order]],
            "weights": [rounded(v, 6) for v in hist.weights[-1][order]],
        },
        "true": {"means": list(c.means), "variances": list(c.variances)},
    }


def write_em(cfg: TutorialConfig, e: EMResult) -> Path:
    """Write metrics.json, the best run's history.csv and the two figures at once."""
    c, hist, k, x = cfg.em, e.hist, len(e.means), e.x
    grid = np.linspace(x.min() - 1, x.max() + 1, 400)
    true_pdf = em1d.mixture_pdf(grid, e.means, e.variances, np.full(k, 1 / k)).sum(axis=1)
    steps = [s for s in c.plot_steps if s <= c.n_steps]
    comps = [em1d.mixture_pdf(grid, hist.means[s], hist.variances[s], hist.weights[s]) for s in steps]
    out = section_dir(cfg, "em")
    with atomic_dir(out) as tmp:
        write_json(tmp / "metrics.json", em_metrics(c, e))
        header = ["step", "log_likelihood"] + [f"{p}_{j + 1}" for p in ("mean", "variance", "weight") for j in range(k)]
        rows = [
            [t, f"{hist.log_likelihood[t]:.10g}"]
            + [f"{v:.10g}" for arr in (hist.means, hist.variances, hist.weights) for v in arr[t]]
            for t in range(hist.n_steps + 1)
        ]
        write_csv(tmp / "history.csv", header, rows)
        tplots.em_iterations(x, grid, true_pdf, comps, steps, hist.log_likelihood, tmp / "em_iterations.png")
        curves = np.array([h.log_likelihood for _, _, h in e.runs])
        tplots.em_log_likelihood(curves, e.best, e.sk_ll, tmp / "log_likelihood.png")
    return out


def run_em(cfg: TutorialConfig | DictConfig) -> Path:
    """Section 1: EM by hand from ``n_starts`` random starts; the best compared with scikit-learn."""
    cfg = settle(cfg)  # typed, seeds resolved (a no-op on the entry point's typed config)
    e = compute_em(cfg)
    out = write_em(cfg, e)
    log.info(
        "tutorial em: log-likelihood %.2f -> %.2f in %d steps; scikit-learn differs by %.1e",
        e.hist.log_likelihood[0],
        e.hist.log_likelihood[-1],
        cfg.em.n_steps,
        max(e.diff.values()),
    )
    return out


# --------------------------------------------------------------------------- 2. clustering


def compute_clustering(cfg: TutorialConfig | DictConfig) -> tuple[dict[str, Any], tuple]:
    """K components on the 2-D points, BIC and AIC over K there and on blobs: (metrics, what the figures show)."""
    cfg = settle(cfg)  # typed, seeds resolved (a no-op on the entry point's typed config)
    c = cfg.clustering
    seed = c.seed
    data_seed, fit_seed, blob_seed = seeds(seed, 3)
    x = clustering.make_points(c.n_points, c.points, np.random.default_rng(data_seed))
    bx, by = clustering.blobs(c.n_points, c.blobs_centers, c.blobs_std, c.blobs_box, blob_seed % 2**31)
    with one_thread():
        gm = clustering.fit(x, c.n_components, fit_seed, c.n_init)
        labels = gm.predict(x)
        crit = clustering.criteria_over_k(x, c.k_grid, fit_seed, c.n_init)
        crit_b = clustering.criteria_over_k(bx, c.k_grid, fit_seed, c.n_init)
        blabels = clustering.fit(bx, crit_b.best_bic, fit_seed, c.n_init).predict(bx)
    metrics = {
        "points": {
            "kind": c.points,
            "n_components": c.n_components,
            "cluster_sizes": [int(v) for v in np.bincount(labels, minlength=c.n_components)],
            "bic_chooses": crit.best_bic,
            "aic_chooses": crit.best_aic,
        },
        "blobs": {
            "true_k": c.blobs_centers,
            "bic_chooses": crit_b.best_bic,
            "aic_chooses": crit_b.best_aic,
            "bic_finds_true_k": crit_b.best_bic == c.blobs_centers,
            "adjusted_rand_index": rounded(clustering.label_agreement(by, blabels), 6),
        },
    }
    return metrics, (x, labels, crit, bx, blabels, crit_b)


def write_clustering(cfg: TutorialConfig, metrics: dict[str, Any], shown: tuple) -> Path:
    """Write metrics.json, criteria.csv and the two figures at once."""
    c = cfg.clustering
    x, labels, crit, bx, blabels, crit_b = shown
    out = section_dir(cfg, "clustering")
    with atomic_dir(out) as tmp:
        write_json(tmp / "metrics.json", metrics)
        rows = [
            [name, int(k), f"{b:.6f}", f"{a:.6f}"]
            for name, cr in (("points", crit), ("blobs", crit_b))
            for k, b, a in zip(cr.k, cr.bic, cr.aic, strict=True)
        ]
        write_csv(tmp / "criteria.csv", ["data", "n_components", "bic", "aic"], rows)
        tplots.clusters(
            x,
            labels,
            bx,
            blabels,
            (
                f"{c.n_points} {c.points} points, {c.n_components} components (labels: highest responsibility)",
                f"make_blobs with {c.blobs_centers} centres, K={crit_b.best_bic} chosen by BIC",
            ),
            tmp / "clusters.png",
        )
        tplots.criteria(
            [
                (f"the {c.points} points (no clusters)", crit.k, crit.bic, crit.aic, None),
                (f"make_blobs, {c.blobs_centers} true clusters", crit_b.k, crit_b.bic, crit_b.aic, c.blobs_centers),
            ],
            tmp / "criteria.png",
        )
    return out


def run_clustering(cfg: TutorialConfig | DictConfig) -> Path:
    """Section 2: K components on the tutorial's 2-D points; BIC and AIC over K there and on blobs."""
    cfg = settle(cfg)  # typed, seeds resolved (a no-op on the entry point's typed config)
    metrics, shown = compute_clustering(cfg)
    out = write_clustering(cfg, metrics, shown)
    crit, crit_b = shown[2], shown[5]
    log.info(
        "tutorial clustering: BIC picks K=%d on the points, K=%d on blobs (true %d)",
        crit.best_bic,
        crit_b.best_bic,
        cfg.clustering.blobs_centers,
    )
    return out


# --------------------------------------------------------------------------- 3. sampling


def run_sampling(cfg: TutorialConfig | DictConfig) -> Path:
    """Section 3: fit K components to 1-D points, draw new points, test them (Kolmogorov-Smirnov)."""
    cfg = settle(cfg)  # typed, seeds resolved (a no-op on the entry point's typed config)
    c = cfg.sampling
    data_seed, fit_seed, draw_seed = seeds(c.seed, 3)
    data = sampling1d.make_data(c.means, c.variances, c.n_points, np.random.default_rng(data_seed))
    with one_thread():
        gm = sampling1d.fit(data, c.n_components, fit_seed)
    draws = sampling1d.draw(gm, c.n_draws, draw_seed)
    m, v, w = sampling1d.parameters(gm)
    tests = sampling1d.test_draws(draws, data, m, v, w)
    metrics = {
        "n_points": c.n_points,
        "n_draws": c.n_draws,
        "fitted": {
            "means": [rounded(a, 6) for a in m],
            "variances": [rounded(a, 6) for a in v],
            "weights": [rounded(a, 6) for a in w],
        },
        "ks_vs_model": {"statistic": rounded(tests.ks_model, 8), "p_value": rounded(tests.p_model, 8)},
        "ks_vs_data": {"statistic": rounded(tests.ks_data, 8), "p_value": rounded(tests.p_data, 8)},
        "alpha": c.alpha,
        "draws_match_model": bool(tests.p_model > c.alpha),
        "draws_match_data": bool(tests.p_data > c.alpha),
    }
    grid = np.linspace(min(data.min(), draws.min()) - 0.5, max(data.max(), draws.max()) + 0.5, 400)
    note = (
        f"KS draws vs fitted CDF: D={tests.ks_model:.3f}, p={tests.p_model:.2f}\n"
        f"KS draws vs data:       D={tests.ks_data:.3f}, p={tests.p_data:.2f}"
    )
    out = section_dir(cfg, "sampling")
    with atomic_dir(out) as tmp:
        write_json(tmp / "metrics.json", metrics)
        write_csv(tmp / "draws.csv", ["x"], [[f"{d:.10g}"] for d in draws])
        tplots.sampling_overlay(data, draws, grid, em1d.mixture_pdf(grid, m, v, w), note, tmp / "overlay.png")
    log.info("tutorial sampling: KS p=%.3f vs the model, p=%.3f vs the data", tests.p_model, tests.p_data)
    return out


# --------------------------------------------------------------------------- 5. anomaly detection


def run_anomaly(cfg: TutorialConfig | DictConfig) -> Path:
    """Section 5: flag low-density points of the 2-D example with injected outliers; precision and recall."""
    cfg = settle(cfg)  # typed, seeds resolved (a no-op on the entry point's typed config)
    c = cfg.anomaly
    data_seed, out_seed, fit_seed = seeds(c.seed, 3)
    inliers = clustering.make_points(c.n_points, c.points, np.random.default_rng(data_seed))
    x, is_out = anomaly.inject_outliers(
        inliers, c.n_outliers, c.outlier_box, c.outlier_min_radius, np.random.default_rng(out_seed)
    )
    with one_thread():
        gm = clustering.fit(x, c.n_components, fit_seed)
        det = anomaly.detect(gm, x, is_out, c.threshold_percentile)
        lim = max(c.outlier_box, float(np.abs(x).max())) + 0.5
        gx, gy = np.meshgrid(np.linspace(-lim, lim, 200), np.linspace(-lim, lim, 200))
        glogp = gm.score_samples(np.c_[gx.ravel(), gy.ravel()]).reshape(gx.shape)
    tp = int(np.sum(det.flagged & is_out))
    metrics = {
        "n_points": len(x),
        "n_outliers": c.n_outliers,
        "threshold_percentile": c.threshold_percentile,
        "log_density_threshold": rounded(det.threshold, 8),
        "n_flagged": int(det.flagged.sum()),
        "true_positives": tp,
        "false_positives": int(det.flagged.sum()) - tp,
        "false_negatives": c.n_outliers - tp,
        "precision": rounded(det.precision, 6),
        "recall": rounded(det.recall, 6),
        "roc_auc": rounded(det.roc_auc, 6),
        "average_precision": rounded(det.average_precision, 6),
    }
    title = (
        f"flagged: density below the {c.threshold_percentile:g}% quantile; "
        f"precision {det.precision:.2f}, recall {det.recall:.2f} ({c.n_outliers} injected)"
    )
    out = section_dir(cfg, "anomaly")
    with atomic_dir(out) as tmp:
        write_json(tmp / "metrics.json", metrics)
        rows = [
            [f"{a:.8g}", f"{b:.8g}", int(o), int(f), f"{lp:.8g}"]
            for (a, b), o, f, lp in zip(x, is_out, det.flagged, det.log_density, strict=True)
        ]
        write_csv(tmp / "points.csv", ["x1", "x2", "injected", "flagged", "log_density"], rows)
        tplots.anomaly(x, is_out, det.flagged, gx, gy, glogp, det.threshold, title, tmp / "anomaly.png")
    log.info("tutorial anomaly: precision %.2f, recall %.2f", det.precision, det.recall)
    return out


SECTIONS = {
    "em": run_em,
    "clustering": run_clustering,
    "sampling": run_sampling,
    "segmentation": run_segmentation,
    "anomaly": run_anomaly,
}
