"""The short summary printed at the end of ``make run`` and ``make sweep``, read from the stage folders.

What was chosen, by which criterion, the headline numbers and where the
figures are. Plain text from the files the stages wrote (no MLflow, no
TensorFlow), so it also works when DVC served every stage from its cache.
Full detail stays in the folders and the log files.

  python -m gmmgen.report.summary [RUN_DIR]          (default: outputs)
  python -m gmmgen.report.summary --ui PORT [RUN_DIR]   (the MLflow runs table's address)
"""

from __future__ import annotations

import csv
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gmmgen.pipeline import files as F
from gmmgen.report import yardstick

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


def _json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _csv(path: Path) -> list[dict[str, str]]:
    try:
        with open(path, newline="") as fh:
            return list(csv.DictReader(fh))
    except OSError:
        return []


def _num(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def fmt(value: Any, kind: str = "") -> str:
    """A number as the summary shows it: thousands separated, percentages, '-' for missing."""
    v = _num(value)
    if math.isnan(v):
        return "-"
    if kind == "%":
        return f"{100 * v:.1f}%"
    if kind == "bpp":
        return f"{v:.4f}"
    if abs(v) >= 1e6:
        return f"{v:.3g}"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def table(header: Sequence[str], rows: Sequence[Sequence[str]], indent: str = "  ") -> str:
    """Columns padded to their widest cell; the first column left-aligned, the others right-aligned."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        parts = [
            str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return (indent + "  ".join(parts)).rstrip()

    return "\n".join([line(header), *(line(r) for r in rows)])


def _describe_data(run_dir: Path) -> str:
    prov = _json(F.DATA.folder(run_dir) / F.DATA.provenance)
    red = _json(F.REDUCE.folder(run_dir) / F.REDUCE.metrics)
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

    select = _json(F.SELECT.folder(run_dir) / F.SELECT.metrics)
    if not select:
        return f"gmmgen: no results under {show(run_dir)} yet (the select stage has not run)"
    criterion = select.get("criterion", "bic")
    sweep = {(r["covariance_type"], int(r["n_components"])): r for r in _csv(F.SELECT.folder(run_dir) / F.SELECT.sweep)}
    quality = {r["criterion"]: r for r in _csv(F.EVALUATE.folder(run_dir) / F.EVALUATE.criteria)}
    evaluation = _json(F.EVALUATE.folder(run_dir) / F.EVALUATE.metrics)
    reference = evaluation.get("reference", {})

    header = ["chosen by", "model", "fit", "BIC", "val NLL", "val bits/px", "test bits/px"]
    sample_header = ["chosen by", "Fréchet", "IS", "precision", "recall", "NDB", "C_T", "copying"]
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
            sample_rows.append(
                [
                    label,
                    fmt(q.get("frechet_distance")),
                    fmt(q.get("inception_score")),
                    fmt(q.get("precision"), "%"),
                    fmt(q.get("recall"), "%"),
                    _ndb(q.get("ndb"), reference.get("ndb_bins")),
                    fmt(q.get("copying_c_t")),
                    str(q.get("copying_status") or "-"),
                ]
            )
    if sample_rows and reference:
        sample_rows.append(
            [
                "real digits (floor)",
                fmt(reference.get("frechet_floor")),
                fmt(reference.get("inception_score_real")),
                fmt(reference.get("precision_floor"), "%"),
                fmt(reference.get("recall_floor"), "%"),
                _ndb(reference.get("ndb_floor"), reference.get("ndb_bins")),
                fmt(reference.get("copying_c_t_floor")),
                "",
            ]
        )
    chosen = select.get("chosen", {})
    lines = [
        f"gmmgen summary: {_describe_data(run_dir)}",
        f"  chosen: {chosen.get('covariance_type')} K={chosen.get('n_components')} by "
        f"{CRITERION_LABEL.get(criterion, criterion)} (sweep.criterion={criterion}; "
        f"{select.get('n_fits', '?')} fits, {select.get('n_degenerate_fits', 0)} degenerate, "
        f"{select.get('n_failed', 0)} failed)",
        "",
        table(header, rows),
        *yardstick.summary_lines(select),
        "",
    ]
    if sample_rows:
        lines += [
            table(sample_header, sample_rows),
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
        lines += [f"  C_T of {'/'.join(labels)}'s {text}" for text, labels in seen.items()]
    sentence = evaluation.get("verdict", {}).get("sentence")
    if sentence:
        lines.append(f"  verdict: {sentence}")
    if sample_rows or sentence:
        lines.append("")
    notes = []
    clf = _json(F.CLASSIFIER.folder(run_dir) / F.CLASSIFIER.metrics)
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
    figures = [show(run_dir / f) for f in FIGURES if (run_dir / f).exists()]
    if figures:
        lines.append(f"  figures: {'  '.join(figures)}  (SVG beside each; all under {show(run_dir)}/<stage>/)")
    run = _json(F.TRACK.folder(run_dir) / F.TRACK.run)
    if run.get("run_id"):
        where = f"run {run['run_id'][:12]} in experiment '{run.get('experiment')}'"
        if run.get("experiment_id") and str(run.get("tracking_uri", "")).startswith("sqlite:"):
            where += f"; make ui, then {ui_url(run['experiment_id'])}"
        lines.append(f"  MLflow: {where}")
    return "\n".join(lines)


def driving_cells(copying: dict[str, Any]) -> str:
    """The cells that drive C_T, most negative Z_U first: 'cell 3 Z_U -9.1 (120 generated, 51 held-out), ...'.

    Adds the share of generated digits in dropped cells when there is one; '' without a copying record.
    """
    cells = [
        f"cell {c['cell']} Z_U {fmt(c['z_u'])} ({c['n_generated']} generated, {c['n_heldout']} held-out)"
        for c in copying.get("driving_cells", [])
    ]
    dropped = _num(copying.get("generated_share_dropped"))
    if cells and dropped > 0:
        cells.append(f"{fmt(dropped, '%')} of generated digits in cells dropped (< {copying.get('min_generated')})")
    return ", ".join(cells)


def _ndb(different: Any, bins: Any) -> str:
    """NDB as 'different/K' (statistically different bins of K), '-' when missing."""
    d, k = _num(different), _num(bins)
    return "-" if math.isnan(d) else f"{d:.0f}/{k:.0f}" if not math.isnan(k) else f"{d:.0f}"


def ui_url(experiment_id: str, port: int = 5000) -> str:
    """The runs table of ``make ui`` in the project's view (see :mod:`gmmgen.tracking.ui`)."""
    return f"http://127.0.0.1:{port}/#/experiments/{experiment_id}/runs?viewStateShareKey=gmmgen"


def _job_overrides(job_dir: Path) -> str:
    path = job_dir / ".hydra" / "overrides.yaml"
    try:
        items = [line.strip()[2:] for line in path.read_text().splitlines() if line.strip().startswith("- ")]
    except OSError:
        return "?"
    return " ".join(i for i in items if not i.startswith("hydra/launcher")) or "(defaults)"


def job_line(job_dir: str | Path, seconds: float | None = None) -> str:
    """One line for a finished multirun job: its overrides, the choice, the held-out likelihood, the copying test."""
    job_dir = Path(job_dir)
    select = _json(F.SELECT.folder(job_dir) / F.SELECT.metrics)
    chosen = select.get("chosen", {})
    took = f" ({seconds:.0f} s)" if seconds is not None else ""
    if not chosen:
        return f"job {job_dir.name} [{_job_overrides(job_dir)}]: no result{took}"
    evaluation = _json(F.EVALUATE.folder(job_dir) / F.EVALUATE.metrics)
    ev = evaluation.get("selected", {})
    quality = ""
    if ev:
        quality = f", FD {fmt(ev.get('frechet_distance'))}, C_T {fmt(ev.get('copying_c_t'))}"
        quality += f": {ev.get('copying_status')}"
        copying = evaluation.get("by_criterion", {}).get(select.get("criterion"), {}).get("quality", {})
        worst = copying.get("copying", {}).get("driving_cells", [])[:1]
        quality += f" (most negative: cell {worst[0]['cell']}, Z_U {fmt(worst[0]['z_u'])})" if worst else ""
    return (
        f"job {job_dir.name} [{_job_overrides(job_dir)}]: {chosen.get('covariance_type')} "
        f"K={chosen.get('n_components')} by {select.get('criterion')} ({chosen.get('status', '?')}), "
        f"validation {fmt(chosen.get('val_bpp'), 'bpp')} bits/pixel{quality}{took}"
    )


def sweep_summary(sweep_dir: str | Path, outcomes: dict[str, tuple[str, str]] | None = None) -> str:
    """A table of the jobs of the multirun in ``sweep_dir``, in job order, the best jobs named, and where files are.

    Per job: its choice and fit status, validation and test bits/pixel, and (when
    its evaluate stage ran) Fréchet distance with its floor, precision, recall,
    NDB and the copying test. The jobs named best: :func:`gmmgen.core.verdict.name_bests`
    (never a copying or degenerate job, nor one that did not finish).

    ``outcomes`` maps a job number (``"0"``) to its MLflow run's status
    (``FINISHED``, ``FAILED``, ``KILLED``) and error (one line, "" when none),
    as the sweep's run gathered them: the status column then shows them, and
    each job that did not finish gets a line below the table saying why. A
    job with an outcome but no folder (stopped before it started) is listed too.
    """
    from gmmgen.core.verdict import name_bests

    sweep_dir = Path(sweep_dir)
    outcomes = outcomes or {}
    folders = {p.name: p for p in sweep_dir.iterdir() if p.is_dir() and p.name.isdigit()}
    jobs = [folders.get(number, sweep_dir / number) for number in sorted(set(folders) | set(outcomes), key=int)]
    header = ["job", "overrides", "chosen", "fit", "dims", "val bits/px", "test bits/px"]
    header += ["Fréchet (floor)", "IS", "precision", "recall", "NDB", "C_T", "copying", "status"]
    rows, candidates, datasets, why = [], [], set(), []
    for job in jobs:
        select = _json(F.SELECT.folder(job) / F.SELECT.metrics)
        chosen = select.get("chosen", {})
        red = _json(F.REDUCE.folder(job) / F.REDUCE.metrics)
        evaluation = _json(F.EVALUATE.folder(job) / F.EVALUATE.metrics)
        ev, ref = evaluation.get("selected", {}), evaluation.get("reference", {})
        status = "ok" if chosen else "failed"
        if chosen and select.get("warnings"):
            status = f"ok, {len(select['warnings'])} note(s)"
        run_status, error = outcomes.get(job.name, ("", ""))
        if run_status and run_status != "FINISHED":
            status = run_status.lower()
            why.append(f"  job {job.name} {run_status}: {' '.join((error or 'no error recorded').split())[:300]}")
        floor = f" ({fmt(ref.get('frechet_floor'))})" if ref else ""
        rows.append(
            [
                job.name,
                _job_overrides(job),
                f"{chosen.get('covariance_type')} K={chosen.get('n_components')}" if chosen else "-",
                str(chosen.get("status", "-")),
                str(red.get("n_dims_kept", "-")),
                fmt(chosen.get("val_bpp"), "bpp"),
                fmt(chosen.get("test_bpp"), "bpp"),
                fmt(ev.get("frechet_distance")) + floor,
                fmt(ev.get("inception_score")),
                fmt(ev.get("precision"), "%"),
                fmt(ev.get("recall"), "%"),
                _ndb(ev.get("ndb"), ref.get("ndb_bins")),
                fmt(ev.get("copying_c_t")),
                str(ev.get("copying_status", "-")),
                status,
            ]
        )
        if chosen and status not in ("killed", "failed"):
            candidates.append(
                {
                    "name": f"job {job.name} [{_job_overrides(job)}]",
                    "fit_status": chosen.get("status"),
                    "copying_status": ev.get("copying_status"),
                    "val_bpp": chosen.get("val_bpp"),
                    "frechet_distance": ev.get("frechet_distance"),
                }
            )
            datasets.add(_json(F.DATA.folder(job) / F.DATA.provenance).get("dataset_sha256"))
    failed = sum(r[-1] == "failed" for r in rows)
    killed = sum(r[-1] == "killed" for r in rows)
    named = name_bests(candidates, likelihood_key="val_bpp")
    counts = f"{len(rows)} jobs, {len(rows) - failed - killed} finished, {failed} failed"
    lines = [
        f"gmmgen sweep summary: {counts}" + (f", {killed} killed" if killed else ""),
        "",
        table(header, rows),
        *([""] + why if why else []),
        "",
        f"  verdict: {named['sentence']}",
    ]
    lines += yardstick.sweep_caveat({_json(F.REDUCE.folder(j) / F.REDUCE.metrics).get("n_dims_kept") for j in jobs})
    if len(datasets) > 1:
        lines.append(
            f"  the jobs scored {len(datasets)} different datasets (data settings or seeds differ): their "
            "likelihoods are on different digits and do not compare"
        )
    return "\n".join(
        [
            *lines,
            f"  {yardstick.COMPARES} Jobs compare only on the same digits. Fréchet, precision, recall and NDB: "
            "judge features against the test digits; C_T: the data-copying test (copying below the threshold).",
            f"  files: {sweep_dir}/<job>/ (stage folders, figures; the job's log in <job>/run_all.log)",
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    """``[RUN_DIR]``: print the summary; ``--ui PORT [RUN_DIR]``: print the runs table's address."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["--ui"]:
        port = int(args[1])
        run = _json(F.TRACK.folder(args[2] if len(args) > 2 else F.OUTPUTS) / F.TRACK.run)
        if run.get("experiment_id"):
            print(f"Runs table, the project's columns: {ui_url(run['experiment_id'], port)}")
        return 0
    print(pipeline_summary(Path(args[0]) if args else Path("outputs")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
