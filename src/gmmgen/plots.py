"""Every figure the pipeline writes (matplotlib, Agg backend, PNG).

Figures depend only on their inputs: the same arrays give the same PNG bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

_PNG_META = {"Software": None}


def _save(fig: plt.Figure, path: str | Path) -> Path:
    path = Path(path)
    fig.savefig(path, dpi=100, metadata=_PNG_META)
    plt.close(fig)
    return path


def mosaic(images: np.ndarray, cols: int, pad: int = 1) -> np.ndarray:
    """Tile (n, h, w) images into one (rows*(h+pad), cols*(w+pad)) array, row-major."""
    n, h, w = images.shape
    cols = max(1, min(cols, n))
    rows = int(np.ceil(n / cols))
    canvas = np.zeros((rows * (h + pad) + pad, cols * (w + pad) + pad), dtype=images.dtype)
    for i, img in enumerate(images):
        r, c = divmod(i, cols)
        canvas[pad + r * (h + pad) : pad + r * (h + pad) + h, pad + c * (w + pad) : pad + c * (w + pad) + w] = img
    return canvas


def image_grid(
    images: np.ndarray,
    path: str | Path,
    cols: int = 10,
    title: str = "",
    row_labels: Sequence[str] | None = None,
) -> Path:
    """Save digits as a grid, white on black like MNIST."""
    tile = mosaic(images, cols)
    inch_per_px = 0.45 / images.shape[1]  # about half an inch per digit
    width = max(3.0, tile.shape[1] * inch_per_px + (0.6 if row_labels else 0.2))
    height = tile.shape[0] * inch_per_px * width / max(3.0, tile.shape[1] * inch_per_px) + (0.5 if title else 0.1)
    fig, ax = plt.subplots(figsize=(width, height))
    ax.imshow(tile, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
    ax.set_xticks([])
    if row_labels:
        h = images.shape[1] + 1
        ax.set_yticks([1 + h * i + h / 2 for i in range(len(row_labels))], labels=list(row_labels))
    else:
        ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return _save(fig, path)


def side_by_side(
    left: np.ndarray, right: np.ndarray, path: str | Path, titles: tuple[str, str], cols: int = 10
) -> Path:
    """Two digit grids in one figure (for example generated beside real digits)."""
    fig, axes = plt.subplots(1, 2, figsize=(9, 4.8))
    for ax, images, title in zip(axes, (left, right), titles, strict=True):
        ax.imshow(mosaic(images, cols), cmap="gray", vmin=0, vmax=255, interpolation="nearest")
        ax.set_title(title, fontsize=10)
        ax.axis("off")
    fig.tight_layout()
    return _save(fig, path)


def explained_variance(ratio: np.ndarray, threshold: float | None, kept: int, path: str | Path) -> Path:
    """Cumulative explained variance against components, with the threshold and the cut marked."""
    cumulative = np.cumsum(ratio)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(np.arange(1, len(cumulative) + 1), cumulative, lw=1.5)
    if threshold is not None:
        ax.axhline(threshold, color="tab:red", ls="--", lw=1, label=f"threshold {threshold:g}")
    ax.axvline(kept, color="tab:green", ls=":", lw=1, label=f"{kept} components kept")
    ax.set_xscale("log")
    ax.set_xlabel("number of principal components")
    ax.set_ylabel("cumulative explained variance")
    ax.set_ylim(0, 1.01)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    return _save(fig, path)


def reconstructions(originals: np.ndarray, recon: np.ndarray, path: str | Path, n_dims: int) -> Path:
    """Original digits (top row) above their PCA reconstructions (bottom row)."""
    n = len(originals)
    stacked = np.concatenate([originals, recon])
    return image_grid(
        stacked, path, cols=n, title=f"originals (top) and PCA reconstructions with {n_dims} dims (bottom)"
    )


def sweep_criteria(rows: Sequence[dict[str, Any]], chosen: dict[str, Any], criterion: str, path: str | Path) -> Path:
    """BIC, AIC and validation bits per pixel against K, per covariance type, chosen model starred.

    Sound fits are filled markers, thin fits half-filled, degenerate or
    unconverged fits hollow; failed fits are crosses on the axis.
    """
    panels = [
        ("bic", "BIC (lower is better; within this run only)"),
        ("aic", "AIC (lower is better; within this run only)"),
        ("val_bpp", "validation bits/pixel, pixel space (lower is better)"),
    ]
    key_of = {"bic": "bic", "aic": "aic", "heldout": "val_bpp"}
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    cov_types = list(dict.fromkeys(r["covariance_type"] for r in rows))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, (key, label) in zip(axes, panels, strict=True):
        for i, cov in enumerate(cov_types):
            color = colors[i % len(colors)]
            sub = sorted((r for r in rows if r["covariance_type"] == cov), key=lambda r: r["n_components"])
            ok = [r for r in sub if r["status"] != "failed"]
            ks = [r["n_components"] for r in ok]
            ax.plot(ks, [r[key] for r in ok], "-", color=color, lw=1.2, label=cov)
            for status, style in (
                ("sound", {"fillstyle": "full", "ms": 4}),
                ("thin", {"fillstyle": "bottom", "ms": 6}),
            ):
                pts = [r for r in ok if r["status"] == status]
                ax.plot([r["n_components"] for r in pts], [r[key] for r in pts], "o", color=color, **style)
            bad = [r for r in ok if r["status"] not in ("sound", "thin")]
            ax.plot([r["n_components"] for r in bad], [r[key] for r in bad], "o", mfc="none", color=color, ms=6)
            failed = [r["n_components"] for r in sub if r["status"] == "failed"]
            if failed:
                ax.plot(failed, [0.02] * len(failed), "x", color=color, transform=ax.get_xaxis_transform(), ms=7)
        ax.plot(
            [chosen["n_components"]],
            [chosen[key]],
            "*",
            color="black",
            ms=16,
            label=f"chosen by {criterion}: {chosen['covariance_type']} K={chosen['n_components']}"
            if key == key_of[criterion]
            else None,
        )
        ax.set_xscale("log")
        finite = [r[key] for r in rows if r["status"] != "failed" and np.isfinite(r[key])]
        if key == "val_bpp" and finite and min(finite) > 0 and max(finite) > 10 * min(finite):
            ax.set_yscale("log")  # collapsed fits are orders of magnitude worse
        ax.set_xlabel("number of components K")
        ax.set_title(label, fontsize=10)
        ax.grid(alpha=0.3)
    axes[0].legend(
        fontsize=8,
        title="filled: sound; half: thin; hollow: degenerate\nor unconverged; x: failed",
        title_fontsize=7,
    )
    handles, labels = axes[[k for k, _ in panels].index(key_of[criterion])].get_legend_handles_labels()
    if criterion != "bic":
        axes[[k for k, _ in panels].index(key_of[criterion])].legend(handles[-1:], labels[-1:], fontsize=8)
    fig.tight_layout()
    return _save(fig, path)


def labelled_grid(images: np.ndarray, labels: Sequence[str], path: str | Path, cols: int = 10, title: str = "") -> Path:
    """Digits in a grid, each with a small caption (e.g. a component's majority digit)."""
    n = len(images)
    cols = max(1, min(cols, n))
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 0.8, rows * 0.95 + (0.4 if title else 0)), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            ax.imshow(images[i], cmap="gray", vmin=0, vmax=255, interpolation="nearest")
            ax.set_title(labels[i], fontsize=7, pad=2)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return _save(fig, path)


