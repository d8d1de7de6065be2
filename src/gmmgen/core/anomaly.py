"""Anomaly detection with a fitted PCA + mixture: the pixel-space log density of digits, and how well it
tells corrupted digits from clean ones (threshold taken on validation digits)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from gmmgen.core import metrics as ev
from gmmgen.core import reduce
from gmmgen.core.compute import Compute, to_numpy


def pixel_scorer(cmp: Compute, pca: Any, gmm: Any, residual: bool = True) -> Callable[[np.ndarray], np.ndarray]:
    """Per-image log-likelihood in nats of uint8 images (n, h, w) -> (n,) numpy, computed in ``cmp``'s namespace.

    The images' rows, the PCA and the mixture move to the namespace (a GPU with
    torch or cupy); :func:`gmmgen.core.metrics.log_likelihood` runs there; only the
    (n,) scores come back to numpy, for thresholds, ROC AUC and the files.
    """
    pca_x, gmm_x = cmp.estimator(pca), cmp.estimator(gmm)

    def score(images: np.ndarray) -> np.ndarray:
        with cmp.context():
            ll = ev.log_likelihood(pca_x, gmm_x, cmp.asarray(reduce.to_features(images)), residual=residual)
        return to_numpy(ll)

    return score


def anomaly_detection(
    cmp: Compute,
    pca: Any,
    gmm: Any,
    x_val: np.ndarray,
    x_test: np.ndarray,
    rng: np.random.Generator,
    corruptions: Sequence[str],
    noise_std: float,
    percentile: float,
) -> tuple[dict[str, Any], np.ndarray]:
    """Anomaly report on corrupted test digits (threshold on validation digits) and the test log-likelihoods.

    Scores are the exact pixel-space log density (and, for comparison, the
    PCA-space part alone), computed in ``cmp``'s namespace (see
    :func:`pixel_scorer`). Corruptions draw from ``rng``, in the order of
    ``corruptions``. Returns the report and the test digits' log-likelihoods
    (n_test,), in nats.
    """
    score = pixel_scorer(cmp, pca, gmm, residual=True)  # the exact pixel-space density
    score_pca_only = pixel_scorer(cmp, pca, gmm, residual=False)
    corrupted = {kind: ev.corrupt(x_test, kind, rng, noise_std) for kind in corruptions}
    report = ev.anomaly_report(score, x_val, x_test, corrupted, percentile)
    report["pca_space_only"] = ev.anomaly_report(score_pca_only, x_val, x_test, corrupted, percentile)
    return report, score(x_test)
