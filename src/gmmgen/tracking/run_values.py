"""What a pipeline run records, read from the stages' files: params, tags, metrics, the per-class table.

Plain functions from a run folder (and the config) to dicts of strings and
floats; nothing here writes to the store. Sizes, counts and timings go to
params, not metrics (:func:`split_sizes`); the sweep is stepped by K
(:func:`sweep_metric`).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from gmmgen.pipeline import files as F
from gmmgen.pipeline.config import Config, as_dict
from gmmgen.redact import redact
from gmmgen.tracking import runinfo

log = logging.getLogger(__name__)

# Config keys that are about this machine or the UI, not the experiment: not logged as params.
NOT_PARAMS = ("paths.", "hydra.", "tracking.", "data.timeout", "sweep.n_jobs", "sweep.backend", "sweep.progress")


# Per-class numbers (keyed by digit) go into one logged table, not ten single-point metrics each.
PER_CLASS_KEYS = ("class_counts", "agreement_per_class", "n_components_per_class")


FIT_METRICS = (
    "bic",
    "aic",
    "train_ll",
    "val_ll",
    "val_nll_nats",
    "val_bpp",
    "n_iter",
    "fit_seconds",
    "n_degenerate",
    "n_thin",
    "n_parameters",
)


def flatten(tree: Any, prefix: str = "") -> dict[str, str]:
    """Flatten nested dicts to ``a.b.c`` keys with string values (lists as YAML-ish text)."""
    out: dict[str, str] = {}
    if isinstance(tree, dict):
        for k, v in tree.items():
            out.update(flatten(v, f"{prefix}{k}."))
        return out
    value = json.dumps(tree) if isinstance(tree, list | dict) else str(tree)
    out[prefix[:-1]] = redact(value)[:6000]
    return out


def git_state(root: Path, state: dict[str, Any] | None = None) -> dict[str, str]:
    """MLflow tags for the git state of ``root`` (or a state recorded earlier by :mod:`gmmgen.tracking.runinfo`).

    ``mlflow.source.git.commit`` fills the UI's commit field; ``git.dirty`` says
    whether tracked files differed from that commit ('unknown' outside git).
    """
    if not state or state.get("kind") == "exp":  # an experiment's params are applied after make exp's record
        state = runinfo.git_state(root)
    dirty = state.get("dirty")
    return {
        "mlflow.source.git.commit": str(state.get("commit", "unknown")),
        "git.dirty": "unknown" if dirty is None else str(bool(dirty)).lower(),
    }


def loggable_params(cfg: Config | DictConfig) -> dict[str, str]:
    """The flattened config without machine paths, ports, UI and execution settings (see NOT_PARAMS)."""
    flat = flatten(as_dict(cfg))
    return {k: v for k, v in flat.items() if not k.startswith(NOT_PARAMS)}


def _read_json(path: Path) -> dict[str, Any]:
    """A stage's JSON file, {} when the stage did not run; UpstreamError when it cannot be read."""
    if not path.exists():
        return {}
    from gmmgen.pipeline.upstream import load_json

    return load_json(path, path.parent.name)


def _numeric(d: dict[str, Any], prefix: str) -> dict[str, float]:
    out = {}
    for k, v in d.items():
        if k in PER_CLASS_KEYS:
            continue
        if isinstance(v, bool):
            out[f"{prefix}{k}"] = float(v)
        elif isinstance(v, int | float):
            out[f"{prefix}{k}"] = float(v)
        elif isinstance(v, dict):
            out.update(_numeric(v, f"{prefix}{k}/"))
    return out


