"""Which choice (or sweep job) to name best, and the sentence that says so: plain values in, plain values out.

Two bests, because the numbers disagree by design: the **likelihood's best**
has the lowest validation NLL (validation digits only, so it is a choice the
test digits never touch); the **sample-quality best** has the lowest Fréchet
distance to real digits (judge CNN features, reported on test digits). A
candidate that is ``degenerate`` (its fit) or ``copying`` (the data-copying
test, :mod:`gmmgen.core.copying`) is never named best (a constants-only import: the reports use this
module without scipy or scikit-learn) by either. When the two
bests differ, both are named, in one sentence that says so.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from gmmgen.core.choices import COPYING

DEGENERATE = "degenerate"


def _number(value: Any) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return math.nan
    return v


def exclusion(fit_status: Any, copying_status: Any) -> str | None:
    """Why a candidate cannot be named best (``"degenerate"``, ``"copying"``, both joined), or None."""
    reasons = [r for r, bad in ((DEGENERATE, fit_status == DEGENERATE), (COPYING, copying_status == COPYING)) if bad]
    return " and ".join(reasons) or None


def name_bests(
    candidates: Sequence[dict[str, Any]],
    likelihood_key: str = "val_nll_nats",
    sample_key: str = "frechet_distance",
) -> dict[str, Any]:
    """The likelihood's and the sample-quality best among ``candidates``, and a sentence for a person.

    Each candidate: ``name`` (how the sentence names it), ``fit_status``,
    ``copying_status``, ``likelihood_key`` (lower is better) and
    ``sample_key`` (lower is better; missing or NaN when not measured).
    Returns ``{"likelihood_best", "sample_best"}`` (names, None when no
    candidate qualifies), ``agree`` (bool, or None when one is missing),
    ``excluded`` ({name: reason}) and ``sentence``.
    """
    excluded = {c["name"]: why for c in candidates if (why := exclusion(c.get("fit_status"), c.get("copying_status")))}
    open_ = [c for c in candidates if c["name"] not in excluded]

    def best(key: str) -> dict[str, Any] | None:
        scored = [c for c in open_ if not math.isnan(_number(c.get(key)))]
        return min(scored, key=lambda c: _number(c[key])) if scored else None

    lik, smp = best(likelihood_key), best(sample_key)
    names = (lik["name"] if lik else None, smp["name"] if smp else None)
    agree = None if None in names else names[0] == names[1]
    if lik is None and smp is None:
        sentence = "No best is named: " + (
            "every candidate is " + " or ".join(sorted(set(excluded.values()))) if excluded else "nothing was measured"
        )
    elif agree:
        sentence = f"Best: {names[0]}, by validation likelihood and by sample quality (Fréchet distance) alike"
    elif agree is False:
        sentence = (
            f"The likelihood's best is {names[0]} and the sample-quality best is {names[1]}: they differ "
            "(the validation likelihood rewards a density that spreads over every digit, the Fréchet distance "
            "samples that look like real digits)"
        )
    elif lik is not None:
        sentence = f"Best by validation likelihood: {names[0]} (no sample-quality numbers to compare)"
    else:
        sentence = f"Best by sample quality: {names[1]} (no validation likelihood to compare)"
    if excluded:
        sentence += "; never named best: " + ", ".join(f"{n} ({why})" for n, why in excluded.items())
    return {
        "likelihood_best": names[0],
        "sample_best": names[1],
        "agree": agree,
        "excluded": excluded,
        "sentence": sentence + ".",
    }


VERDICT_FIELDS = (
    "covariance_type",
    "n_components",
    "status",
    "val_nll_nats",
    "val_bpp",
    "frechet_distance",
    "frechet_floor",
    "precision",
    "recall",
    "ndb",
    "ndb_share",
    "copying_c_t",
    "copying_status",
)
"""What the verdict shows per choice (``status`` is the fit's: sound, thin or degenerate)."""


def criteria_verdict(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per choice its verdict numbers, and which criterion's choice is best by likelihood and by samples.

    Criteria that chose the same model are one candidate, named by all of
    them ("bic/aic: full K=110"); :func:`name_bests` decides.
    """
    by_model: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for r in rows:
        by_model.setdefault((r["covariance_type"], int(r["n_components"])), []).append(r)
    candidates = [
        {
            "name": "/".join(r["criterion"] for r in group) + f": {cov} K={k}",
            "criteria": [r["criterion"] for r in group],
            "fit_status": group[0]["status"],
            "copying_status": group[0]["copying_status"],
            "val_nll_nats": group[0]["val_nll_nats"],
            "frechet_distance": group[0]["frechet_distance"],
        }
        for (cov, k), group in by_model.items()
    ]
    named = name_bests(candidates)
    crit_of = {c["name"]: c["criteria"] for c in candidates}
    return {
        **named,
        "likelihood_best_criteria": crit_of.get(named["likelihood_best"], []),
        "sample_best_criteria": crit_of.get(named["sample_best"], []),
        "by_criterion": {
            r["criterion"]: {k: r[k] for k in VERDICT_FIELDS if k in r}
            | {"named_best": _named(r["criterion"], named, crit_of)}
            for r in rows
        },
    }


def _named(criterion: str, named: dict[str, Any], crit_of: dict[str, list[str]]) -> str:
    """'likelihood', 'samples', 'both' or '' : for which best ``criterion``'s choice is named."""
    lik = criterion in crit_of.get(named["likelihood_best"], [])
    smp = criterion in crit_of.get(named["sample_best"], [])
    return "both" if lik and smp else "likelihood" if lik else "samples" if smp else ""
