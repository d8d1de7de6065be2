"""Every figure the pipeline writes (matplotlib, Agg backend), in the look of :mod:`gmmgen.viz.style`.

Each figure is saved as a PNG and an SVG beside it (:func:`gmmgen.viz.style.save`).
Figures depend only on their inputs: the same arrays give the same bytes.
Charts carry axis labels with units and, where the caller passes one, a title
naming the data, N, the PCA setting and the covariance type.
"""

from __future__ import annotations

import math
import re
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.lines import Line2D
from matplotlib.ticker import FixedLocator, NullLocator

from gmmgen.viz import style

_save = style.save

DIGIT_INCH = 0.5
"""Side of one digit in a grid, in inches (75 pixels at the PNG resolution)."""
MIN_WIDTH = 5.0
"""Narrowest grid figure, in inches: room for a title line."""


def mosaic(images: np.ndarray, cols: int, pad: int = 1) -> np.ndarray:
    """Tile (n, h, w) images into one (rows*(h+pad)+pad, cols*(w+pad)+pad) array, row-major."""
    n, h, w = images.shape
    cols = max(1, min(cols, n))
    rows = int(np.ceil(n / cols))
    canvas = np.zeros((rows * (h + pad) + pad, cols * (w + pad) + pad), dtype=images.dtype)
    for i, img in enumerate(images):
        r, c = divmod(i, cols)
        canvas[pad + r * (h + pad) : pad + r * (h + pad) + h, pad + c * (w + pad) : pad + c * (w + pad) + w] = img
    return canvas


def _title_lines(title: str, subtitle: str = "", width: float | None = None) -> str:
    """Title above subtitle; with ``width`` (inches), each wrapped to fit it at the grid's 9-point font."""
    lines = [t for t in (title, subtitle) if t]
    if width is not None:
        chars = max(20, int(width * 14))
        lines = [_wrap_phrases(t, chars) for t in lines]
    return "\n".join(lines)


def _wrap_phrases(text: str, chars: int) -> str:
    """``text`` in lines of at most ``chars``, broken after a comma or semicolon (whole phrases), else at spaces."""
    out: list[str] = []
    for phrase in re.split(r"(?<=[;,])\s+", text):
        if out and len(out[-1]) + 1 + len(phrase) <= chars:
            out[-1] += " " + phrase
        else:
            out += textwrap.wrap(phrase, chars) or [""]
    return "\n".join(out)


def image_grid(
    images: np.ndarray,
    path: str | Path,
    cols: int = 10,
    title: str = "",
    row_labels: Sequence[str] | None = None,
    subtitle: str = "",
) -> Path:
    """Save uint8 digits (n, h, w) as a grid, white on black like MNIST, half an inch per digit."""
    n = len(images)
    cols = max(1, min(cols, n))
    rows = int(np.ceil(n / cols))
    cell = DIGIT_INCH if cols * DIGIT_INCH >= 4 else min(1.0, 4 / cols)  # a few digits are drawn larger
    grid_w, grid_h = cols * cell, rows * cell
    label_w = 0.4 if row_labels else 0.0
    width = max(MIN_WIDTH, grid_w + label_w + 0.3)
    text = _title_lines(title, subtitle, width - 0.2)
    head = 0.12 + 0.17 * (text.count("\n") + 1) if text else 0.12
    fig = plt.figure(figsize=(width, grid_h + head + 0.15))
    # The grid keeps its natural size, centred; the title gets its own strip on top.
    left = (width - grid_w - label_w) / 2 + label_w
    ax = fig.add_axes((left / width, 0.15 / (grid_h + head + 0.15), grid_w / width, grid_h / (grid_h + head + 0.15)))
    ax.imshow(mosaic(images, cols), cmap="gray", vmin=0, vmax=255, interpolation="nearest", aspect="auto")
    ax.set_xticks([])
    ax.grid(False)
    for side in ("top", "right", "bottom", "left"):
        ax.spines[side].set_visible(False)
    if row_labels:
        h = images.shape[1] + 1
        ax.set_yticks([1 + h * i + h / 2 - 1 for i in range(len(row_labels))], labels=list(row_labels))
        ax.tick_params(axis="y", length=0)
    else:
        ax.set_yticks([])
    if text:
        fig.suptitle(text, fontsize=9, y=1 - 0.06 / (grid_h + head + 0.15), va="top")
    return _save(fig, path)


