"""``make stability``: the selection sweep repeated under N seeds; per criterion how its choice varies.

Seed ``s`` (``seed``, ``seed + 1``, ...) is the run's global seed: it draws the
split of the digits (unless ``data.seed`` is pinned) and the EM starts (unless
``model.random_state`` is pinned), as a ``make run`` with ``seed=s`` would. Per
seed: the split, the PCA on its training digits, the sweep of the config's grid
scored on its validation digits (uniformly dequantized, as the select stage
does), each criterion's choice and second choice (:func:`gmmgen.core.mixture.select`
on the rest), and the per-image validation log-likelihood of every fit. The
pixel-space NLL of two mixtures on one PCA differs only by the mixture term
(:func:`gmmgen.core.likelihood.nll_split`), so the per-image gap is the
difference of the mixtures' log densities. :mod:`gmmgen.core.stability` turns
the seeds' results into the distribution of the chosen K and a bootstrap
interval of the gap between each criterion's two top models.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from gmmgen.core import data as data_mod
from gmmgen.core import likelihood, mixture, reduce
from gmmgen.core import stability as st
from gmmgen.errors import SweepError
from gmmgen.pipeline.config import Config, model_params, settle


def one_seed(cfg: Config, digits: data_mod.Digits) -> dict[str, Any]:
    """The sweep of one settled config: choices, second choices and per-image validation log-likelihoods."""
    d = cfg.data
    arrays = data_mod.split(digits, d.n_train, int(d.n_val), d.n_test, d.seed, d.n_classifier)
    x_train = reduce.to_features(arrays["x_train"])
    p = cfg.pca
    pca = reduce.fit_pca(x_train, p.variance, p.n_components, p.whiten, p.svd_solver, cfg.seed)
    z_train = pca.transform(x_train)
    z_val = reduce.project(pca, likelihood.dequantize(arrays["x_val"], int(d.seed)))
    rows, fitted = mixture.sweep(
        z_train,
        z_val,
        list(cfg.sweep.n_components),
        list(cfg.sweep.covariance_types),
        model_params(cfg),
        n_jobs=int(cfg.sweep.n_jobs),
        progress=False,
        warn=False,
        backend=str(cfg.sweep.backend),
        thin=float(cfg.sweep.thin_points_per_parameter),
    )
    allow = bool(cfg.sweep.allow_degenerate)
    chosen, second = {}, {}
    for crit, row in mixture.choices(rows, allow).items():
        if crit == "heldout" and not len(z_val):
            continue
        chosen[crit] = (row["covariance_type"], int(row["n_components"]))
        try:
            nxt = mixture.select([r for r in rows if r is not row], crit, allow)[0]
            second[crit] = (nxt["covariance_type"], int(nxt["n_components"]))
        except SweepError:
            second[crit] = None
    ll = {key: gmm.score_samples(z_val) for key, gmm in fitted.items()} if len(z_val) else {}
    return {"seed": int(cfg.seed), "n_dims": int(pca.n_components_), "chosen": chosen, "second": second, "ll": ll}


def run_seeds(
    cfg: Any, n_seeds: int, digits: data_mod.Digits, step: Callable[[dict[str, Any]], Any] = lambda r: None
) -> list[dict[str, Any]]:
    """:func:`one_seed` for seeds ``cfg.seed`` .. ``cfg.seed + n_seeds - 1`` (``cfg``: the composed, unsettled
    config); ``step(result)`` after each."""
    base = int(cfg.seed)
    results = []
    for i in range(n_seeds):
        c = copy.deepcopy(cfg)
        c.seed = base + i
        start = time.perf_counter()
        result = one_seed(settle(c), digits)
        result["seconds"] = time.perf_counter() - start
        results.append(result)
        step(result)
    return results


def summarize(results: list[dict[str, Any]], n_boot: int = 2000) -> dict[str, Any]:
    """Per criterion: :func:`gmmgen.core.stability.choice_distribution` of its choices, its runner-up and the
    bootstrap interval of the validation NLL gap (runner-up minus mode, nats per image; > 0: the mode is better)."""
    out: dict[str, Any] = {}
    criteria = [c for c in ("bic", "aic", "heldout") if any(c in r["chosen"] for r in results)]
    for crit in criteria:
        chosen = [r["chosen"][crit] for r in results if crit in r["chosen"]]
        dist = st.choice_distribution(chosen)
        mode = next(m for m in chosen if st.label(m) == dist["mode"])
        other = st.runner_up(chosen, [r["second"].get(crit) for r in results])
        diffs = [r["ll"][mode] - r["ll"][other] for r in results if other and mode in r["ll"] and other in r["ll"]]
        gap = st.bootstrap_gap(diffs, n_boot=n_boot, seed=results[0]["seed"])
        out[crit] = {**dist, "runner_up": st.label(other) if other else None, "gap": gap}
    return out


def report_lines(summary: dict[str, Any], results: list[dict[str, Any]]) -> list[str]:
    """The printed table: per criterion mode, share, range, counts, and the gap with its interval."""
    seeds = [r["seed"] for r in results]
    dims = sorted({r["n_dims"] for r in results})
    lines = [
        f"stability: {len(results)} seeds ({seeds[0]}..{seeds[-1]}: split and EM starts), PCA dims "
        f"{'/'.join(map(str, dims))}, {sum(r['seconds'] for r in results):.0f} s of sweeps",
    ]
    for crit, s in summary.items():
        counts = ", ".join(f"{m}: {n}" for m, n in s["counts"].items())
        lines.append(
            f"  {crit:8s} mode {s['mode']} chosen by {s['share_mode']:.0%} of seeds, K {s['k_min']}..{s['k_max']} "
            f"({counts})"
        )
        g = s["gap"]
        if s["runner_up"] and np.isfinite(g["gap"]):
            verdict = (
                "holds 0: the validation digits cannot tell them apart"
                if g["low"] <= 0 <= g["high"]
                else ("the mode is better" if g["low"] > 0 else "the runner-up is better")
            )
            lines.append(
                f"           validation NLL of {s['runner_up']} minus {s['mode']}: {g['gap']:+.2f} nats/image, "
                f"{100 * g['level']:.0f}% bootstrap interval [{g['low']:+.2f}, {g['high']:+.2f}] over "
                f"{g['n_images']:,} validation digits ({verdict})"
            )
    return lines


def write(summary: dict[str, Any], results: list[dict[str, Any]], path: Path) -> Path:
    """``stability.json``: the summary and per seed its choices (no arrays)."""
    from gmmgen.core.io import write_json

    seeds = [
        {
            "seed": r["seed"],
            "n_dims": r["n_dims"],
            "seconds": r["seconds"],
            "chosen": {c: st.label(m) for c, m in r["chosen"].items()},
            "second": {c: st.label(m) if m else None for c, m in r["second"].items()},
        }
        for r in results
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, {"criteria": summary, "seeds": seeds})
    return path
