"""Drawing the train, validation, test and judge sets from a source's digits, and what the draw gives.

:func:`split` draws the four disjoint sets with one seeded shuffle;
:func:`overlaps` counts pixel-identical images between them and
:func:`class_counts` the digits of each.
"""

from __future__ import annotations

import numpy as np

from gmmgen.core.digits import Digits
from gmmgen.errors import DataError


def _take(x: np.ndarray, y: np.ndarray, n: int | None, rng: np.random.Generator, what: str):
    if n is None:
        n = len(x)
    if n > len(x):
        raise DataError(f"{what}={n}: the source's test set has only {len(x)} digits")
    idx = np.sort(rng.permutation(len(x))[:n])
    return x[idx], y[idx]


SPLITS = ("train", "val", "test", "clf")


def split(
    digits: Digits,
    n_train: int | None,
    n_val: int,
    n_test: int | None,
    seed: int,
    n_classifier: int | None = None,
) -> dict[str, np.ndarray]:
    """Draw the train, validation, test and judge sets with one seeded shuffle.

    Returns ``x_<split>`` (uint8 images) and ``y_<split>`` (labels) for the
    splits ``train``, ``val`` (validation: every choice of model), ``test``
    (reporting only) and ``clf`` (the judge CNN's training digits).

    The test set comes from the source's own test pool when it has one
    (``n_test`` null: all of it; 0: none); otherwise it is carved from the
    pool first (``n_test`` null or 0: none). From the training pool, after a
    seeded permutation: validation first, then training (``n_train`` null:
    everything left), then the judge's digits from what remains (at most
    ``n_classifier``; null: all of it). The four sets are disjoint by
    construction: no index is drawn twice. Raises :class:`DataError` when the
    pool is too small for the sizes asked.
    """
    rng = np.random.default_rng(seed)
    x, y = digits.x_train, digits.y_train
    order = rng.permutation(len(x))
    if digits.x_test is not None:
        x_te, y_te = _take(digits.x_test, digits.y_test, n_test, rng, "data.n_test")
        start = 0
    else:
        start = n_test or 0
        te = np.sort(order[:start])
        x_te, y_te = x[te], y[te]
    need = start + n_val + (n_train if n_train is not None else 1)
    if need > len(x):
        asked = f"data.n_val={n_val} + data.n_train={n_train}" + (f" + data.n_test={n_test}" if start else "")
        raise DataError(f"{asked} needs {need} digits, but the {digits.source} training pool has only {len(x)}")
    val = np.sort(order[start : start + n_val])
    stop = len(x) if n_train is None else start + n_val + n_train
    tr = np.sort(order[start + n_val : stop])
    rest = order[stop:]
    clf = np.sort(rest[: len(rest) if n_classifier is None else n_classifier])
    return {
        "x_train": x[tr],
        "y_train": y[tr],
        "x_val": x[val],
        "y_val": y[val],
        "x_test": x_te,
        "y_test": y_te,
        "x_clf": x[clf],
        "y_clf": y[clf],
    }


def overlaps(arrays: dict[str, np.ndarray]) -> dict[str, int]:
    """Exact duplicate images between each pair of splits (identical bytes), e.g. ``{"train/test": 0}``.

    The splits never share a drawn digit; this counts digits that happen to be
    pixel-identical, which a source may contain (sklearn's 8x8 digits do).
    """
    keys = {s: {img.tobytes() for img in arrays[f"x_{s}"]} for s in SPLITS}
    out = {}
    for i, a in enumerate(SPLITS):
        for b in SPLITS[i + 1 :]:
            out[f"{a}/{b}"] = len(keys[a] & keys[b])
    return out


def class_counts(labels: np.ndarray) -> dict[str, int]:
    """How many of each digit ``labels`` hold, by digit as text (``{"0": 98, ...}``), digits absent left out."""
    return {str(d): int(c) for d, c in zip(*np.unique(labels, return_counts=True), strict=True)}
