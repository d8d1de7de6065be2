"""The tutorial's figures (matplotlib, Agg backend, PNG); same inputs, same bytes."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from gmmgen.viz.plots import _save, mosaic, plt

COLORS = plt.rcParams["axes.prop_cycle"].by_key()["color"]


def em_iterations(
    x: np.ndarray,
    grid: np.ndarray,
    true_pdf: np.ndarray,
    components: Sequence[np.ndarray],
    steps: Sequence[int],
    log_likelihood: np.ndarray,
    path: str | Path,
) -> Path:
    """The fitted densities at several EM steps over the data's histogram, like the tutorial's figure.

    Parameters
    ----------
    x : (n,) data;  grid : (g,) where densities are drawn;  true_pdf : (g,) the generating density
    components : one (g, K) array of weighted component densities per step in ``steps``
    log_likelihood : (n_steps + 1,) total log-likelihood per step
    """
    n = len(steps)
    cols = min(n, 2) if n <= 4 else 3
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 3.6 * rows), squeeze=False, sharex=True)
    ymax = 1.25 * max(true_pdf.max(), max(c.sum(axis=1).max() for c in components))
    for ax, step, comp in zip(axes.flat, steps, components, strict=False):
        ax.hist(x, bins=30, density=True, color="0.85", label="data (histogram)")
        ax.plot(x, np.full_like(x, -0.02 * ymax), "|", color="mediumslateblue", ms=6, alpha=0.6)
        ax.plot(grid, comp.sum(axis=1), color="0.35", lw=4, alpha=0.35, label="fitted mixture")
        ax.plot(grid, true_pdf, "k--", lw=1.2, label="true density")
        for k in range(comp.shape[1]):
            ax.plot(grid, comp[:, k], color=COLORS[k % 10], lw=1.6, label=f"component {k + 1} (weighted)")
        ax.set_title(f"step {step}: log-likelihood {log_likelihood[step]:.1f}", fontsize=10)
        ax.set_ylim(-0.05 * ymax, ymax)
        ax.set_xlabel("x")
        ax.set_ylabel("density")
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7, loc="upper left")
    fig.suptitle("EM by hand: the mixture at several steps (step 0 is the random start)", fontsize=11)
    fig.tight_layout()
    return _save(fig, path)


def em_log_likelihood(curves: np.ndarray, chosen: int, sklearn_ll: float, path: str | Path) -> Path:
    """Log-likelihood against step for every random start (shape (n_starts, n_steps + 1)); the chosen one bold."""
    fig, ax = plt.subplots(figsize=(6.4, 4))
    steps = np.arange(curves.shape[1])
    for i, c in enumerate(curves):
        if i != chosen:
            ax.plot(steps, c, color="0.6", lw=0.9)
    ax.plot(steps, curves[chosen], color="tab:blue", lw=2.2, label=f"start {chosen} (highest at the end)")
    ax.plot([steps[-1]], [sklearn_ll], "*", color="tab:red", ms=13, label="scikit-learn from the same start")
    ax.plot([], [], color="0.6", lw=0.9, label="other random starts")
    lo = np.percentile(curves[:, 1:], 2)
    ax.set_ylim(lo - 0.05 * abs(lo), curves.max() + 0.02 * abs(curves.max()))
    ax.set_xlabel("EM step")
    ax.set_ylabel("total log-likelihood")
    ax.set_title("EM never lowers the likelihood; starts end in different optima", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return _save(fig, path)


def clusters(
    x: np.ndarray, labels: np.ndarray, blobs_x: np.ndarray, blobs_labels: np.ndarray, titles: tuple[str, str], path
) -> Path:
    """Two scatter plots coloured by most responsible component: the tutorial's points, and the blobs."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 5))
    for ax, pts, lab, title in zip(axes, (x, blobs_x), (labels, blobs_labels), titles, strict=True):
        for k in np.unique(lab):
            sel = lab == k
            ax.scatter(pts[sel, 0], pts[sel, 1], s=9, color=COLORS[int(k) % 10], label=f"component {k + 1}")
        ax.set_title(title, fontsize=10)
        ax.set_aspect("equal", adjustable="datalim")
        ax.set_xlabel("$x_1$")
        ax.set_ylabel("$x_2$")
        ax.legend(fontsize=7, markerscale=1.5, loc="best")
    fig.tight_layout()
    return _save(fig, path)


