"""One look for every figure, and one way to save it.

Every figure of the pipeline (and of the benchmarks) is drawn under :data:`RC`
and saved by :func:`save` twice: a PNG at :data:`DPI` for the MLflow UI and
DVC's plots, and an SVG beside it (same name, ``.svg``) for papers. Both are
deterministic: no date, no software tag, fixed SVG ids, so the same arrays
give the same bytes and DVC hashes stay stable.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

DPI = 150
"""PNG resolution: a 6.4-inch-wide panel is 960 pixels, sharp in the UI and on paper drafts."""

RC = {
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8,
    "legend.title_fontsize": 8,
    "legend.framealpha": 0.9,
    "figure.titlesize": 11,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.axisbelow": True,
    "svg.hashsalt": "gmmgen",
    "svg.fonttype": "none",  # text stays text in the SVG: editable, searchable, smaller
    "savefig.dpi": DPI,
}

CRITERION_LABEL = {"bic": "BIC", "aic": "AIC", "heldout": "held-out likelihood"}
"""How each model-selection criterion is named on figures and in the console."""

CRITERION_COLOR = {"bic": "tab:blue", "aic": "tab:orange", "heldout": "tab:green"}
"""One colour per criterion, the same on every figure."""

COVARIANCE_COLOR = {"full": "tab:purple", "tied": "tab:brown", "diag": "tab:cyan", "spherical": "tab:olive"}
"""One colour per covariance type (sweep curves)."""

SUFFIXES = (".png", ".svg")
"""What :func:`save` writes for each figure."""


def apply() -> None:
    """Make :data:`RC` matplotlib's defaults in this process (the pipeline draws nothing else)."""
    plt.rcParams.update(RC)


def save(fig: plt.Figure, path: str | Path) -> Path:
    """Save ``fig`` as ``path`` (a ``.png``) and as an SVG beside it; close it; return ``path``."""
    path = Path(path)
    fig.savefig(path, dpi=DPI, metadata={"Software": None})
    fig.savefig(path.with_suffix(".svg"), metadata={"Date": None, "Creator": None})
    plt.close(fig)
    return path


def outputs(path: str | Path) -> list[Path]:
    """Every file :func:`save` writes for the figure ``path``."""
    path = Path(path)
    return [path.with_suffix(s) for s in SUFFIXES]


apply()
