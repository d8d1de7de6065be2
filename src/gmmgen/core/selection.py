"""Choosing one fit of a sweep by a criterion (BIC, AIC or held-out likelihood), and what each would choose.

Failed fits are never chosen, unconverged ones only when nothing converged,
degenerate ones only when allowed or nothing else is left; every time the
criterion's own optimum is passed over, or the grid's edge is chosen, a note
says so. Rows are sweep rows (:class:`gmmgen.core.mixture.SweepRow` as dicts).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from gmmgen.errors import SweepError


def _best(rows: list[dict[str, Any]], criterion: str) -> dict[str, Any]:
    if criterion == "heldout":
        return max(rows, key=lambda r: (r["val_ll"], -r["n_components"]))
    return min(rows, key=lambda r: (r[criterion], r["n_components"]))


def select(
    rows: Iterable[dict[str, Any]], criterion: str, allow_degenerate: bool = False
) -> tuple[dict[str, Any], list[str]]:
    """Pick the row that is best by ``criterion``; return it and any warnings.

    bic and aic are minimised, heldout (mean validation log-likelihood) maximised;
    ties go to the smaller model. Failed fits are never chosen; fits that did
    not converge only when nothing converged; degenerate fits (collapsed
    components whose likelihood is inflated by ``reg_covar``) only when
    ``allow_degenerate`` or when nothing else is left. Whenever the criterion's
    own optimum is passed over, a note says so.

    Returns
    -------
    row : dict
        The chosen :class:`SweepRow`, as a dict.
    notes : list of str
        Why the criterion's own optimum was passed over, or that the grid's edge was chosen.

    Raises
    ------
    SweepError
        Every fit failed.
    """
    rows = list(rows)
    usable = [r for r in rows if r["status"] != "failed"]
    if not usable:
        detail = "; ".join(f"{r['covariance_type']} K={r['n_components']}: {r['reason']}" for r in rows)
        raise SweepError(f"every fit in the sweep failed ({detail})")
    notes: list[str] = []
    converged = [r for r in usable if r["converged"]]
    if converged:
        usable = converged
    else:
        notes.append("no fit converged: choosing among unconverged fits")
    sound = [r for r in usable if r["status"] != "degenerate"]
    best = _best(usable, criterion)
    if not allow_degenerate and best["status"] == "degenerate" and sound:
        raw = best
        best = _best(sound, criterion)
        notes.append(
            f"{criterion}'s optimum {raw['covariance_type']} K={raw['n_components']} is degenerate "
            f"({raw['reason']}); chose the best sound fit, {best['covariance_type']} K={best['n_components']}"
        )
    grid = sorted({r["n_components"] for r in rows if r["covariance_type"] == best["covariance_type"]})
    if len(grid) > 1 and best["n_components"] in (grid[0], grid[-1]):
        edge = "smallest" if best["n_components"] == grid[0] else "largest"
        notes.append(
            f"{criterion} chose K={best['n_components']}, the {edge} value of the grid "
            f"{grid}: the optimum may lie outside it; widen sweep.n_components"
        )
    if best["status"] == "degenerate":
        notes.append(f"the chosen model is degenerate: {best['reason']}")
    return best, notes


def choices(rows: Sequence[dict[str, Any]], allow_degenerate: bool = False) -> dict[str, dict[str, Any]]:
    """The row each criterion would choose (criteria with nothing to choose are left out)."""
    out = {}
    for criterion in ("bic", "aic", "heldout"):
        try:
            out[criterion] = select(rows, criterion, allow_degenerate)[0]
        except SweepError:
            pass
    return out
