"""Tutorial section 5: anomaly detection by a density threshold.

The tutorial's rule: fit a mixture, and call a point anomalous when its
density under the mixture is below a threshold. Here the threshold is a
percentile of the fitted points' own densities, and the rule is scored on the
2-D example with outliers injected, whose truth is known.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Detection:
    """The rule's result on labelled points.

    Attributes
    ----------
    log_density : ndarray of shape (n,)
        log p(x) under the fitted mixture.
    threshold : float
        Points with ``log_density < threshold`` are flagged.
    flagged : ndarray of shape (n,), bool
    precision, recall : float
        Of the flags against the injected outliers (precision is 1 when nothing is flagged).
    roc_auc, average_precision : float
        Of ``-log_density`` as a score, over every threshold.
    """

    log_density: np.ndarray
    threshold: float
    flagged: np.ndarray
    precision: float
    recall: float
    roc_auc: float
    average_precision: float


def inject_outliers(
    x: np.ndarray, n_outliers: int, box: float, min_radius: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Append ``n_outliers`` points uniform in [-box, box]^2 at least ``min_radius`` from the origin.

    Returns
    -------
    points : ndarray of shape (n + n_outliers, 2)
    is_outlier : ndarray of shape (n + n_outliers,), bool

    Raises
    ------
    ValueError
        When ``min_radius`` leaves no room in the box.
    """
    if min_radius >= box * np.sqrt(2):
        raise ValueError(f"outlier_min_radius={min_radius} leaves no room in the box [-{box}, {box}]^2")
    out = np.empty((0, 2))
    while len(out) < n_outliers:
        cand = rng.uniform(-box, box, (2 * n_outliers, 2))
        out = np.concatenate([out, cand[np.hypot(cand[:, 0], cand[:, 1]) >= min_radius]])
    points = np.concatenate([x, out[:n_outliers]])
    return points, np.r_[np.zeros(len(x), bool), np.ones(n_outliers, bool)]


def detect(gm, x: np.ndarray, is_outlier: np.ndarray, percentile: float) -> Detection:
    """Flag points of ``x`` (shape (n, d)) less likely than the ``percentile``-th percentile of their densities."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    logp = gm.score_samples(x)
    threshold = float(np.percentile(logp, percentile))
    flagged = logp < threshold
    tp = int(np.sum(flagged & is_outlier))
    precision = tp / int(flagged.sum()) if flagged.any() else 1.0
    recall = tp / int(is_outlier.sum())
    return Detection(
        log_density=logp,
        threshold=threshold,
        flagged=flagged,
        precision=float(precision),
        recall=float(recall),
        roc_auc=float(roc_auc_score(is_outlier, -logp)),
        average_precision=float(average_precision_score(is_outlier, -logp)),
    )
