"""What the pixel-space NLL can and cannot compare, in words, from a run's select metrics.

The validation NLL (nats per image, bits per pixel) is exact, but it is mostly
the residual: the isotropic Gaussian on the directions the PCA discards. K and
the covariance type move only the mixture term; across ``pca.variance``
settings the Jacobian and the residual move with the PCA, so a sweep over the
PCA compares the residual model, not the mixture. These lines say so, beside
two baselines on the same digits (:mod:`gmmgen.core.baselines`).
"""

from __future__ import annotations

import math
from typing import Any

#: One line under every table of bits/pixel: what they compare.
COMPARES = (
    "bits/pixel: exact pixel-space NLL of the dequantized digits (lower is better), mostly the residual term; "
    "within one PCA setting it ranks K and covariance by the mixture term, across PCA settings it ranks the "
    "residual model, not the mixture."
)


def _f(value: Any, spec: str) -> str:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return "n/a"
    return format(v, spec) if math.isfinite(v) else "n/a"


def summary_lines(select: dict[str, Any]) -> list[str]:
    """The end summary's yardstick lines: the chosen model's NLL split and the baselines ([] when absent)."""
    chosen = select.get("chosen", {})
    base = select.get("yardstick", {}).get("baselines", {})
    parts = [chosen.get(k) for k in ("val_nll_mixture", "val_nll_jacobian", "val_nll_residual")]
    lines = []
    if all(isinstance(p, int | float) and math.isfinite(p) for p in parts):
        total = sum(parts)
        lines.append(
            f"  yardstick: the chosen model's validation NLL {_f(total, ',.1f')} nats/image = mixture "
            f"{_f(parts[0], ',.1f')} + whitening Jacobian {_f(parts[1], ',.1f')} + residual {_f(parts[2], ',.1f')} "
            f"({100 * parts[2] / total:.0f}% residual; K and the covariance type change only the mixture term)"
        )
    hist, gauss = base.get("histogram", {}), base.get("gaussian", {})
    if _f(hist.get("val_bpp"), ".3f") != "n/a":
        lines.append(
            f"  baselines on the same validation digits: independent-pixel histogram {_f(hist.get('val_bpp'), '.3f')}"
            f" bits/pixel, single Gaussian (K=1, same PCA) {_f(gauss.get('val_bpp'), '.3f')}, "
            f"uniform {_f(base.get('uniform_bpp', 8.0), '.0f')}"
        )
    if lines:
        lines.append("  " + COMPARES)
    elif select.get("yardstick", {}).get("n_val") == 0:
        lines.append("  no validation digits (data.n_val=0): no validation NLL, no baselines on them")
    return lines


def sweep_caveat(dims: set[Any]) -> list[str]:
    """A line for a multirun whose jobs kept different PCA dimensions ([] when they all kept the same)."""
    kept = sorted(d for d in dims if isinstance(d, int))
    if len(kept) < 2:
        return []
    return [
        f"  the jobs kept {', '.join(map(str, kept))} PCA dimensions: their bits/pixel differ mostly by the residual "
        "term (the isotropic noise on the discarded directions), so the likelihood's best says which PCA setting "
        "models the residual best, not which mixture is better (see val_nll_mixture in each job's select/sweep.csv)"
    ]