def describe(select: dict[str, Any]) -> str:
    """One line for the run's description: what was chosen, by what, and what the other criteria preferred."""
    chosen = select.get("chosen")
    if not chosen:
        return "No model chosen."
    crit = str(select.get("criterion", "bic"))
    label = {"bic": "BIC", "aic": "AIC", "heldout": "held-out likelihood"}
    line = (
        f"Chose {chosen['covariance_type']} K={chosen['n_components']} by {label.get(crit, crit)} "
        f"among {select.get('n_fits', '?')} fits (validation {chosen.get('val_bpp', float('nan')):.4f} bits/pixel)"
    )
    others = [
        f"{label.get(c, c)} would pick {r.get('covariance_type')} K={r.get('n_components')}"
        for c, r in select.get("by_criterion", {}).items()
        if c != crit
        and (r.get("covariance_type"), r.get("n_components")) != (chosen["covariance_type"], chosen["n_components"])
    ]
    if others:
        line += "; " + ", ".join(others)
    if select.get("n_degenerate_fits"):
        line += f"; {select['n_degenerate_fits']} of the fits degenerate"
    return line + "."


def per_class_table(run_dir: Path) -> dict[str, list[Any]]:
    """Per-digit numbers of a run as columns (digit 0-9): generated class counts, conditional agreement and K."""
    evaluation = _read_json(F.EVALUATE.folder(run_dir) / F.EVALUATE.metrics)
    digits = [str(d) for d in range(10)]
    table: dict[str, list[Any]] = {"digit": list(range(10))}
    for crit, row in evaluation.get("by_criterion", {}).items():
        counts = row.get("quality", {}).get("class_counts", {})
        table[f"generated_count_{crit}"] = [int(counts.get(d, 0)) for d in digits]
    cond = evaluation.get("conditional", {})
    if "agreement_per_class" in cond:
        table["conditional_agreement"] = [cond["agreement_per_class"].get(d) for d in digits]
        table["conditional_n_components"] = [cond.get("n_components_per_class", {}).get(d) for d in digits]
    provenance = _read_json(F.DATA.folder(run_dir) / F.DATA.provenance)
    for split, counts in provenance.get("class_counts", {}).items():
        table[f"{split}_count"] = [int(counts.get(d, 0)) for d in digits]
    return table if len(table) > 1 else {}


def run_tags(cfg: Config | DictConfig, run_dir: Path, select: dict[str, Any]) -> dict[str, str]:
    """The run's tags from its files: data source and hash, the chosen model, the criterion, the description."""
    provenance = _read_json(F.DATA.folder(run_dir) / F.DATA.provenance)
    chosen = select.get("chosen", {})
    tags = {
        "data.source": provenance.get("source", "unknown"),
        "data.origin": provenance.get("origin", ""),
        "data.test_origin": provenance.get("test_origin", ""),
        "data.fallback": str(provenance.get("fallback", False)).lower(),
        "data.sha256": provenance.get("dataset_sha256", ""),
        "selected_model": f"{chosen.get('covariance_type')} K={chosen.get('n_components')}" if chosen else "none",
        "selected_status": chosen.get("status", ""),
        "criterion": str(cfg.sweep.criterion),
    }
    if select.get("warnings"):
        tags["sweep.warnings"] = " | ".join(select["warnings"])[:5000]
    evaluation = _read_json(F.EVALUATE.folder(run_dir) / F.EVALUATE.metrics)
    tags.update(verdict_tags(evaluation))
    tags["mlflow.note.content"] = describe(select) + (f" {tags['verdict']}" if "verdict" in tags else "")
    return tags


def verdict_tags(evaluation: dict[str, Any]) -> dict[str, str]:
    """Tags of the evaluate stage's verdict: ``copying_status`` (the used choice's: copying, not copying or
    untested), ``copying_status.<criterion>`` per choice, the two bests and the sentence (``verdict``)."""
    tags: dict[str, str] = {}
    selected = evaluation.get("selected", {})
    if "copying_status" in selected:
        tags["copying_status"] = str(selected["copying_status"])
    v = evaluation.get("verdict", {})
    for crit, row in v.get("by_criterion", {}).items():
        tags[f"copying_status.{crit}"] = str(row.get("copying_status"))
    if v:
        tags["likelihood_best"] = ",".join(v.get("likelihood_best_criteria", [])) or "none"
        tags["sample_best"] = ",".join(v.get("sample_best_criteria", [])) or "none"
        tags["verdict"] = str(v.get("sentence", ""))[:5000]
    return tags


