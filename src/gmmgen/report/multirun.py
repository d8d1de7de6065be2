"""The summary of a multirun (``make sweep``): one line per finished job, and a table of all jobs at the end.

Read from the jobs' stage folders like :mod:`gmmgen.report.summary`, which
re-exports :func:`job_line` and :func:`sweep_summary`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gmmgen.pipeline import files as F
from gmmgen.report import yardstick
from gmmgen.report.text import fmt, ndb, read_json, table

HEADER = ["job", "overrides", "chosen", "fit", "dims", "val bits/px", "test bits/px"]
HEADER += ["Fréchet (floor)", "IS", "precision", "recall", "NDB", "C_T", "copying", "status"]
"""The columns of :func:`sweep_summary`'s table."""


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
    select = read_json(F.SELECT.folder(job_dir) / F.SELECT.metrics)
    chosen = select.get("chosen", {})
    took = f" ({seconds:.0f} s)" if seconds is not None else ""
    if not chosen:
        return f"job {job_dir.name} [{_job_overrides(job_dir)}]: no result{took}"
    evaluation = read_json(F.EVALUATE.folder(job_dir) / F.EVALUATE.metrics)
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
    rows, candidates, datasets, why = [], [], set(), []
    for job in jobs:
        row, candidate, reason = _job_row(job, outcomes)
        rows.append(row)
        why += [reason] if reason else []
        if candidate is not None:
            candidates.append(candidate)
            datasets.add(read_json(F.DATA.folder(job) / F.DATA.provenance).get("dataset_sha256"))
    failed = sum(r[-1] == "failed" for r in rows)
    killed = sum(r[-1] == "killed" for r in rows)
    named = name_bests(candidates, likelihood_key="val_bpp")
    counts = f"{len(rows)} jobs, {len(rows) - failed - killed} finished, {failed} failed"
    lines = [
        f"gmmgen sweep summary: {counts}" + (f", {killed} killed" if killed else ""),
        "",
        table(HEADER, rows),
        *([""] + why if why else []),
        "",
        f"  verdict: {named['sentence']}",
    ]
    lines += yardstick.sweep_caveat({read_json(F.REDUCE.folder(j) / F.REDUCE.metrics).get("n_dims_kept") for j in jobs})
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


def _job_row(job: Path, outcomes: dict[str, tuple[str, str]]) -> tuple[list[str], dict[str, Any] | None, str]:
    """A job's row of the table, its entry for :func:`gmmgen.core.verdict.name_bests` (None when it did not
    finish with a choice), and the line saying why it did not finish ("" when it did)."""
    select = read_json(F.SELECT.folder(job) / F.SELECT.metrics)
    chosen = select.get("chosen", {})
    red = read_json(F.REDUCE.folder(job) / F.REDUCE.metrics)
    evaluation = read_json(F.EVALUATE.folder(job) / F.EVALUATE.metrics)
    ev, ref = evaluation.get("selected", {}), evaluation.get("reference", {})
    status = "ok" if chosen else "failed"
    if chosen and select.get("warnings"):
        status = f"ok, {len(select['warnings'])} note(s)"
    run_status, error = outcomes.get(job.name, ("", ""))
    why = ""
    if run_status and run_status != "FINISHED":
        status = run_status.lower()
        why = f"  job {job.name} {run_status}: {' '.join((error or 'no error recorded').split())[:300]}"
    floor = f" ({fmt(ref.get('frechet_floor'))})" if ref else ""
    row = [
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
        ndb(ev.get("ndb"), ref.get("ndb_bins")),
        fmt(ev.get("copying_c_t")),
        str(ev.get("copying_status", "-")),
        status,
    ]
    if not chosen or status in ("killed", "failed"):
        return row, None, why
    candidate = {
        "name": f"job {job.name} [{_job_overrides(job)}]",
        "fit_status": chosen.get("status"),
        "copying_status": ev.get("copying_status"),
        "val_bpp": chosen.get("val_bpp"),
        "frechet_distance": ev.get("frechet_distance"),
    }
    return row, candidate, why