def side_by_side(
    left: np.ndarray, right: np.ndarray, path: str | Path, titles: tuple[str, str], cols: int = 10, subtitle: str = ""
) -> Path:
    """Two digit grids in one figure (for example generated beside real digits)."""
    rows = int(np.ceil(max(len(left), len(right)) / cols))
    fig, axes = plt.subplots(1, 2, figsize=(2 * cols * DIGIT_INCH * 0.9 + 0.6, rows * DIGIT_INCH * 0.9 + 0.9))
    for ax, images, title in zip(axes, (left, right), titles, strict=True):
        ax.imshow(mosaic(images, cols), cmap="gray", vmin=0, vmax=255, interpolation="nearest")
        ax.set_title(title)
        ax.axis("off")
    if subtitle:
        fig.suptitle(subtitle, fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def explained_variance(
    ratio: np.ndarray, threshold: float | None, kept: int, path: str | Path, title: str = ""
) -> Path:
    """Cumulative explained variance (fraction) against the number of components, threshold and cut marked."""
    cumulative = np.cumsum(ratio)
    fig, ax = plt.subplots(figsize=(6.4, 4))
    ax.plot(np.arange(1, len(cumulative) + 1), cumulative, lw=1.5, color="tab:blue", label="cumulative share")
    if threshold is not None:
        ax.axhline(threshold, color="tab:red", ls="--", lw=1, label=f"threshold {threshold:.0%}")
    ax.axvline(kept, color="tab:green", ls=":", lw=1.2, label=f"{kept} components kept ({cumulative[kept - 1]:.1%})")
    ax.set_xscale("log")
    ticks = [t for t in (1, 2, 5, 10, 20, 50, 100, 200, 500) if t <= len(cumulative)]
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xticklabels([str(t) for t in ticks])
    ax.set_xlabel("number of principal components (log scale)")
    ax.set_ylabel("cumulative share of pixel variance explained")
    ax.set_ylim(0, 1.01)
    ax.legend(loc="lower right")
    ax.set_title(_title_lines("PCA: variance explained", title))
    fig.tight_layout()
    return _save(fig, path)


def reconstructions(
    originals: np.ndarray, recon: np.ndarray, path: str | Path, n_dims: int, subtitle: str = ""
) -> Path:
    """Validation digits (top row) above their PCA reconstructions (bottom row)."""
    n = len(originals)
    stacked = np.concatenate([originals, recon])
    return image_grid(
        stacked,
        path,
        cols=n,
        title=f"validation digits (top) and their reconstructions from {n_dims} dims (bottom)",
        subtitle=subtitle,
    )


# --------------------------------------------------------------------------- model selection

SWEEP_PANELS = (
    ("bic", "bic", "BIC = -2 log L + p log N\n(lower is better; within this run only)"),
    ("aic", "aic", "AIC = -2 log L + 2p\n(lower is better; within this run only)"),
    (
        "heldout",
        "val_bpp",
        "validation bits/pixel, pixel space (lower is better;\nmostly PCA residual: ranks K, not PCA settings)",
    ),
)
GOOD_STATUSES = ("sound", "thin")
"""Fits whose values set a panel's range (thin fits are the rule at small n)."""


def _fmt_value(v: float) -> str:
    """Short, exact-enough text for a number of any size (1.23e+06, 3,214, -71.5, 0.25)."""
    a = abs(v)
    if a >= 1e6:
        return f"{v:.3g}"
    if a >= 1000:
        return f"{v:,.0f}"
    if a >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def _sound_range(values: list[float], sound: list[float]) -> tuple[float, float] | None:
    """A y range that shows the sound fits well, or None when every value already fits in it."""
    base = sound or values
    if not base:  # nothing to show (no validation digits: no validation bits/pixel)
        return None
    lo, hi = min(base), max(base)
    span = max(hi - lo, 1e-9 * max(abs(lo), abs(hi), 1.0))
    lo_lim, hi_lim = lo - 0.6 * span, hi + 0.6 * span
    if all(lo_lim <= v <= hi_lim for v in values):
        return None
    return lo_lim, hi_lim


def sweep_criteria(
    rows: Sequence[dict[str, Any]],
    choices: dict[str, dict[str, Any]],
    criterion: str,
    path: str | Path,
    title: str = "",
) -> Path:
    """BIC, AIC and held-out log-likelihood against K, one curve per covariance type.

    Each panel stars the model its own criterion chooses (``choices[name]``, as
    :func:`gmmgen.core.mixture.choices` gives them) and says "none" when it chooses
    nothing; the panel of ``criterion``, the one the pipeline uses, says so.
    Sound fits are filled dots, fits with any other status hollow, failed fits
    crosses at the bottom. Values far outside the sound fits' range (collapsed
    fits reach -1e6) are drawn as triangles on the panel's edge with their value.
    """
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.8))
    cov_types = list(dict.fromkeys(r["covariance_type"] for r in rows))
    ks = sorted({r["n_components"] for r in rows})
    for ax, (name, key, ylabel) in zip(axes, SWEEP_PANELS, strict=True):
        usable = [r for r in rows if r["status"] != "failed" and math.isfinite(r[key])]
        limits = _sound_range([r[key] for r in usable], [r[key] for r in usable if r["status"] in GOOD_STATUSES])
        off_scale = []
        for cov in cov_types:
            color = style.COVARIANCE_COLOR.get(cov, "tab:gray")
            sub = sorted((r for r in usable if r["covariance_type"] == cov), key=lambda r: r["n_components"])
            inside = [r for r in sub if limits is None or limits[0] <= r[key] <= limits[1]]
            off_scale += [(r, color) for r in sub if r not in inside]
            ys = [r[key] if r in inside else math.nan for r in sub]  # the line breaks where a fit is off scale
            ax.plot([r["n_components"] for r in sub], ys, "-", color=color, lw=1.2)
            for r in inside:
                fill = {"sound": "full", "thin": "bottom"}.get(r["status"], "none")
                ax.plot(r["n_components"], r[key], "o", color=color, fillstyle=fill, ms=5)
            failed = [r["n_components"] for r in rows if r["covariance_type"] == cov and r["status"] == "failed"]
            if failed:
                ax.plot(failed, [0.03] * len(failed), "x", color=color, transform=ax.get_xaxis_transform(), ms=7)
        if limits is not None:
            ax.set_ylim(*limits)
            for r, color in off_scale:
                low = r[key] < limits[0]
                y = 0.02 if low else 0.98
                ax.plot(
                    r["n_components"], y, "v" if low else "^", color=color, mfc="white",
                    transform=ax.get_xaxis_transform(), ms=7, clip_on=False,
                )  # fmt: skip
            if off_scale:
                values = [r[key] for r, _ in off_scale]
                ends = [f"down to {_fmt_value(min(values))}"] if min(values) < limits[0] else []
                ends += [f"up to {_fmt_value(max(values))}"] if max(values) > limits[1] else []
                ax.text(
                    0.98, 0.07, f"{len(off_scale)} off scale (triangles), {' and '.join(ends)}",
                    transform=ax.transAxes, ha="right", va="bottom", fontsize=7, color="0.3",
                    bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1},
                )  # fmt: skip
        choice = choices.get(name)
        used = " (used)" if name == criterion else ""
        label = style.CRITERION_LABEL[name]
        if choice is not None and math.isfinite(choice[key]):
            ax.plot(
                choice["n_components"], choice[key], "*", color="black", ms=15, zorder=5,
                label=f"{label}'s choice: {choice['covariance_type']} K={choice['n_components']}",
            )  # fmt: skip
            ax.annotate(
                f"{choice['covariance_type']} K={choice['n_components']}",
                (choice["n_components"], choice[key]),
                xytext=(8, -14),
                textcoords="offset points",
                fontsize=8,
                fontweight="bold",
            )
            ax.set_title(f"{label} chooses {choice['covariance_type']} K={choice['n_components']}{used}")
        else:
            ax.set_title(f"{label} chooses none{used}")
            ax.text(0.5, 0.5, "no usable fit: none", transform=ax.transAxes, ha="center", color="0.4")
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(FixedLocator(ks))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xticklabels([str(k) for k in ks], fontsize=7 if len(ks) > 10 else 8, rotation=90 if len(ks) > 10 else 0)
        ax.yaxis.set_major_formatter(lambda v, _: f"{v:,.0f}" if abs(v) >= 1000 else f"{v:g}")
        ax.set_xlabel("number of components K (log scale)")
        ax.set_ylabel(ylabel)
    handles = [Line2D([], [], color=style.COVARIANCE_COLOR.get(c, "tab:gray"), lw=1.2, label=c) for c in cov_types]
    handles += [
        Line2D([], [], ls="", marker="o", color="0.3", ms=5, label="sound fit"),
        Line2D([], [], ls="", marker="o", color="0.3", fillstyle="bottom", ms=5, label="thin fit"),
        Line2D([], [], ls="", marker="o", color="0.3", fillstyle="none", ms=5, label="degenerate or not converged"),
        Line2D([], [], ls="", marker="x", color="0.3", ms=6, label="failed"),
        Line2D([], [], ls="", marker="*", color="black", ms=11, label="the panel's criterion's choice"),
    ]
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), frameon=False)
    fig.suptitle(_title_lines("Model selection: three criteria against K", title))
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return _save(fig, path)


