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
    "classifier.test_accuracy": ("classifier", "test_accuracy"),
    "evaluate.frechet_distance": ("evaluate", "selected.frechet_distance"),
    "evaluate.inception_score": ("evaluate", "selected.inception_score"),
    "evaluate.near_copy_share": ("evaluate", "selected.near_copy_share"),
    "evaluate.ari": ("evaluate", "selected.ari"),
    "evaluate.conditional_agreement": ("evaluate", "conditional.agreement"),
}
SIGNIFICANT = 6  # digits kept: enough to compare runs, few enough to read


def _lookup(tree: dict[str, Any], dotted: str) -> Any:
    for part in dotted.split("."):
        tree = tree[part]
    return tree


def _round(value: float | None) -> float | int | None:
    if value is None or isinstance(value, bool | int) or not math.isfinite(value) or value == 0:
        return value
    return float(f"{value:.{SIGNIFICANT}g}")


def headline(metrics: dict[str, dict[str, Any]]) -> dict[str, dict[str, float | int | None]]:
    """The HEADLINE numbers from each stage's metrics, nested by stage (``{"select": {"bic": ...}}``).

    Raises KeyError naming the number when a stage's metrics lack it.
    """
    out: dict[str, dict[str, float | int | None]] = {}
    for name, (stage, key) in HEADLINE.items():
        try:
            value = _lookup(metrics[stage], key)
        except KeyError as exc:
            raise KeyError(f"{name}: {stage}/metrics.json has no {key!r}") from exc
        group, field = name.split(".", 1)
        out.setdefault(group, {})[field] = _round(value)
    return out


def run_summary(cfg: Config | DictConfig) -> Path:
    """Copy the headline numbers of the stages into results/metrics.json (tracked by git); return its path."""
    cfg = settle(cfg)  # typed (a no-op when given the typed config)
    stages = sorted({stage for stage, _ in HEADLINE.values()})
    metrics = {s: read_json(require(stage_dir(cfg, s) / F.BY_NAME[s].metrics, s)) for s in stages}
    target = Path(cfg.paths.results) / F.RESULTS_FILE
    atomic_write_bytes(target, (json.dumps(headline(metrics), indent=2, sort_keys=True) + "\n").encode())
    return target