#: Last parts of metric names that are sizes, counts of the config or timings, not results: logged as params.
SIZE_KEYS = frozenset(
    {"epochs", "seconds", "sweep_seconds", "n_train", "n_val", "n_test", "n_classifier", "n_samples", "n_fits",
     "n_dims_in", "frechet_n", "frechet_reference_n", "copying_floor_n", "copying_heldout_n", "copying_cells",
     "copying_min_generated", "min_generated", "n_cells", "n_bins", "ndb_bins", "ndb_alpha", "alpha", "prdc_k",
     "inception_score_splits", "percentile", "copying_threshold"}
)  # fmt: skip

#: Exceptions to SIZE_KEYS: results that happen to share a last name part with a size.
KEEP_AS_METRIC: frozenset[str] = frozenset()


def split_sizes(metrics: dict[str, float]) -> tuple[dict[str, float], dict[str, float]]:
    """``metrics`` split into (results, sizes): a size's last name part is in :data:`SIZE_KEYS` (params in MLflow)."""
    sizes = {k: v for k, v in metrics.items() if k.rsplit("/", 1)[-1] in SIZE_KEYS and k not in KEEP_AS_METRIC}
    return {k: v for k, v in metrics.items() if k not in sizes}, sizes


def _fmt_size(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.4g}"


def sweep_metric(key: str, covariance_type: str) -> str:
    """The per-K metric (step = K) of ``key``: BIC and validation bits/pixel in the run page's first chart
    section beside the headline (``_headline/bic_vs_K_full``, :data:`gmmgen.tracking.ui.SECTION`); AIC and
    train_ll under ``sweep/``."""
    from gmmgen.tracking import ui as mlflow_ui

    if key in ("bic", "val_bpp"):
        return f"{mlflow_ui.SECTION}/{key}_vs_K_{covariance_type}"
    return f"sweep/{key}_{covariance_type}"


def run_metrics(run_dir: Path, select: dict[str, Any], timings: dict[str, Any]) -> dict[str, float]:
    """The run's one-step metrics from the stages' metrics files (per-class counts left out: a logged table)."""
    from gmmgen.tracking import ui as mlflow_ui

    chosen = select.get("chosen", {})
    metrics: dict[str, float] = {}
    for stage in (F.DATA, F.REDUCE, F.GENERATE, F.CLASSIFIER):
        metrics.update(_numeric(_read_json(stage.folder(run_dir) / stage.metrics), f"{stage.name}/"))
    evaluation = _read_json(F.EVALUATE.folder(run_dir) / F.EVALUATE.metrics)
    for part in ("selected", "reference", "clustering", "anomaly", "conditional"):
        metrics.update(_numeric(evaluation.get(part, {}), f"evaluate/{part}/"))
    for crit, row in evaluation.get("by_criterion", {}).items():
        metrics.update(_numeric(row.get("quality", {}), f"evaluate/{crit}/"))
    for key in ("n_fits", "n_failed", "n_not_converged", "n_degenerate_fits"):
        if key in select:
            metrics[f"select/{key}"] = float(select[key])
    if "sweep_seconds" in timings:
        metrics["select/sweep_seconds"] = float(timings["sweep_seconds"])
    classifier_time = _read_json(F.CLASSIFIER.folder(run_dir) / F.CLASSIFIER.runtime)
    if "seconds" in classifier_time:
        metrics["classifier/seconds"] = float(classifier_time["seconds"])
    if chosen:
        # Top-level names so the runs table sorts by them directly.
        # val_bpp / val_nll_nats: pixel space, comparable across runs on the same digits;
        # bic, aic, train_ll: in this run's PCA coordinates, comparable only within it.
        metrics.update(
            bic=chosen["bic"],
            aic=chosen["aic"],
            val_bpp=chosen["val_bpp"],
            val_nll_nats=chosen["val_nll_nats"],
            train_ll=chosen["train_ll"],
            n_components=chosen["n_components"],
        )
        for key in ("test_bpp", "test_nll_nats"):
            if chosen.get(key) is not None:
                metrics[key] = chosen[key]
    metrics.update(mlflow_ui.headline_metrics(run_dir))
    return metrics
