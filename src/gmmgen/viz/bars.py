"""Bar charts: the sample quality of each criterion's choice beside real-digit floors, and anomaly detection.

Bars carry their values; a zero bar is a visible line, a missing value "n/a".
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from gmmgen.viz import style
from gmmgen.viz.titles import title_lines


def _bars(ax: plt.Axes, values: Sequence[float], colors: Sequence[str], fmt, x=None, width: float = 0.7, above=None):
    """Bars with their values written on them; a zero bar is drawn as a visible line with its label, a NaN as "n/a".

    ``above`` (per bar, optional): how far above the bar's top its label goes (an error bar's half-length).
    """
    x = np.arange(len(values)) if x is None else np.asarray(x, float)
    shown = [float(v) if np.isfinite(v) else 0.0 for v in values]
    lift = [float(a) if a is not None and np.isfinite(a) else 0.0 for a in (above or [None] * len(values))]
    bars = ax.bar(x, shown, width=width, color=colors, edgecolor="black", linewidth=0.8)
    for xi, v, h, up in zip(x, values, shown, lift, strict=True):
        ax.plot([xi - width / 2, xi + width / 2], [h, h], color="black", lw=2.0, solid_capstyle="butt")
        ax.annotate(
            fmt(v) if np.isfinite(v) else "n/a", (xi, h + up), xytext=(0, 3 if h >= 0 else -3),
            textcoords="offset points", ha="center", va="bottom" if h >= 0 else "top", fontsize=8,
        )  # fmt: skip
    return bars


def _zoomed_bars(ax: plt.Axes, values: Sequence[float], colors: Sequence[str], fmt, width: float = 0.7) -> None:
    """Bars on an axis around ``values`` (finite ones), rising from its bottom: small differences show."""
    finite = [v for v in values if np.isfinite(v)]
    lo, hi = min(finite), max(finite)
    span = max(hi - lo, 0.001 * max(abs(hi), 1e-3))
    bottom, top = lo - 1.5 * span, hi + 0.5 * span
    x = np.arange(len(values))
    heights = [v - bottom if np.isfinite(v) else 0.0 for v in values]
    ax.bar(x, heights, width=width, bottom=bottom, color=colors, edgecolor="black", linewidth=0.8)
    for xi, v in zip(x, values, strict=True):
        shown = v if np.isfinite(v) else bottom
        ax.annotate(fmt(v) if np.isfinite(v) else "n/a", (xi, shown), xytext=(0, 3), textcoords="offset points",
                    ha="center", va="bottom", fontsize=8)  # fmt: skip
    ax.set_ylim(bottom, top)


def criteria_comparison(
    rows: Sequence[dict[str, Any]], reference: dict[str, Any], path: str | Path, title: str = "", used: str = ""
) -> Path:
    """Sample quality and copying of the models chosen by each criterion, side by side, with real-digit floors.

    Eight panels: Fréchet distance, Inception Score, precision, recall, NDB
    (share of bins), C_T (with the copying threshold), the nearest-neighbour
    distance ratio and test bits/pixel. A dashed line is each metric's
    real-vs-real floor; C_T also has a red dotted line at the threshold, and a
    copying choice is hatched. Missing floors draw no line. The Inception Score
    carries its ± std over the splits (``inception_score_std``) as an error bar;
    bits/pixel, whose values differ in the second decimal, is drawn on an axis
    around them (bars from the axis' bottom, not from 0). The criterion ``used``
    by the pipeline is named "(used)" under its bar and drawn with a thick edge,
    as ``sweep.png`` marks its panel.
    """
    label = style.CRITERION_LABEL
    names = [
        f"{label.get(r['criterion'], r['criterion'])}{' (used)' if r['criterion'] == used else ''}\n"
        f"{r['covariance_type']} K={r['n_components']}"
        for r in rows
    ]
    colors = [style.CRITERION_COLOR.get(r["criterion"], "tab:gray") for r in rows]
    fig, axes = plt.subplots(2, 4, figsize=(17, 8.4))
    for ax, panel in zip(axes.flat, _quality_panels(reference), strict=True):
        _quality_panel(ax, panel, rows, reference, names, colors, used)
    fig.suptitle(title_lines("Sample quality and data-copying of the model each criterion chooses", title))
    fig.tight_layout()
    return style.save(fig, path)


def _pct(v: float) -> str:
    """A share as a whole percentage (0.25 -> 25%)."""
    return f"{100 * v:.0f}%"


def _quality_panels(reference: dict[str, Any]) -> list[tuple]:
    """Per panel of :func:`criteria_comparison`: key, title, y label, real-digit floor, the floor's name, format."""
    n_real = reference.get("frechet_n", "?")
    panels = [
        ("frechet_distance", "Fréchet distance to test digits", "judge-CNN features; lower is better",
         reference.get("frechet_floor"), f"real vs real, {n_real} digits",
         lambda v: f"{v:.1f}" if v >= 10 else f"{v:.2f}"),
        ("inception_score", "Inception Score", "1 to 10; higher is better",
         reference.get("inception_score_real"), "real digits", lambda v: f"{v:.2f}"),
        ("precision", "precision (fidelity)", "share of samples on the real manifold",
         reference.get("precision_floor"), "real vs real", _pct),
        ("recall", "recall (coverage of real digits)", "share of real digits on the samples' manifold",
         reference.get("recall_floor"), "real vs real", _pct),
        ("ndb_share", f"NDB: bins that differ (K={reference.get('ndb_bins', '?')})", "share of bins; lower is better",
         reference.get("ndb_share_floor"), "real vs real", _pct),
        ("copying_c_t", "data-copying test C_T", "below 0: closer to training digits than unseen ones",
         reference.get("copying_c_t_floor"), "unseen real digits", lambda v: f"{v:.2f}"),
        ("nn_distance_ratio", "nearest-training-digit distance", "median, generated / real test digits",
         None, "", lambda v: f"{v:.2f}"),
        ("test_bpp", "test bits/pixel (pixel space)", "bits per pixel (lower is better)", None, "",
         lambda v: f"{v:.3f}"),
    ]  # fmt: skip
    return panels


def _quality_panel(
    ax: plt.Axes,
    panel: tuple,
    rows: Sequence[dict[str, Any]],
    reference: dict[str, Any],
    names: list[str],
    colors: list[str],
    used: str,
) -> None:
    """One panel of :func:`criteria_comparison`: a bar per criterion's choice, its floor, the one ``used`` marked."""
    key, panel_title, ylabel, ref_value, ref_label, fmt = panel
    values = [float(r.get(key, np.nan)) for r in rows]
    finite = [v for v in values if np.isfinite(v)]
    std = None
    if key == "test_bpp" and finite:  # differences in the second decimal: an axis around the values
        _zoomed_bars(ax, values, colors, fmt)
        panel_title += "\n(axis around the values, not from 0)"
    else:
        std = [float(r.get("inception_score_std", np.nan)) for r in rows] if key == "inception_score" else None
        bars = _bars(ax, values, colors, fmt, above=std)
    if std is not None:
        ax.errorbar(range(len(rows)), values, yerr=std, fmt="none", ecolor="black", capsize=4, lw=1)
        finite = finite + [v + e for v, e in zip(values, std, strict=True) if np.isfinite(v + e)]
        panel_title += " ± std over splits"
    ax.set_xticks(range(len(rows)), names, fontsize=8)
    for tick, r in zip(ax.get_xticklabels(), rows, strict=True):
        if r["criterion"] == used:
            tick.set_fontweight("bold")
    extra = [ref_value] if ref_value is not None and np.isfinite(ref_value) else []
    if key == "copying_c_t":
        threshold = reference.get("copying_threshold")
        if threshold is not None:
            extra.append(float(threshold))
            ax.axhline(threshold, color="tab:red", ls=":", lw=1.2)
            panel_title += f"; red dotted: copying below {threshold:g} (hatched)"
        for bar, r in zip(bars, rows, strict=True):
            if r.get("copying_status") == "copying":
                bar.set_hatch("///")
    if key != "test_bpp" or not finite:
        top = max([*finite, *extra, 0.0])
        bottom = min([*finite, *extra, 0.0])
        span = max(top - bottom, 1e-3)
        ax.set_ylim(bottom - (0.12 * span if bottom < 0 else 0), top + 0.15 * span)
    if ref_value is not None and np.isfinite(ref_value):  # named in the title, so no label sits on the bars
        ax.axhline(ref_value, color="black", ls="--", lw=1)
        panel_title += f"\n(dashed: {ref_label}, {fmt(ref_value)})"
    if fmt is _pct:
        ax.yaxis.set_major_formatter(lambda v, _: f"{100 * v:.0f}%")
    for patch, r in zip(ax.patches, rows, strict=False):
        if r["criterion"] == used:
            patch.set_linewidth(2.5)
    ax.set_title(panel_title, fontsize=9)
    ax.set_ylabel(ylabel, fontsize=8)
    ax.grid(False, axis="x")


def anomaly_bars(report: dict[str, Any], path: str | Path, title: str = "") -> Path:
    """Share flagged and ROC AUC per corruption, clean test digits for reference, values written on the bars.

    When ``report["pca_space_only"]`` is there, its ROC AUC is drawn beside the
    pixel-space score's, so the gain from scoring the PCA residual shows.
    """
    kinds = list(report["corruptions"])
    pca_only = report.get("pca_space_only")
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
    flagged = [report["flagged_clean_test"]] + [report["corruptions"][k]["flagged"] for k in kinds]
    _bars(axes[0], flagged, ["tab:gray"] + ["tab:red"] * len(kinds), lambda v: f"{100 * v:.1f}%")
    axes[0].set_xticks(range(len(kinds) + 1), ["clean test", *kinds])
    axes[0].set_ylim(0, 1.12)
    axes[0].yaxis.set_major_formatter(lambda v, _: f"{100 * v:.0f}%")
    axes[0].set_ylabel("share of digits flagged")
    axes[0].set_title(f"flagged: less likely than {report.get('percentile', 1):g}% of validation digits", fontsize=10)
    x = np.arange(len(kinds))
    auc = [report["corruptions"][k]["roc_auc"] for k in kinds]
    if pca_only:
        w = 0.38
        _bars(axes[1], auc, ["tab:purple"] * len(kinds), lambda v: f"{v:.2f}", x=x - w / 2, width=w)
        other = [pca_only["corruptions"][k]["roc_auc"] for k in kinds]
        _bars(axes[1], other, ["thistle"] * len(kinds), lambda v: f"{v:.2f}", x=x + w / 2, width=w)
        axes[1].legend(
            handles=[
                plt.Rectangle((0, 0), 1, 1, fc="tab:purple", ec="black", label="pixels (mixture + PCA residual)"),
                plt.Rectangle((0, 0), 1, 1, fc="thistle", ec="black", label="PCA coordinates only"),
            ],
            loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2, frameon=False,
        )  # fmt: skip
    else:
        _bars(axes[1], auc, ["tab:purple"] * len(kinds), lambda v: f"{v:.2f}")
    axes[1].axhline(0.5, color="black", ls="--", lw=1)
    axes[1].annotate("chance", (1.0, 0.5), xycoords=("axes fraction", "data"), xytext=(-2, 3),
                     textcoords="offset points", ha="right", fontsize=7)  # fmt: skip
    axes[1].set_xticks(x, kinds)
    axes[1].set_ylim(0, 1.15)
    axes[1].set_ylabel("ROC AUC (1 = perfect, 0.5 = chance)")
    axes[1].set_title("clean vs corrupted test digits")
    for ax in axes:
        ax.grid(False, axis="x")
    fig.suptitle(title_lines("Anomaly detection by log-likelihood", title))
    fig.tight_layout()
    return style.save(fig, path)
