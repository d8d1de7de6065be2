"""Stage ``summary``: the few numbers that matter, in one small file that git keeps.

The stage folders under ``outputs/`` are git-ignored (DVC caches them), so no
git revision holds their metrics. This stage copies the headline numbers into
``results/metrics.json``, which is committed with ``dvc.lock``: ``dvc metrics
diff``, ``dvc exp show`` and ``make compare`` then compare main with any
experiment on real numbers.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from gmmgen.core.io import atomic_write_bytes, read_json
from gmmgen.pipeline import files as F
from gmmgen.pipeline import skipped
from gmmgen.pipeline.config import Config, settle
from gmmgen.pipeline.stages.common import require, stage_dir

# Headline name -> (stage, dotted key in that stage's metrics.json). Add a line
# here to compare one more number across experiments.
HEADLINE: dict[str, tuple[str, str]] = {
    "data.n_train": ("data", "n_train"),
    "data.n_val": ("data", "n_val"),
    "data.n_test": ("data", "n_test"),
    "reduce.n_dims_kept": ("reduce", "n_dims_kept"),
    "reduce.variance_explained": ("reduce", "variance_explained"),
    "select.n_components": ("select", "chosen.n_components"),
    "select.bic": ("select", "chosen.bic"),
    "select.val_bpp": ("select", "chosen.val_bpp"),
    "select.test_bpp": ("select", "chosen.test_bpp"),
    "select.n_degenerate_fits": ("select", "n_degenerate_fits"),
    # The yardstick placed: the chosen model's validation NLL split (nats/image; they sum to its val_nll_nats),
    # and two baselines on the same validation digits in the same units (bits/pixel; uniform: 8).
    "select.val_nll_mixture": ("select", "chosen.val_nll_mixture"),
    "select.val_nll_jacobian": ("select", "chosen.val_nll_jacobian"),
    "select.val_nll_residual": ("select", "chosen.val_nll_residual"),
    "select.histogram_val_bpp": ("select", "yardstick.baselines.histogram.val_bpp"),
    "select.gaussian_val_bpp": ("select", "yardstick.baselines.gaussian.val_bpp"),
    "classifier.test_accuracy": ("classifier", "test_accuracy"),
    "evaluate.frechet_distance": ("evaluate", "selected.frechet_distance"),
    "evaluate.frechet_floor": ("evaluate", "reference.frechet_floor"),
    "evaluate.inception_score": ("evaluate", "selected.inception_score"),
    "evaluate.precision": ("evaluate", "selected.precision"),
    "evaluate.precision_floor": ("evaluate", "reference.precision_floor"),
    "evaluate.recall": ("evaluate", "selected.recall"),
    "evaluate.recall_floor": ("evaluate", "reference.recall_floor"),
    "evaluate.ndb_share": ("evaluate", "selected.ndb_share"),
    "evaluate.ndb_share_floor": ("evaluate", "reference.ndb_share_floor"),
    # The memorisation verdict of the model sweep.criterion chose: "copying", "not copying" or "untested".
    "evaluate.copying_status": ("evaluate", "selected.copying_status"),
    "evaluate.copying_c_t": ("evaluate", "selected.copying_c_t"),
    "evaluate.copying_c_t_floor": ("evaluate", "reference.copying_c_t_floor"),
    "evaluate.nn_distance_ratio": ("evaluate", "selected.nn_distance_ratio"),
    "evaluate.ari": ("evaluate", "selected.ari"),
    "evaluate.conditional_agreement": ("evaluate", "conditional.agreement"),
}
SIGNIFICANT = 6  # digits kept: enough to compare runs, few enough to read
# Per criterion's choice, under "verdict": these numbers and statuses from evaluate's verdict section.
VERDICT: tuple[str, ...] = (
    "status",
    "val_nll_nats",
    "frechet_distance",
    "precision",
    "recall",
    "ndb_share",
    "copying_c_t",
    "copying_status",
    "named_best",
)


def _lookup(tree: dict[str, Any], dotted: str) -> Any:
    for part in dotted.split("."):
        tree = tree[part]
    return tree


def _round(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None  # not computed (no validation or test digits): JSON's null, not NaN
    if not isinstance(value, float) or value == 0:
        return value
    return float(f"{value:.{SIGNIFICANT}g}")


def verdict(evaluation: dict[str, Any]) -> dict[str, Any]:
    """Per criterion's choice its model and :data:`VERDICT` fields, and the two bests with the sentence.

    Raises KeyError naming what is missing when evaluate's metrics have no verdict section.
    """
    try:
        v = evaluation["verdict"]
        out: dict[str, Any] = {
            crit: {
                "model": f"{row['covariance_type']} K={row['n_components']}",
                **{k: _round(row[k]) for k in VERDICT},
            }
            for crit, row in v["by_criterion"].items()
        }
        out.update(
            likelihood_best=",".join(v["likelihood_best_criteria"]) or None,
            sample_best=",".join(v["sample_best_criteria"]) or None,
        )
    except KeyError as exc:
        raise KeyError(f"verdict: evaluate/metrics.json has no {exc.args[0]!r} in its verdict section") from exc
    return out


def headline(metrics: dict[str, dict[str, Any]]) -> dict[str, dict[str, float | int | None]]:
    """The HEADLINE numbers from each stage's metrics, nested by stage (``{"select": {"bic": ...}}``), and the
    per-choice :func:`verdict` under ``"verdict"``; a skipped stage's numbers are None (its verdict empty).

    Raises KeyError naming the number when a stage's metrics lack it.
    """
    out: dict[str, dict[str, float | int | None]] = {}
    for name, (stage, key) in HEADLINE.items():
        try:
            value = None if skipped.is_skipped(metrics[stage]) else _lookup(metrics[stage], key)
        except KeyError as exc:
            raise KeyError(f"{name}: {stage}/metrics.json has no {key!r}") from exc
        group, field = name.split(".", 1)
        out.setdefault(group, {})[field] = _round(value)
    out["verdict"] = {} if skipped.is_skipped(metrics["evaluate"]) else verdict(metrics["evaluate"])
    return out


def run_summary(cfg: Config | DictConfig) -> Path:
    """Copy the headline numbers of the stages into results/metrics.json (tracked by git); return its path."""
    cfg = settle(cfg)  # typed (a no-op when given the typed config)
    stages = sorted({stage for stage, _ in HEADLINE.values()})
    metrics = {s: read_json(require(stage_dir(cfg, s) / F.BY_NAME[s].metrics, s)) for s in stages}
    target = Path(cfg.paths.results) / F.RESULTS_FILE
    atomic_write_bytes(target, (json.dumps(headline(metrics), indent=2, sort_keys=True) + "\n").encode())
    return target