def criteria(panels: Sequence[tuple[str, np.ndarray, np.ndarray, np.ndarray, int | None]], path) -> Path:
    """BIC and AIC against K, one panel per data set: (title, k, bic, aic, true K or None)."""
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4))
    for ax, (title, k, bic, aic, true_k) in zip(np.atleast_1d(axes), panels, strict=True):
        for values, name, color in ((bic, "BIC", "tab:blue"), (aic, "AIC", "tab:orange")):
            ax.plot(k, values, "o-", color=color, ms=4, label=name)
            best = int(np.argmin(values))
            ax.plot([k[best]], [values[best]], "*", color=color, ms=15, mec="black", label=f"{name} picks K={k[best]}")
        if true_k is not None:
            ax.axvline(true_k, color="0.4", ls=":", label=f"true K={true_k}")
        ax.set_xlabel("number of components K")
        ax.set_ylabel("criterion (lower is better)")
        ax.set_xticks(k)
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return _save(fig, path)


def sampling_overlay(
    data: np.ndarray,
    draws: np.ndarray,
    grid: np.ndarray,
    components: np.ndarray,
    note: str,
    path: str | Path,
) -> Path:
    """Histograms of the data and of the draws, with the fitted density and its weighted components."""
    fig, ax = plt.subplots(figsize=(8, 4.6))
    bins = np.linspace(min(data.min(), draws.min()), max(data.max(), draws.max()), 50)
    ax.hist(data, bins=bins, density=True, color="0.75", label=f"data ({len(data)} points)")
    ax.hist(draws, bins=bins, density=True, histtype="step", lw=1.8, color="tab:purple", label=f"draws ({len(draws)})")
    for k in range(components.shape[1]):
        ax.plot(grid, components[:, k], "--", color=COLORS[k % 10], lw=1.4, label=f"component {k + 1} (weighted)")
    ax.plot(grid, components.sum(axis=1), color="black", lw=2, label="fitted mixture density")
    ax.set_xlabel("x")
    ax.set_ylabel("density")
    ax.set_title("Sampling from the fitted mixture", fontsize=11)
    ax.text(0.01, 0.98, note, transform=ax.transAxes, va="top", fontsize=8, family="monospace")
    ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    return _save(fig, path)


def segmentation(
    image: np.ndarray, labels: np.ndarray, k: np.ndarray, bic: np.ndarray, title: str, path: str | Path
) -> Path:
    """Image, segment map, per-segment histograms of brightness, and BIC against K."""
    n_seg = int(labels.max()) + 1
    cmap = plt.get_cmap("tab10", 10)
    grey = image if image.ndim == 2 else image.mean(axis=2)
    fig, axes = plt.subplots(1, 4, figsize=(19, 4.6), gridspec_kw={"width_ratios": [1, 1, 1.1, 0.9]})
    axes[0].imshow(image, cmap="gray" if image.ndim == 2 else None, interpolation="nearest")
    axes[0].set_title(title, fontsize=10)
    colored = cmap(labels % 10)[..., :3]
    axes[1].imshow(colored, interpolation="nearest")
    axes[1].set_title(f"{n_seg} segments (K chosen by BIC), darkest first", fontsize=10)
    for ax in axes[:2]:
        ax.axis("off")
    bins = np.linspace(0, 255, 65)
    for s in range(n_seg):
        vals = grey[labels == s].ravel()
        axes[2].hist(vals, bins=bins, color=cmap(s % 10), alpha=0.85, label=f"segment {s + 1} ({vals.size} px)")
    axes[2].set_yscale("log")
    axes[2].set_xlabel("brightness (0-255)" + ("" if image.ndim == 2 else ", mean of R, G, B"))
    axes[2].set_ylabel("pixels (log scale)")
    axes[2].set_title("per-segment histograms", fontsize=10)
    axes[2].legend(fontsize=7)
    axes[3].plot(k, bic, "o-", ms=4)
    best = int(np.argmin(bic))
    axes[3].plot([k[best]], [bic[best]], "*", color="tab:red", ms=15, mec="black", label=f"BIC picks K={k[best]}")
    axes[3].set_xticks(k)
    axes[3].set_xlabel("K")
    axes[3].set_ylabel("BIC on the fitting pixels")
    axes[3].grid(alpha=0.3)
    axes[3].legend(fontsize=8)
    fig.tight_layout()
    return _save(fig, path)


