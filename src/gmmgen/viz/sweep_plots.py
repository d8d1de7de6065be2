"""The model-selection figure: BIC, AIC and held-out likelihood against K, one curve per covariance type."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.lines import Line2D
from matplotlib.ticker import FixedLocator, NullLocator

from gmmgen.viz import style
from gmmgen.viz.titles import title_lines

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
        off_scale = _curves(ax, rows, usable, cov_types, key, limits)
        if limits is not None:
            _off_scale(ax, off_scale, key, limits)
        _choice(ax, choices.get(name), name, key, criterion)
        _k_axis(ax, ks, ylabel)
    handles = _legend_handles(cov_types)
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), frameon=False)
    fig.suptitle(title_lines("Model selection: three criteria against K", title))
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return style.save(fig, path)


def _curves(
    ax: plt.Axes,
    rows: Sequence[dict[str, Any]],
    usable: list[dict[str, Any]],
    cov_types: list[str],
    key: str,
    limits: tuple[float, float] | None,
) -> list[tuple[dict[str, Any], str]]:
    """One curve per covariance type, its fits as dots by status, failed fits as crosses at the bottom.

    Returns the fits outside ``limits`` with their colour (drawn by :func:`_off_scale`).
    """
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
    return off_scale


def _off_scale(
    ax: plt.Axes, off_scale: list[tuple[dict[str, Any], str]], key: str, limits: tuple[float, float]
) -> None:
    """The panel cut to ``limits``; fits outside them as triangles on its edge, their range written."""
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


def _choice(ax: plt.Axes, choice: dict[str, Any] | None, name: str, key: str, criterion: str) -> None:
    """The panel's criterion's choice starred and named in the title ("none" without one, "(used)" if in use)."""
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


def _k_axis(ax: plt.Axes, ks: list[int], ylabel: str) -> None:
    """K on a log axis, a tick at every K of the sweep; the panel's y label."""
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(FixedLocator(ks))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xticklabels([str(k) for k in ks], fontsize=7 if len(ks) > 10 else 8, rotation=90 if len(ks) > 10 else 0)
    ax.yaxis.set_major_formatter(lambda v, _: f"{v:,.0f}" if abs(v) >= 1000 else f"{v:g}")
    ax.set_xlabel("number of components K (log scale)")
    ax.set_ylabel(ylabel)


def _legend_handles(cov_types: list[str]) -> list[Line2D]:
    """The figure's legend: a line per covariance type, then the markers."""
    handles = [Line2D([], [], color=style.COVARIANCE_COLOR.get(c, "tab:gray"), lw=1.2, label=c) for c in cov_types]
    handles += [
        Line2D([], [], ls="", marker="o", color="0.3", ms=5, label="sound fit"),
        Line2D([], [], ls="", marker="o", color="0.3", fillstyle="bottom", ms=5, label="thin fit"),
        Line2D([], [], ls="", marker="o", color="0.3", fillstyle="none", ms=5, label="degenerate or not converged"),
        Line2D([], [], ls="", marker="x", color="0.3", ms=6, label="failed"),
        Line2D([], [], ls="", marker="*", color="black", ms=11, label="the panel's criterion's choice"),
    ]
    return handles
