"""The short summary printed at the end of ``make run`` and ``make sweep``, read from the stage folders.

What was chosen, by which criterion, the headline numbers and where the
figures are. Plain text from the files the stages wrote (no MLflow, no
TensorFlow), so it also works when DVC served every stage from its cache.
Full detail stays in the folders and the log files.

  python -m gmmgen.report.summary [RUN_DIR]          (default: outputs)
  python -m gmmgen.report.summary --ui PORT [RUN_DIR]   (the MLflow runs table's address)
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from gmmgen.pipeline import files as F
from gmmgen.report import yardstick
from gmmgen.report.multirun import job_line, sweep_summary
from gmmgen.report.text import fmt, ndb, number, read_csv, read_json, table

__all__ = [
    "CRITERION_LABEL",
    "FIGURES",
    "driving_cells",
    "fmt",
    "job_line",
    "main",
    "pipeline_summary",
    "sweep_summary",
    "table",
    "ui_url",
]

CRITERION_LABEL = {"bic": "BIC", "aic": "AIC", "heldout": "held-out likelihood"}
FIGURES = tuple(
    f"{stage.name}/{stem}.png"
    for stage, stem in (
        (F.SELECT, "sweep"),
        (F.EVALUATE, "criteria"),
        (F.GENERATE, "generated"),
        (F.EVALUATE, "anomaly"),
    )
)
MODEL_HEADER = ["chosen by", "model", "fit", "BIC", "val NLL", "val bits/px", "test bits/px"]
SAMPLE_HEADER = ["chosen by", "Fréchet", "IS", "precision", "recall", "NDB", "C_T", "copying"]


def _describe_data(run_dir: Path) -> str:
    prov = read_json(F.DATA.folder(run_dir) / F.DATA.provenance)
    red = read_json(F.REDUCE.folder(run_dir) / F.REDUCE.metrics)
    if not prov:
        return "no data stage output"
    source = prov.get("source", "?") + (" fallback" if prov.get("fallback") else "")
    text = f"digits from {source}: {prov.get('n_train', 0):,} train / {prov.get('n_test', 0):,} test"
    if red:
        kept = fmt(red.get("variance_explained"), "%")
        text += f"; PCA keeps {red.get('n_dims_kept')} of {red.get('n_dims_in')} dims ({kept} of the variance)"
    return text


def pipeline_summary(run_dir: str | Path, root: str | Path | None = None) -> str:
    """The summary of the pipeline run whose stage folders are under ``run_dir``.

    Paths are shown relative to ``root`` (default: the current folder) when they lie under it.
    """
    run_dir = Path(run_dir)
    root = Path(root or Path.cwd())

    def show(p: Path) -> str:
        try:
            return str(p.resolve().relative_to(root.resolve()))
        except ValueError:
            return str(p)

    select = read_json(F.SELECT.folder(run_dir) / F.SELECT.metrics)
    if not select:
        return f"gmmgen: no results under {show(run_dir)} yet (the select stage has not run)"
    criterion = select.get("criterion", "bic")
    evaluation = read_json(F.EVALUATE.folder(run_dir) / F.EVALUATE.metrics)
    reference = evaluation.get("reference", {})
    rows, sample_rows = _criterion_rows(run_dir, select, criterion, reference)
    chosen = select.get("chosen", {})
    lines = [
        f"gmmgen summary: {_describe_data(run_dir)}",
        f"  chosen: {chosen.get('covariance_type')} K={chosen.get('n_components')} by "
        f"{CRITERION_LABEL.get(criterion, criterion)} (sweep.criterion={criterion}; "
        f"{select.get('n_fits', '?')} fits, {select.get('n_degenerate_fits', 0)} degenerate, "
        f"{select.get('n_failed', 0)} failed)",
        "",
        table(MODEL_HEADER, rows),
        *yardstick.summary_lines(select),
        "",
    ]
    if sample_rows:
        lines += _sample_lines(sample_rows, reference, evaluation, select.get("by_criterion", {}))
    sentence = evaluation.get("verdict", {}).get("sentence")
    if sentence:
        lines.append(f"  verdict: {sentence}")
    if sample_rows or sentence:
        lines.append("")
    lines += _notes(run_dir, select, evaluation)
    lines += _where(run_dir, show)
    return "\n".join(lines)


def _criterion_rows(
    run_dir: Path, select: dict[str, Any], criterion: str, reference: dict[str, Any]
) -> tuple[list[list[str]], list[list[str]]]:
    """Per criterion, the one in use first: its model's row and (when evaluated) its samples' row, then the floor."""
    sweep = {
        (r["covariance_type"], int(r["n_components"])): r for r in read_csv(F.SELECT.folder(run_dir) / F.SELECT.sweep)
    }
    quality = {r["criterion"]: r for r in read_csv(F.EVALUATE.folder(run_dir) / F.EVALUATE.criteria)}
    rows, sample_rows = [], []
    by_criterion = select.get("by_criterion", {})
    order = list(CRITERION_LABEL)
    for crit in sorted(by_criterion, key=lambda c: (c != criterion, order.index(c) if c in order else len(order))):
        info = by_criterion[crit]
        key = (info["covariance_type"], int(info["n_components"]))
        fit, q = sweep.get(key, {}), quality.get(crit, {})
        label = CRITERION_LABEL.get(crit, crit) + (" (used)" if crit == criterion else "")
        rows.append(
            [
                label,
                f"{key[0]} K={key[1]}",
                str(info.get("status", fit.get("status", ""))),
                fmt(fit.get("bic")),
                fmt(info.get("val_nll_nats", fit.get("val_nll_nats"))),
                fmt(info.get("val_bpp", fit.get("val_bpp")), "bpp"),
                fmt(info.get("test_bpp"), "bpp"),
            ]
        )
        if q:
            sample_rows.append(_quality_row(label, q, reference))
    if sample_rows and reference:
        sample_rows.append(_floor_row(reference))
    return rows, sample_rows


def _quality_row(label: str, q: dict[str, Any], reference: dict[str, Any]) -> list[str]:
    """The sample quality of one criterion's choice (a row of criteria.csv)."""
    return [
        label,
        fmt(q.get("frechet_distance")),
        fmt(q.get("inception_score")),
        fmt(q.get("precision"), "%"),
        fmt(q.get("recall"), "%"),
        ndb(q.get("ndb"), reference.get("ndb_bins")),
        fmt(q.get("copying_c_t")),
        str(q.get("copying_status") or "-"),
    ]