def digit_segmentation(
    images: np.ndarray,
    pred: np.ndarray,
    truth: np.ndarray,
    ious: np.ndarray,
    pixels: np.ndarray,
    grid: np.ndarray,
    components: np.ndarray,
    threshold: float,
    truth_threshold: int,
    path: str | Path,
) -> Path:
    """Test digits, their mixture masks and threshold masks; the intensity histogram with the two components."""
    n = len(images)
    fig = plt.figure(figsize=(12, 6.6))
    top = fig.add_axes([0.12, 0.42, 0.86, 0.53])
    stack = np.concatenate([images, pred.astype(np.uint8) * 255, truth.astype(np.uint8) * 255])
    top.imshow(mosaic(stack, n, pad=2), cmap="gray", vmin=0, vmax=255, interpolation="nearest")
    h = images.shape[1] + 2
    top.set_yticks([2 + h * i + h / 2 for i in range(3)], labels=["digit", "mixture", f"truth (>= {truth_threshold})"])
    top.set_xticks([2 + (images.shape[2] + 2) * i + images.shape[2] / 2 for i in range(n)])
    top.set_xticklabels([f"IoU {v:.2f}" for v in ious], fontsize=7)
    top.set_title("foreground/background of real MNIST test digits by a two-component mixture", fontsize=10)
    top.grid(False)  # the style's grid lines would cross the digits
    bottom = fig.add_axes([0.12, 0.07, 0.86, 0.26])
    bottom.hist(pixels, bins=np.arange(0, 257, 4), density=True, color="0.75", label="training pixels")
    for k in range(components.shape[1]):
        bottom.plot(grid, components[:, k], color=COLORS[k % 10], lw=1.6, label=f"component {k + 1} (weighted)")
    bottom.axvline(threshold, color="tab:red", lw=1.5, label=f"mixture's boundary {threshold:.0f}")
    bottom.axvline(truth_threshold, color="black", ls=":", lw=1.5, label=f"truth threshold {truth_threshold}")
    bottom.set_yscale("log")
    bottom.set_ylim(1e-5, 1)
    bottom.set_xlabel("pixel intensity")
    bottom.set_ylabel("density (log)")
    bottom.legend(fontsize=7, ncol=3, loc="upper center")
    return _save(fig, path)


def anomaly(
    x: np.ndarray,
    is_outlier: np.ndarray,
    flagged: np.ndarray,
    grid_x: np.ndarray,
    grid_y: np.ndarray,
    grid_logp: np.ndarray,
    threshold: float,
    title: str,
    path: str | Path,
) -> Path:
    """Points, injected outliers and flags over the mixture's log-density, the threshold contour bold."""
    fig, ax = plt.subplots(figsize=(7.5, 6.5))
    levels = np.linspace(max(grid_logp.min(), threshold - 12), grid_logp.max(), 14)
    cs = ax.contourf(grid_x, grid_y, grid_logp, levels=levels, cmap="Blues", extend="min")
    fig.colorbar(cs, ax=ax, label="log-density of the fitted mixture")
    ax.contour(grid_x, grid_y, grid_logp, levels=[threshold], colors="tab:red", linewidths=2, linestyles="solid")
    ax.scatter(x[~is_outlier, 0], x[~is_outlier, 1], s=7, color="0.25", label="points")
    ax.scatter(x[is_outlier, 0], x[is_outlier, 1], s=45, marker="x", color="tab:orange", label="injected outliers")
    ax.scatter(x[flagged, 0], x[flagged, 1], s=110, facecolors="none", edgecolors="tab:red", lw=1.4, label="flagged")
    ax.plot([], [], color="tab:red", lw=2, label="threshold contour")
    ax.set_aspect("equal")
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="upper left", framealpha=0.9)
    fig.tight_layout()
    return _save(fig, path)
