"""Class-conditional generation: one mixture per digit, K chosen on that digit's validation digits, judged.

:func:`class_mixtures` fits and chooses the mixtures (no test digit is read);
:func:`class_conditional` draws a row of digits from each and measures how
often the judge CNN reads the intended digit.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from gmmgen.core import classifier, mixture
from gmmgen.core.sampling import generate_images

log = logging.getLogger(__name__)


def class_mixtures(
    z_train: np.ndarray,
    y_train: np.ndarray,
    z_val: np.ndarray,
    y_val: np.ndarray,
    cov: str,
    criterion: str,
    grid: Sequence[int],
    params: dict[str, Any],
    thin: float,
    allow_degenerate: bool,
) -> tuple[dict[int, Any], dict[str, Any]]:
    """One mixture per digit class, its K chosen by ``criterion`` on that class's validation digits.

    Takes no test digits. Returns the fitted mixture per digit (classes with
    no usable fit are left out) and a record: chosen K per class and notes (a
    class without validation digits falls back to BIC, which needs none).
    """
    models, chosen_k, notes = {}, {}, []
    for digit in range(10):
        zc, zc_val = z_train[y_train == digit], z_val[y_val == digit]
        crit = criterion
        if crit == "heldout" and not len(zc_val):
            crit = "bic"
            notes.append(f"digit {digit}: no validation digits, K chosen by bic")
        fits, fitted = mixture.sweep(
            zc, zc_val, list(grid), [cov], params, n_jobs=1, progress=False, warn=False, thin=thin
        )
        try:
            best, _ = mixture.select(fits, crit, allow_degenerate)
        except mixture.SweepError as exc:
            log.warning("evaluate: no mixture for digit %d (%s)", digit, exc)
            notes.append(f"digit {digit}: no mixture ({exc})")
            continue
        chosen_k[str(digit)] = best["n_components"]
        models[digit] = fitted[(cov, best["n_components"])]
    return models, {"n_components_per_class": chosen_k, "covariance_type": cov, "notes": notes}


def class_conditional(
    pca: Any, models: dict[int, Any], judge: Any, shape: tuple[int, ...], n: int, seed: int
) -> tuple[np.ndarray, dict[str, Any]]:
    """``n`` samples of each class's mixture (seed ``seed + digit``), a row per digit (zeros for a class
    without one), and the judge's agreement with the intended digit, overall and per digit."""
    rows = []
    for digit in range(10):
        if digit not in models:
            rows.append(np.zeros((n, *shape), np.uint8))
            continue
        rows.append(generate_images(pca, models[digit], n, seed + digit, shape)[0])
    grid = np.concatenate(rows)
    intended = np.repeat(np.arange(10), n)
    predicted = classifier.predict(judge, grid)[0].argmax(1)
    per_class = {str(d): float(np.mean(predicted[intended == d] == d)) for d in range(10)}
    return grid, {"agreement": float(np.mean(predicted == intended)), "agreement_per_class": per_class}