# --------------------------------------------------------------------------- evaluation


def labelled_grid(
    images: np.ndarray, labels: Sequence[str], path: str | Path, cols: int = 10, title: str = "", subtitle: str = ""
) -> Path:
    """Digits in a grid, each with a small caption (e.g. a component's majority digit)."""
    n = len(images)
    cols = max(1, min(cols, n))
    rows = int(np.ceil(n / cols))
    cell = 0.75 if cols * 0.75 >= 4 else min(1.0, 4 / cols)
    width = max(MIN_WIDTH, cols * cell)
    text = _title_lines(title, subtitle, width - 0.2)
    head = 0.1 + 0.17 * (text.count("\n") + 1) if text else 0.0
    fig = plt.figure(figsize=(width, rows * (cell + 0.2) + head + 0.1))
    grid = fig.add_gridspec(
        rows, cols, left=(width - cols * cell) / 2 / width, right=1 - (width - cols * cell) / 2 / width,
        top=1 - (head + 0.05) / (rows * (cell + 0.2) + head + 0.1), bottom=0.02, hspace=0.35, wspace=0.08,
    )  # fmt: skip
    for i in range(n):
        ax = fig.add_subplot(grid[divmod(i, cols)])
        ax.imshow(images[i], cmap="gray", vmin=0, vmax=255, interpolation="nearest")
        ax.set_title(labels[i], fontsize=7, pad=2)
        ax.axis("off")
    if text:
        fig.suptitle(text, fontsize=9, y=1 - 0.04 / (rows * (cell + 0.2) + head + 0.1), va="top")
    return _save(fig, path)


