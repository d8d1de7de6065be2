"""Every figure the pipeline writes (matplotlib, Agg backend), in the look of :mod:`gmmgen.viz.style`.

Each figure is saved as a PNG and an SVG beside it (:func:`gmmgen.viz.style.save`).
Figures depend only on their inputs: the same arrays give the same bytes.
Charts carry axis labels with units and, where the caller passes one, a title
naming the data, N, the PCA setting and the covariance type.

This module draws the PCA and training curves and is the one face of the
figures: the digit grids are drawn in :mod:`gmmgen.viz.grids`, the sweep's
figure in :mod:`gmmgen.viz.sweep_plots`, the bar charts in
:mod:`gmmgen.viz.bars` (titles: :mod:`gmmgen.viz.titles`); ``plots.<name>``
reaches each of them.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import FixedLocator, NullLocator

from gmmgen.viz import style
from gmmgen.viz.bars import anomaly_bars, criteria_comparison
from gmmgen.viz.grids import DIGIT_INCH, MIN_WIDTH, image_grid, labelled_grid, mosaic, reconstructions, side_by_side
from gmmgen.viz.sweep_plots import GOOD_STATUSES, SWEEP_PANELS, sweep_criteria
from gmmgen.viz.titles import title_lines as _title_lines
from gmmgen.viz.titles import wrap_phrases as _wrap_phrases

__all__ = [
    "DIGIT_INCH",
    "GOOD_STATUSES",
    "MIN_WIDTH",
    "SWEEP_PANELS",
    "_save",
    "_title_lines",
    "_wrap_phrases",
    "anomaly_bars",
    "criteria_comparison",
    "explained_variance",
    "image_grid",
    "labelled_grid",
    "mosaic",
    "plt",
    "reconstructions",
    "side_by_side",
    "sweep_criteria",
    "training_curve",
]

_save = style.save


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
