"""Does a criterion's choice hold across seeds? The distribution of the chosen K and a bootstrap of a likelihood gap.

``make stability`` repeats the selection sweep under N seeds (each seed draws
its own split of the digits and its own EM starts) and hands the results here
as plain values:

- :func:`choice_distribution`: the models one criterion chose, one per seed:
  the mode (ties: the smaller K), the range of K, the share of seeds choosing
  the mode, and the count of each model;
- :func:`runner_up`: the model to compare the mode with: the second most often
  chosen, or, when every seed chose the mode, the model the criterion ranked
  second most often;
- :func:`bootstrap_gap`: per seed the per-image difference of the validation
  NLL between two models (nats per image, on that seed's validation digits);
  the mean gap over all seeds and its percentile bootstrap interval,
  resampling images within each seed. An interval that holds 0 says the
  validation digits cannot tell the two models apart.

Plain numpy and Python values in and out; nothing here fits or reads files.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

Model = tuple[str, int]  # (covariance type, K)


def label(model: Model) -> str:
    """'full K=8'."""
    return f"{model[0]} K={model[1]}"


def choice_distribution(chosen: Sequence[Model]) -> dict[str, Any]:
    """Mode, range of K, share choosing the mode and counts of the models chosen across seeds (one per seed).

    Raises ValueError when ``chosen`` is empty.
    """
    if not chosen:
        raise ValueError("no choices: run at least one seed")
    counts = Counter(tuple(m) for m in chosen)
    mode = min(counts, key=lambda m: (-counts[m], m[1], m[0]))
    ks = [int(m[1]) for m in chosen]
    return {
        "mode": label(mode),
        "mode_k": int(mode[1]),
        "k_min": min(ks),
        "k_max": max(ks),
        "share_mode": counts[mode] / len(chosen),
        "n_seeds": len(chosen),
        "counts": {label(m): n for m, n in sorted(counts.items(), key=lambda item: (-item[1], item[0][1]))},
    }


def runner_up(chosen: Sequence[Model], second_best: Sequence[Model | None]) -> Model | None:
    """The model to set against the mode: the second most often chosen; when every seed chose one model, the model
    most often ranked second by the criterion (``second_best``, one per seed, None where there was none)."""
    counts = Counter(tuple(m) for m in chosen)
    ranked = sorted(counts, key=lambda m: (-counts[m], m[1], m[0]))
    if len(ranked) > 1:
        return ranked[1]
    seconds = Counter(tuple(m) for m in second_best if m is not None and tuple(m) != ranked[0])
    return min(seconds, key=lambda m: (-seconds[m], m[1], m[0])) if seconds else None


def bootstrap_gap(
    differences: Sequence[np.ndarray], n_boot: int = 2000, level: float = 0.95, seed: int = 0
) -> dict[str, float]:
    """Mean of per-image differences pooled over seeds, with a percentile bootstrap interval.

    ``differences``: per seed an (n_s,) array (e.g. NLL of the runner-up minus NLL of the mode, nats per image,
    on that seed's validation digits; positive: the mode is better). Images are resampled with replacement
    within each seed, ``n_boot`` times (seeded). Returns ``{"gap", "low", "high", "level", "n_images"}``;
    NaNs when there are no differences.
    """
    parts = [np.asarray(d, np.float64).ravel() for d in differences if np.size(d)]
    if not parts:
        return {"gap": math.nan, "low": math.nan, "high": math.nan, "level": level, "n_images": 0}
    rng = np.random.default_rng(seed)
    total = sum(len(p) for p in parts)
    sums = np.zeros(n_boot)
    for p in parts:
        idx = rng.integers(0, len(p), size=(n_boot, len(p)))
        sums += p[idx].sum(axis=1)
    means = sums / total
    alpha = (1.0 - level) / 2
    return {
        "gap": float(np.concatenate(parts).mean()),
        "low": float(np.quantile(means, alpha)),
        "high": float(np.quantile(means, 1 - alpha)),
        "level": level,
        "n_images": int(total),
    }
