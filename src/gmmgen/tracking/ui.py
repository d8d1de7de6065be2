"""What the MLflow UI shows: descriptions, headline metrics, the runs table's columns, the sweep figure.

MLflow's UI reads a few standard tags. ``mlflow.note.content`` is the
description shown on an experiment's page. An experiment tag
``mlflow.sharedViewState.<key>`` holds a saved view of the runs table
(columns, filter, order) that the address
``#/experiments/<id>?viewStateShareKey=<key>`` opens: :data:`VIEW_KEY` is the
project's view, with the chosen model, the criterion and the headline numbers
as columns and the per-fit child runs filtered out. A registered model's
description is set through the registry.

Everything here takes an ``MlflowClient`` and plain values; :mod:`gmmgen.tracking.log`
calls it while it holds the store's lock.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

from gmmgen.pipeline import files as F

VIEW_KEY = "gmmgen"
"""The share key of the project's runs-table view (``?viewStateShareKey=gmmgen``)."""

VIEW_TAG = f"mlflow.sharedViewState.{VIEW_KEY}"

KIND_TAG, KIND = "mlflow.experimentKind", "custom_model_development"
"""Opens the experiment in the UI's "Model training" mode (runs, metrics), not its GenAI mode (traces)."""

HEADLINE_METRICS = {
    # runs-table name: (stage file, path inside it), read by headline_metrics()
    "frechet_distance": ("evaluate/metrics.json", ("selected", "frechet_distance")),
    "frechet_floor": ("evaluate/metrics.json", ("reference", "frechet_floor")),
    "inception_score": ("evaluate/metrics.json", ("selected", "inception_score")),
    "precision": ("evaluate/metrics.json", ("selected", "precision")),
    "recall": ("evaluate/metrics.json", ("selected", "recall")),
    "ndb_share": ("evaluate/metrics.json", ("selected", "ndb_share")),
    "copying_c_t": ("evaluate/metrics.json", ("selected", "copying_c_t")),
    "nn_distance_ratio": ("evaluate/metrics.json", ("selected", "nn_distance_ratio")),
    "judge_accuracy": ("classifier/metrics.json", ("test_accuracy",)),
    "pca_dims": ("reduce/metrics.json", ("n_dims_kept",)),
    # the yardstick placed: the chosen model's validation NLL split, and two baselines in the same units
    "val_nll_mixture": ("select/metrics.json", ("chosen", "val_nll_mixture")),
    "val_nll_jacobian": ("select/metrics.json", ("chosen", "val_nll_jacobian")),
    "val_nll_residual": ("select/metrics.json", ("chosen", "val_nll_residual")),
    "histogram_val_bpp": ("select/metrics.json", ("yardstick", "baselines", "histogram", "val_bpp")),
    "gaussian_val_bpp": ("select/metrics.json", ("yardstick", "baselines", "gaussian", "val_bpp")),
}
"""Headline numbers logged under short top-level names, beside ``bic``, ``val_bpp``, ``test_bpp``, ``n_components``."""

COLUMNS = [
    "tags.`copying_status`",
    "tags.`selected_status`",
    "metrics.`frechet_distance`",
    "metrics.`frechet_floor`",
    "metrics.`precision`",
    "metrics.`recall`",
    "metrics.`ndb_share`",
    "metrics.`n_components`",
    "metrics.`val_bpp`",
    "metrics.`test_bpp`",
    "params.`sweep.criterion`",
    "attributes.`Duration`",
]
"""The runs table's columns in the project's view (MLflow's ``type.`key``` column ids), in this order (the
view's ``columnOrder``; without it MLflow groups them attributes, metrics, params, tags): the verdicts first
(copying, fit status, FD beside its real-vs-real floor, precision/recall, NDB), then K, the likelihoods,
the criterion and the duration; 12 columns beside the pinned run name and date, so the verdicts fit at
1600 px beside MLflow's assistant panel. The rest (``bic``, ``pca_dims``, ``inception_score``,
``copying_c_t``, ``selected_model``...) stay one click away (Columns)."""

COLUMN_IDS = {"attributes.`Duration`": "duration"}
"""The table's own ids of attribute columns whose id is not the ``type.`key``` name (``columnOrder``)."""

PINNED = ("attributes.`Run Name`", "runDateAndNestInfo")
"""The table's pinned columns (run name, created): in the view's order only so that their widths apply."""

COLUMN_WIDTHS = {
    "attributes.`Run Name`": 150,
    "runDateAndNestInfo": 120,
    "tags.`copying_status`": 95,
    "tags.`selected_status`": 95,
    **{c: 80 for c in COLUMNS if c.startswith("metrics.")},
}
"""Column widths in pixels (MLflow's default is 100; the others keep it)."""


