"""Stage ``select``: the GaussianMixture sweep, the chosen model, the sweep table and figure."""

from __future__ import annotations

import csv
import logging
import math
from pathlib import Path
from typing import Any

from gmmgen import mixture, plots
from gmmgen.config import seed_for
from gmmgen.io import atomic_dir, load_arrays, write_json
from gmmgen.stages.common import require, stage_dir

log = logging.getLogger(__name__)

_FLOATS = ("bic", "aic", "train_ll", "test_ll", "fit_seconds", "min_effective_points")
_INTS = ("n_components", "n_parameters", "n_iter", "n_degenerate")


def model_params(cfg: Any) -> dict[str, Any]:
    """Keyword arguments for ``GaussianMixture`` from ``cfg.model``."""
    m = cfg.model
    return {
        "n_init": int(m.n_init),
        "reg_covar": float(m.reg_covar),
        "max_iter": int(m.max_iter),
        "tol": float(m.tol),
        "init_params": str(m.init_params),
        "random_state": seed_for(cfg, "model.random_state"),
    }


def _fmt(v: Any) -> Any:
    if isinstance(v, float):
        return "nan" if math.isnan(v) else repr(v)
    return v


def write_sweep_csv(rows: list[dict[str, Any]], path: Path) -> None:
    """The sweep table, one row per fit, floats written exactly (repr)."""
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(mixture.FIELDS))
        w.writeheader()
        for row in rows:
            w.writerow({k: _fmt(row[k]) for k in mixture.FIELDS})


def read_sweep_csv(path: Path) -> list[dict[str, Any]]:
    """Read a table written by :func:`write_sweep_csv` back into typed rows."""
    rows = []
    with open(path, newline="") as fh:
        for raw in csv.DictReader(fh):
            row: dict[str, Any] = dict(raw)
            for k in _FLOATS:
                row[k] = float(row[k]) if row[k] not in ("", "nan") else math.nan
            for k in _INTS:
                row[k] = int(row[k])
            row["converged"] = row["converged"] == "True"
            rows.append(row)
    return rows


def run_select(cfg: Any) -> Path:
    """Fit the sweep, choose a model by the criterion, write the table, models, metrics, figure."""
    import joblib

    proj = load_arrays(require(stage_dir(cfg, "reduce") / "projected.npz", "reduce"))
    rows, models = mixture.sweep(
        proj["z_train"],
        proj["z_test"],
        list(cfg.sweep.n_components),
        list(cfg.sweep.covariance_types),
        model_params(cfg),
        n_jobs=int(cfg.sweep.n_jobs),
        progress=bool(cfg.sweep.progress),
        backend=str(cfg.sweep.backend),
    )
    chosen, notes = mixture.select(rows, cfg.sweep.criterion, bool(cfg.sweep.allow_degenerate))
    for note in notes:
        log.warning("select: %s", note)
    by_criterion = mixture.choices(rows, bool(cfg.sweep.allow_degenerate))
    out = stage_dir(cfg, "select")
    with atomic_dir(out) as tmp:
        joblib.dump(models[(chosen["covariance_type"], chosen["n_components"])], tmp / "model.joblib")
        (tmp / "by_criterion").mkdir()
        for crit, row in by_criterion.items():
            model = models[(row["covariance_type"], row["n_components"])]
            joblib.dump(model, tmp / "by_criterion" / f"{crit}.joblib")
        write_sweep_csv(rows, tmp / "sweep.csv")
        metrics = {
            "criterion": cfg.sweep.criterion,
            "chosen": {k: chosen[k] for k in mixture.FIELDS},
            "by_criterion": {
                c: {"covariance_type": r["covariance_type"], "n_components": r["n_components"]}
                for c, r in by_criterion.items()
            },
            "n_fits": len(rows),
            "n_failed": sum(r["status"] == "failed" for r in rows),
            "n_not_converged": sum(r["status"] == "not_converged" for r in rows),
            "n_degenerate_fits": sum(r["n_degenerate"] > 0 for r in rows),
            "sweep_seconds": float(sum(r["fit_seconds"] for r in rows)),
            "warnings": notes,
        }
        write_json(tmp / "metrics.json", metrics)
        plots.sweep_criteria(rows, chosen, cfg.sweep.criterion, tmp / "sweep.png")
    log.info(
        "select: %s chose %s K=%d (BIC %.1f, held-out LL %.3f); %d fits, %d failed, %d degenerate",
        cfg.sweep.criterion,
        chosen["covariance_type"],
        chosen["n_components"],
        chosen["bic"],
        chosen["test_ll"],
        len(rows),
        metrics["n_failed"],
        metrics["n_degenerate_fits"],
    )
    return out