def _floor_row(reference: dict[str, Any]) -> list[str]:
    """The same measures of real digits against real digits: the floor the choices are read against."""
    return [
        "real digits (floor)",
        fmt(reference.get("frechet_floor")),
        fmt(reference.get("inception_score_real")),
        fmt(reference.get("precision_floor"), "%"),
        fmt(reference.get("recall_floor"), "%"),
        ndb(reference.get("ndb_floor"), reference.get("ndb_bins")),
        fmt(reference.get("copying_c_t_floor")),
        "",
    ]


def _sample_lines(
    sample_rows: list[list[str]], reference: dict[str, Any], evaluation: dict[str, Any], by_criterion: dict[str, Any]
) -> list[str]:
    """The sample-quality table, what its columns measure, and the cells that drive each model's C_T."""
    lines = [
        table(SAMPLE_HEADER, sample_rows),
        "  Fréchet, precision, recall and NDB: judge features against the "
        f"{reference.get('frechet_reference_n', '?')} test digits (floor: {reference.get('frechet_n', '?')} "
        "real digits scored the same way);",
        "  C_T: the data-copying test in PCA coordinates, validation digits held out (copying below "
        f"{fmt(reference.get('copying_threshold'))}; floor: unseen real digits).",
    ]
    seen: dict[str, list[str]] = {}  # one line per model: criteria that chose the same model share it
    for crit, detail in evaluation.get("by_criterion", {}).items():
        info = by_criterion.get(crit, {})
        model = f"{info.get('covariance_type')} K={info.get('n_components')}"
        cells = driving_cells(detail.get("quality", {}).get("copying", {}))
        if cells:
            seen.setdefault(f"{model}, most negative cells: {cells}", []).append(CRITERION_LABEL.get(crit, crit))
    return lines + [f"  C_T of {'/'.join(labels)}'s {text}" for text, labels in seen.items()]