SIGNIFICANT = 4
"""Significant digits of the sample-quality numbers logged under short names (:data:`HEADLINE_METRICS`)."""

LIKELIHOOD_SIGNIFICANT = 7
"""Significant digits of ``test_bpp`` and ``bic`` as logged: relative error below 5e-7, under the 1e-6 their
comparisons use. ``val_bpp`` and ``val_nll_nats`` stay as computed: the sweep ranks its jobs by the logged
``val_bpp`` and promotion reads both from a run as the standing of a version without tags (compared exactly
with the tagged one). The full precision is in the stages' metrics files."""

ROUNDED = {
    **dict.fromkeys(HEADLINE_METRICS, SIGNIFICANT),
    **dict.fromkeys(("test_bpp", "bic"), LIKELIHOOD_SIGNIFICANT),
}


def significant(value: float, digits: int) -> float:
    """``value`` rounded to ``digits`` significant digits (0, nan and inf as they are)."""
    if not math.isfinite(value) or value == 0:
        return value
    return round(value, digits - 1 - math.floor(math.log10(abs(value))))


def rounded(metrics: dict[str, float]) -> dict[str, float]:
    """``metrics`` with the runs table's numbers (:data:`ROUNDED`) rounded for reading; the others as they are."""
    return {k: significant(float(v), ROUNDED[k]) if k in ROUNDED else v for k, v in metrics.items()}


RUN_FILTER = "tags.`gmmgen.kind` != 'fit'"
"""Pipeline and sweep runs only: a run per fit, when logged, stays one click away."""

EXPERIMENT_DESCRIPTION = """\
**gmmgen**: Gaussian mixture models fitted to PCA-whitened MNIST digits, chosen by a criterion \
(BIC, AIC or held-out likelihood), then used to generate, cluster and flag digits.

- One **pipeline run** per `make run` (or per multirun job, nested under its **sweep** run).
- Columns, verdicts first: `copying_status` (the data-copying test of Meehan et al. 2020: `copying` when \
its C_T, `copying_c_t`, is below the threshold), `selected_status` (the chosen fit: sound, thin or degenerate), \
sample quality of the chosen model: `frechet_distance` (lower is better) beside `frechet_floor` (real vs \
real), `precision` and `recall` (fidelity and coverage against real digits), `ndb_share` (share of k-means \
bins whose proportion differs from real digits'); then `n_components` (K), `val_bpp`/`test_bpp` \
(validation/test bits per pixel, a pixel-space likelihood comparable across runs on the same digits; lower \
is better) and `sweep.criterion`. More (`bic`, this run's PCA space only; `pca_dims`; `inception_score`, \
max 10; `selected_model`) under Columns. Numbers are rounded for reading (4 significant digits, 7 for `test_bpp` \
and `bic`; `val_bpp` as computed: runs are ranked by it); the stages' metrics files keep every digit. \
A sweep's row shows its likelihood-best job's numbers. The tag `verdict` names the best choice by likelihood \
and by sample quality, never a copying or degenerate one.
- BIC, AIC and `train_ll` live in each run's PCA space: compare them only within a run.
- A run's Model metrics tab opens on the `_headline` section: the headline numbers, BIC and validation \
bits/pixel against K (`_headline/bic_vs_K_full`, step = K), the generated digits and the sweep figure; \
every figure is under Artifacts. Sizes, counts and timings (epochs, n_train, seconds) are params.
"""

MODEL_DESCRIPTION = """\
Digit generator: PCA (whitened) + Gaussian mixture fitted by the gmmgen pipeline. \
Input: a table with columns `n` (how many digits, 1 to 10000) and `seed` (>= 0). \
Output: uint8 images of shape (sum of n, height, width) (28 x 28 for MNIST), white digits on black. \
Each version's source run holds the config, the model-selection sweep and the sample-quality numbers.
"""


def _dig(tree: Any, path: tuple[str, ...]) -> Any:
    for part in path:
        if not isinstance(tree, dict) or part not in tree:
            return None
        tree = tree[part]
    return tree


def headline_metrics(run_dir: str | Path) -> dict[str, float]:
    """The :data:`HEADLINE_METRICS` found in the stage folders under ``run_dir`` (missing ones left out)."""
    run_dir = Path(run_dir)
    out: dict[str, float] = {}
    cache: dict[str, Any] = {}
    for name, (file, path) in HEADLINE_METRICS.items():
        if file not in cache:
            try:
                cache[file] = json.loads((run_dir / file).read_text())
            except (OSError, ValueError):
                cache[file] = {}
        value = _dig(cache[file], path)
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            out[name] = float(value)
    return out