def training_curve(history: dict[str, list[float]], path: str | Path) -> Path:
    """Loss and accuracy of the classifier per epoch."""
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    for ax, key in zip(axes, ("loss", "accuracy"), strict=True):
        ax.plot(range(1, len(history[key]) + 1), history[key], marker="o")
        ax.set_xlabel("epoch")
        ax.set_title(f"training {key}", fontsize=10)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return _save(fig, path)


def criteria_comparison(rows: Sequence[dict[str, Any]], reference: dict[str, float], path: str | Path) -> Path:
    """Sample quality of the models chosen by each criterion, side by side, with real-data references."""
    panels = [
        (
            "frechet_distance",
            "Fréchet distance to real (lower is better)",
            reference.get("frechet_floor"),
            f"real vs real, {reference.get('frechet_n', '')} digits",
        ),
        (
            "inception_score",
            "classifier Inception Score (max 10)",
            reference.get("inception_score_real"),
            "real digits",
        ),
        ("near_copy_share", "share of near-copies of training digits", reference.get("near_copy_expected"), "expected"),
        ("test_bpp", "test bits/pixel, pixel space (lower is better)", None, ""),
    ]
    names = [f"{r['criterion']}\n{r['covariance_type']} K={r['n_components']}" for r in rows]
    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 3.6))
    for ax, (key, label, ref_value, ref_label) in zip(axes, panels, strict=True):
        values = [r[key] for r in rows]
        ax.bar(range(len(rows)), values, color=["tab:blue", "tab:orange", "tab:green"][: len(rows)])
        ax.set_xticks(range(len(rows)), names, fontsize=8)
        if ref_value is not None:
            ax.axhline(ref_value, color="black", ls="--", lw=1, label=ref_label)
            ax.legend(fontsize=8)
        if key == "test_bpp" and min(values) > 0 and max(values) > 10 * min(values):
            ax.set_yscale("log")
        else:
            ax.set_ylim(bottom=0, top=max([*values, ref_value or 0.0, 1e-3]) * 1.1)
        ax.set_title(label, fontsize=9)
        ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    return _save(fig, path)


def anomaly_bars(report: dict[str, Any], path: str | Path) -> Path:
    """Share flagged and ROC AUC per corruption, with the clean-digit rate for reference."""
    kinds = list(report["corruptions"])
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    flagged = [report["flagged_clean_test"]] + [report["corruptions"][k]["flagged"] for k in kinds]
    axes[0].bar(["clean", *kinds], flagged, color=["tab:gray"] + ["tab:red"] * len(kinds))
    axes[0].set_title("share flagged as anomalous", fontsize=10)
    axes[0].set_ylim(0, 1.05)
    axes[1].bar(kinds, [report["corruptions"][k]["roc_auc"] for k in kinds], color="tab:purple")
    axes[1].axhline(0.5, color="black", ls="--", lw=1, label="chance")
    axes[1].set_ylim(0, 1.05)
    axes[1].set_title("ROC AUC, clean vs corrupted", fontsize=10)
    axes[1].legend(fontsize=8)
    for ax in axes:
        ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    return _save(fig, path)
