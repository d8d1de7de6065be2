"""Digits in grids: a mosaic, a titled grid (with row labels), two grids side by side, captions per digit.

White on black like MNIST, half an inch per digit; saved by :func:`gmmgen.viz.style.save`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from gmmgen.viz import style
from gmmgen.viz.titles import title_lines

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
    text = title_lines(title, subtitle, width - 0.2)
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
    return style.save(fig, path)


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
    return style.save(fig, path)


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


def labelled_grid(
    images: np.ndarray, labels: Sequence[str], path: str | Path, cols: int = 10, title: str = "", subtitle: str = ""
) -> Path:
    """Digits in a grid, each with a small caption (e.g. a component's majority digit)."""
    n = len(images)
    cols = max(1, min(cols, n))
    rows = int(np.ceil(n / cols))
    cell = 0.75 if cols * 0.75 >= 4 else min(1.0, 4 / cols)
    width = max(MIN_WIDTH, cols * cell)
    text = title_lines(title, subtitle, width - 0.2)
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
    return style.save(fig, path)