def view_state() -> dict[str, Any]:
    """The runs-table view the UI opens with ``?viewStateShareKey=gmmgen``: columns and filter (newest first)."""
    return {
        "searchFilter": RUN_FILTER,
        "selectedColumns": COLUMNS,
        "columnOrder": [*PINNED, *(COLUMN_IDS.get(c, c) for c in COLUMNS)],
        "columnWidths": COLUMN_WIDTHS,
        "runsExpanded": {},
        "runsPinned": [],
        "runsHidden": [],
    }


def describe_experiment(client: Any, experiment_id: str) -> None:
    """Set the experiment's description and the project's runs-table view (idempotent)."""
    state = json.dumps(view_state())
    exp = client.get_experiment(experiment_id)
    tags = exp.tags or {}
    if tags.get("mlflow.note.content") != EXPERIMENT_DESCRIPTION:
        client.set_experiment_tag(experiment_id, "mlflow.note.content", EXPERIMENT_DESCRIPTION)
    if tags.get(VIEW_TAG) != state:
        client.set_experiment_tag(experiment_id, VIEW_TAG, state)
    if tags.get(KIND_TAG) != KIND:
        client.set_experiment_tag(experiment_id, KIND_TAG, KIND)


def describe_model(client: Any, name: str) -> None:
    """Set the registered model's description."""
    client.update_registered_model(name, description=MODEL_DESCRIPTION)


def runs_table_url(base_url: str, experiment_id: str) -> str:
    """The address of the experiment's runs table in the project's view."""
    return f"{base_url.rstrip('/')}/#/experiments/{experiment_id}/runs?viewStateShareKey={VIEW_KEY}"


SECTION = "_headline"
"""The run page's first chart section. MLflow 3 orders a run's chart sections by the metric names' prefixes
("_" sorts before digits and letters) and puts the unprefixed "Model metrics" section last; a saved layout
lives in the browser only. So the headline, BIC and bits/pixel against K and the digit grid are logged
(again) under ``_headline/``, which comes before the stages' ``classifier/``, ``data/``, ..."""

HEADLINE_CHARTS = (
    "val_bpp", "test_bpp", "n_components", "pca_dims", "frechet_distance", "inception_score", "precision",
    "recall", "ndb_share", "copying_c_t", "judge_accuracy",
)  # fmt: skip
"""The top-level metrics also charted in :data:`SECTION` (the runs table keeps the short names)."""

#: Figures logged as images among the run's charts (one click from the run page): (stage, figure, image key).
CHART_FIGURES = (
    (F.GENERATE, "generated", f"{SECTION}/generated_digits"),
    (F.SELECT, "sweep", f"{SECTION}/sweep_criteria_vs_K"),
)


def headline_charts(metrics: dict[str, float]) -> dict[str, float]:
    """The :data:`HEADLINE_CHARTS` found in ``metrics``, under ``_headline/<name>``."""
    return {f"{SECTION}/{k}": metrics[k] for k in HEADLINE_CHARTS if k in metrics}


def log_chart_figures(client: Any, run_id: str, run_dir: str | Path) -> list[str]:
    """Log each of :data:`CHART_FIGURES` that is there as an image of the run; the keys logged."""
    from PIL import Image

    logged = []
    for stage, figure, key in CHART_FIGURES:
        path = stage.figure(stage.folder(run_dir), figure)
        if path.exists():
            with Image.open(path) as image:
                client.log_image(run_id, image.convert("RGB"), key=key, step=0, timestamp=0)
            logged.append(key)
    return logged


#: The best job's tags copied onto a sweep run, so its row in the runs table reads as that job's.
BEST_ROW_TAGS = ("copying_status", "selected_status", "selected_model")


def show_best_job(client: Any, run_id: str, best: dict[str, Any], names: tuple[str, ...]) -> None:
    """Log a sweep's likelihood-best job's numbers (``names`` of its row: ``val_bpp``, ``frechet_distance``,
    ``n_components``...) and :data:`BEST_ROW_TAGS` on the sweep run ``run_id``, under the job runs' names, so
    the sweep's row in the runs table shows that job's instead of dashes (its tag ``best_job`` names it)."""
    from mlflow.entities import Metric, RunTag

    now = int(time.time() * 1000)
    numbers = {k: best.get(k) for k in names}
    metrics = [Metric(k, float(v), now, 0) for k, v in numbers.items() if isinstance(v, int | float) and v == v]
    tags = [RunTag(k, str(best[k])) for k in BEST_ROW_TAGS if best.get(k)]
    client.log_batch(run_id, metrics=metrics, tags=tags)