def _notes(run_dir: Path, select: dict[str, Any], evaluation: dict[str, Any]) -> list[str]:
    """The judge's accuracy, the anomaly ROC AUCs, and the select stage's warnings."""
    lines, notes = [], []
    clf = read_json(F.CLASSIFIER.folder(run_dir) / F.CLASSIFIER.metrics)
    if clf:
        notes.append(clf.get("skipped") or f"judge CNN {fmt(clf.get('test_accuracy'), '%')} on test digits")
    anomaly = evaluation.get("anomaly", {}).get("corruptions", {})
    if anomaly:
        aucs = ", ".join(f"{k} {v.get('roc_auc', math.nan):.2f}" for k, v in anomaly.items())
        notes.append(f"anomaly ROC AUC: {aucs}")
    if notes:
        lines.append("  " + "; ".join(notes))
    for warning in select.get("warnings", []):
        lines.append(f"  note: {warning[:160]}{'...' if len(warning) > 160 else ''}")
    return lines


def _where(run_dir: Path, show: Callable[[Path], str]) -> list[str]:
    """Where the figures are, and the MLflow run (with its address in ``make ui``)."""
    lines = []
    figures = [show(run_dir / f) for f in FIGURES if (run_dir / f).exists()]
    if figures:
        lines.append(f"  figures: {'  '.join(figures)}  (SVG beside each; all under {show(run_dir)}/<stage>/)")
    run = read_json(F.TRACK.folder(run_dir) / F.TRACK.run)
    if run.get("run_id"):
        where = f"run {run['run_id'][:12]} in experiment '{run.get('experiment')}'"
        if run.get("experiment_id") and str(run.get("tracking_uri", "")).startswith("sqlite:"):
            where += f"; make ui, then {ui_url(run['experiment_id'])}"
        lines.append(f"  MLflow: {where}")
    return lines


def driving_cells(copying: dict[str, Any]) -> str:
    """The cells that drive C_T, most negative Z_U first: 'cell 3 Z_U -9.1 (120 generated, 51 held-out), ...'.

    Adds the share of generated digits in dropped cells when there is one; '' without a copying record.
    """
    cells = [
        f"cell {c['cell']} Z_U {fmt(c['z_u'])} ({c['n_generated']} generated, {c['n_heldout']} held-out)"
        for c in copying.get("driving_cells", [])
    ]
    dropped = number(copying.get("generated_share_dropped"))
    if cells and dropped > 0:
        cells.append(f"{fmt(dropped, '%')} of generated digits in cells dropped (< {copying.get('min_generated')})")
    return ", ".join(cells)


def ui_url(experiment_id: str, port: int = 5000) -> str:
    """The runs table of ``make ui`` in the project's view (see :mod:`gmmgen.tracking.ui`)."""
    return f"http://127.0.0.1:{port}/#/experiments/{experiment_id}/runs?viewStateShareKey=gmmgen"


def main(argv: Sequence[str] | None = None) -> int:
    """``[RUN_DIR]``: print the summary; ``--ui PORT [RUN_DIR]``: print the runs table's address."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["--ui"]:
        port = int(args[1])
        run = read_json(F.TRACK.folder(args[2] if len(args) > 2 else F.OUTPUTS) / F.TRACK.run)
        if run.get("experiment_id"):
            print(f"Runs table, the project's columns: {ui_url(run['experiment_id'], port)}")
        return 0
    print(pipeline_summary(Path(args[0]) if args else Path("outputs")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