def training_curve(history: dict[str, list[float]], path: str | Path, title: str = "") -> Path:
    """Training loss (cross-entropy, nats) and accuracy of the judge CNN per epoch."""
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    units = {"loss": "cross-entropy loss (nats)", "accuracy": "accuracy (share correct)"}
    for ax, key in zip(axes, ("loss", "accuracy"), strict=True):
        epochs = range(1, len(history[key]) + 1)
        ax.plot(epochs, history[key], marker="o", color="tab:blue")
        ax.set_xlabel("epoch")
        ax.set_xticks(list(epochs))
        ax.set_ylabel(units[key])
        ax.set_title(f"training {key}")
    fig.suptitle(_title_lines("Judge CNN training", title))
    fig.tight_layout()
    return _save(fig, path)


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
    n_real = reference.get("frechet_n", "?")
    pct = lambda v: f"{100 * v:.0f}%"  # noqa: E731
    panels = [
        ("frechet_distance", "Fréchet distance to test digits", "judge-CNN features; lower is better",
         reference.get("frechet_floor"), f"real vs real, {n_real} digits",
         lambda v: f"{v:.1f}" if v >= 10 else f"{v:.2f}"),
        ("inception_score", "Inception Score", "1 to 10; higher is better",
         reference.get("inception_score_real"), "real digits", lambda v: f"{v:.2f}"),
        ("precision", "precision (fidelity)", "share of samples on the real manifold",
         reference.get("precision_floor"), "real vs real", pct),
        ("recall", "recall (coverage of real digits)", "share of real digits on the samples' manifold",
         reference.get("recall_floor"), "real vs real", pct),
        ("ndb_share", f"NDB: bins that differ (K={reference.get('ndb_bins', '?')})", "share of bins; lower is better",
         reference.get("ndb_share_floor"), "real vs real", pct),
        ("copying_c_t", "data-copying test C_T", "below 0: closer to training digits than unseen ones",
         reference.get("copying_c_t_floor"), "unseen real digits", lambda v: f"{v:.2f}"),
        ("nn_distance_ratio", "nearest-training-digit distance", "median, generated / real test digits",
         None, "", lambda v: f"{v:.2f}"),
        ("test_bpp", "test bits/pixel (pixel space)", "bits per pixel (lower is better)", None, "",
         lambda v: f"{v:.3f}"),
    ]  # fmt: skip
    label = style.CRITERION_LABEL
    names = [
        f"{label.get(r['criterion'], r['criterion'])}{' (used)' if r['criterion'] == used else ''}\n"
        f"{r['covariance_type']} K={r['n_components']}"
        for r in rows
    ]
    colors = [style.CRITERION_COLOR.get(r["criterion"], "tab:gray") for r in rows]
    fig, axes = plt.subplots(2, 4, figsize=(17, 8.4))
    for ax, (key, panel_title, ylabel, ref_value, ref_label, fmt) in zip(axes.flat, panels, strict=True):
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
        if fmt is pct:
            ax.yaxis.set_major_formatter(lambda v, _: f"{100 * v:.0f}%")
        for patch, r in zip(ax.patches, rows, strict=False):
            if r["criterion"] == used:
                patch.set_linewidth(2.5)
        ax.set_title(panel_title, fontsize=9)
        ax.set_ylabel(ylabel, fontsize=8)
        ax.grid(False, axis="x")
    fig.suptitle(_title_lines("Sample quality and data-copying of the model each criterion chooses", title))
    fig.tight_layout()
    return _save(fig, path)


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
    fig.suptitle(_title_lines("Anomaly detection by log-likelihood", title))
    fig.tight_layout()
    return _save(fig, path)
