"""Hydra callbacks: checks before Hydra writes anything, and one MLflow run grouping a multirun's jobs.

:class:`EarlyChecks` runs before Hydra saves the job's config and log
(``.hydra/*.yaml``): a config error, or a credential in any value or
override, stops the program there, so no file ever holds the credential.
:class:`SweepTracking` groups the jobs of one multirun under one MLflow run.

On multirun start it creates the store, the experiment and a parent "sweep"
run before any job starts (so parallel jobs never race to create them) and
hands its id to the jobs through the environment. On multirun end it logs a
table comparing the jobs and closes the sweep run: FINISHED when every job's
run finished, FAILED otherwise (KILLED if the multirun itself was interrupted).

Jobs are ranked by the pixel-space validation likelihood of their chosen
model (``val_bpp``, bits per pixel, lower is better): the one number that
compares runs with different PCA settings, component counts or covariance
types, as long as they score the same validation digits (same data settings,
see :func:`rank_jobs`). BIC, AIC and the PCA-space log-likelihoods live in
each job's own PCA coordinates and are shown for reading within a job only.
The job named best (``best_job``) is the best-ranked one that is neither
degenerate nor copying; ``best_job_samples`` is the one with the lowest
Fréchet distance among those; the tag ``verdict`` says, in one sentence,
whether the two agree (:func:`gmmgen.core.verdict.name_bests`). The sweep run
carries the best job's numbers and verdict tags under the job runs' names, so
its row in the runs table is not a row of dashes.
"""

from __future__ import annotations

import atexit
import logging
import os
import time
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback

log = logging.getLogger(__name__)

COMPARABLE = (
    "val_bpp and val_nll_nats (pixel space, validation digits) compare jobs on the same digits; "
    "bic, aic and train_ll live in each job's PCA coordinates and compare fits within one job only"
)


def rank_jobs(rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], str]:
    """Sort job rows by ``val_bpp`` (missing last), number them, and say whether they are comparable.

    Each row needs ``val_bpp`` (float or None) and ``data_sha256`` (the dataset the
    job scored). Returns the sorted rows, each with ``rank`` (1 = best, empty for
    a job without a likelihood), and a note: comparable when every ranked job
    scored the same dataset, otherwise which datasets differ.
    """

    def missing(v: Any) -> bool:
        return v is None or v != v

    ordered = sorted(rows, key=lambda r: (missing(r["val_bpp"]), 0.0 if missing(r["val_bpp"]) else r["val_bpp"]))
    rank = 0
    for row in ordered:
        if missing(row["val_bpp"]):
            row["rank"] = ""
        else:
            rank += 1
            row["rank"] = rank
    datasets = {r["data_sha256"] for r in ordered if not missing(r["val_bpp"])}
    if len(datasets) <= 1:
        note = "comparable: every ranked job scored the same validation digits"
    else:
        note = (
            f"NOT comparable: the jobs scored {len(datasets)} different datasets (data settings or seeds differ), "
            "so their validation likelihoods are on different digits"
        )
    return ordered, note


JOB_METRICS = (
    "val_bpp",
    "val_nll_nats",
    "test_bpp",
    "test_nll_nats",
    "n_components",
    "frechet_distance",
    "frechet_floor",
    "precision",
    "recall",
    "ndb_share",
    "copying_c_t",
)
"""The job run's metrics in the sweep's table (``sweep_jobs.csv``), beside its tags."""


def job_name(row: dict[str, Any]) -> str:
    """How the sweep's tags name a job: ``<job number>: <overrides>``."""
    return f"{row['job_num']}: {row['overrides']}"


def name_jobs(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The likelihood's and the sample-quality best among the finished jobs (:func:`gmmgen.core.verdict.name_bests`).

    A job whose chosen model is degenerate (``selected_status``) or copying
    (``copying_status``) is never named; jobs without a likelihood or a Fréchet
    distance are left out of that ranking.
    """
    from gmmgen.core.verdict import name_bests

    candidates = [
        {
            "name": job_name(r),
            "fit_status": r.get("selected_status"),
            "copying_status": r.get("copying_status"),
            "val_bpp": r.get("val_bpp"),
            "frechet_distance": r.get("frechet_distance"),
        }
        for r in rows
        if r.get("status") == "FINISHED"
    ]
    return name_bests(candidates, likelihood_key="val_bpp")


class EarlyChecks(Callback):
    """Validate before Hydra writes the job's folder; reject credentials before they reach any file."""

    def on_run_start(self, config: Any, **kwargs: Any) -> None:
        from gmmgen.runtime.validation import iter_problems

        for problem in iter_problems(config):
            _stop(problem)
        self._overrides(config)

    def on_multirun_start(self, config: Any, **kwargs: Any) -> None:
        # Only credentials here: a sweep override may mend a base value, and each job validates its own config.
        from gmmgen.runtime.validation import iter_problems

        for problem in iter_problems(config):
            if "credentials do not belong" in problem:
                _stop(problem)
        self._overrides(config)

    @staticmethod
    def _overrides(config: Any) -> None:
        from gmmgen.redact import credentials_in, redact

        for override in config.hydra.overrides.task:
            if credentials_in(str(override)):
                _stop(
                    f"{redact(str(override))}: credentials do not belong on the command line (they would be "
                    "written to Hydra's saved configs, logs and MLflow); pass them through the environment "
                    "(MLFLOW_TRACKING_USERNAME/PASSWORD or MLFLOW_TRACKING_TOKEN, PGPASSWORD) or ~/.netrc, ~/.pgpass"
                )


def _stop(problem: str) -> None:
    """Exit with the config-error status (a SystemExit, which Hydra's callback runner lets through)."""
    from gmmgen.runtime.cli import EXIT_CONFIG, fail

    fail(f"config error: {problem}", EXIT_CONFIG)


class SweepTracking(Callback):
    """Open a parent MLflow run for a multirun and summarise its jobs at the end."""

    def __init__(self) -> None:
        self.run_id: str | None = None
        self.cfg: Any = None
        self.sweep_dir: Path | None = None
        self.outcomes: dict[str, tuple[str, str]] = {}

    def on_multirun_start(self, config: Any, **kwargs: Any) -> None:
        if not config.tracking.enabled:
            return
        from gmmgen.tracking import log as tracking

        experiment_id = tracking.ensure_experiment(config)
        from gmmgen.redact import redact

        sweep_spec = redact(" ".join(config.hydra.overrides.task)) or "(none)"
        with tracking.store_lock(config), tracking.signals_deferred():
            client = tracking._client(config)
            tracking.end_orphans(config, client)
            run = client.create_run(
                experiment_id,
                run_name=f"sweep-{time.strftime('%Y%m%d-%H%M%S')}",
                tags={
                    "gmmgen.kind": "sweep",
                    "hydra.sweep": sweep_spec[:5000],
                    "hydra.sweep_dir": str(config.hydra.sweep.dir),
                    "mlflow.source.name": "pipelines/run_all.py -m",
                    "mlflow.source.type": "LOCAL",
                    "mlflow.note.content": f"Hydra multirun over {sweep_spec}"[:5000],
                    **tracking.git_state(Path(config.paths.root)),
                    **tracking.process_tags(config),
                },
            )
        self.run_id, self.cfg = run.info.run_id, config
        self.sweep_dir = Path(str(config.hydra.sweep.dir))
        os.environ[tracking.SWEEP_RUN_ENV] = self.run_id
        atexit.register(self._finish, completed=False)
        log.info("MLflow sweep run %s", self.run_id)

    def on_multirun_end(self, config: Any, **kwargs: Any) -> None:
        self._finish(completed=True)
        from gmmgen.report.summary import sweep_summary

        sweep_dir = Path(str(config.hydra.sweep.dir))
        if sweep_dir.is_dir():
            print("\n" + sweep_summary(sweep_dir, self.outcomes), flush=True)

    def _finish(self, completed: bool) -> None:
        """Log the job table and close the sweep run.

        Called at multirun end, or at exit when Hydra stopped early (it raises
        a failed job's error after the batch, and skips on_multirun_end); then
        the sweep summary is printed here, with why each job did not finish.
        A job that ran under SLURM (tag ``slurm.job_id``) and did not finish
        gets the scheduler's word on it too (``sacct``: ``CANCELLED by 0``,
        ``TIMEOUT``...), in its ``error`` and as its tag ``slurm.state``.
        """
        if self.run_id is None:
            return
        from gmmgen.tracking import log as tracking

        run_id, self.run_id = self.run_id, None
        with tracking.store_lock(self.cfg), tracking.signals_deferred():
            client = tracking._client(self.cfg)
            jobs = client.search_runs(
                [client.get_run(run_id).info.experiment_id],
                filter_string=f"tags.gmmgen.sweep_run_id = '{run_id}'",
                max_results=10_000,
            )
            scheduler = _scheduler_states(jobs)
            errors, killed = _close_left_running(client, jobs, scheduler)
            rows, note = rank_jobs(_job_rows(jobs, errors, killed))
            status = _log_job_table(client, run_id, rows, note, completed)
            client.set_terminated(run_id, status)
        os.environ.pop(tracking.SWEEP_RUN_ENV, None)
        log.info("MLflow sweep run %s ended %s", run_id, status)
        self.outcomes = {str(r["job_num"]): (r["status"], str(r["error"])) for r in rows if r["job_num"] != ""}
        # Stopped early because a job failed (not by Ctrl-C, which says one line): which job and why.
        stopped_by_a_job = any(
            row["status"] == "FAILED"
            or (
                row["status"] == "KILLED"
                and scheduler.get(row["run_id"])
                and not _still_running(scheduler[row["run_id"]])
            )
            for row in rows
        )
        if not completed and stopped_by_a_job and self.sweep_dir is not None and self.sweep_dir.is_dir():
            from gmmgen.report.summary import sweep_summary

            print("\n" + sweep_summary(self.sweep_dir, self.outcomes), flush=True)


def _close_left_running(client: Any, jobs: list, scheduler: dict[str, str]) -> tuple[dict[str, str], set[str]]:
    """End KILLED every job run left RUNNING; return each job's error text (run id -> text) and the killed ids.

    The multirun is over, so no job is still running here: a job run left
    RUNNING (its worker was stopped before it could close it) ends KILLED,
    with its fits. Under SLURM the job itself may still run (the sweep was
    stopped): the error says so, and every job's ``slurm.state`` tag records
    the scheduler's word.
    """
    errors = {r.info.run_id: r.data.tags.get("error", "") for r in jobs}
    killed: set[str] = set()
    for job in jobs:
        run, slurm = job.info.run_id, job.data.tags.get("slurm.job_id", "")
        state = scheduler.get(run, "")
        if job.info.status == "RUNNING":
            if not state:
                errors[run] = "the multirun stopped before this job closed its run (interrupted)"
            elif _still_running(state):
                errors[run] = (
                    f"the multirun stopped before this job closed its run; SLURM job {slurm} is still "
                    f"{state} (scancel {slurm} stops it)"
                )
            else:
                errors[run] = f"SLURM job {slurm} ended {state} before it closed its run"
            _end_killed(client, job.info.experiment_id, run, errors[run])
            killed.add(run)
        elif state:
            errors[run] = f"{errors[run] or 'no error recorded'}; SLURM job {slurm} ended {state}"
        if state:
            client.set_tag(run, "slurm.state", state)
    return errors, killed


def _job_rows(jobs: list, errors: dict[str, str], killed: set[str]) -> list[dict[str, Any]]:
    """One row of the sweep's job table per job run (status, overrides, choice, verdicts, metrics, error)."""
    return [
        {
            "run_id": r.info.run_id,
            "run_name": r.info.run_name,
            "status": "KILLED" if r.info.run_id in killed else r.info.status,
            "job_num": r.data.tags.get("hydra.job_num", ""),
            "overrides": r.data.tags.get("hydra.overrides", ""),
            "selected_model": r.data.tags.get("selected_model", ""),
            "selected_status": r.data.tags.get("selected_status", ""),
            "copying_status": r.data.tags.get("copying_status", ""),
            "data_sha256": r.data.tags.get("data.sha256", ""),
            "slurm_job_id": r.data.tags.get("slurm.job_id", ""),
            "error": errors[r.info.run_id],
            **{k: r.data.metrics.get(k) for k in JOB_METRICS},
            # In the job's own PCA coordinates: compare within a job, never across jobs.
            "bic_within_job": r.data.metrics.get("bic"),
        }
        for r in jobs
    ]


def _log_job_table(client: Any, run_id: str, rows: list[dict[str, Any]], note: str, completed: bool) -> str:
    """Log the ranked job table, counts, best jobs and verdict to the sweep run; return the status it ends with."""
    import pandas as pd

    from gmmgen.tracking import ui as mlflow_ui

    columns = ["rank", *(k for k in (rows[0] if rows else {}) if k != "rank")]
    table = pd.DataFrame(rows, columns=columns) if rows else pd.DataFrame(columns=["rank"])
    client.log_text(run_id, table.to_csv(index=False), "sweep_jobs.csv")
    statuses = [row["status"] for row in rows]
    client.log_metric(run_id, "jobs_finished", statuses.count("FINISHED"))
    client.log_metric(run_id, "jobs_failed", len(statuses) - statuses.count("FINISHED"))
    client.set_tag(run_id, "ranked_by", "val_bpp: pixel-space validation bits/pixel, lower is better")
    client.set_tag(run_id, "comparable", f"{note}. {COMPARABLE}")
    named = name_jobs(rows)
    by_name = {job_name(r): r for r in rows}
    if named["likelihood_best"]:
        client.log_metric(run_id, "best_val_bpp", by_name[named["likelihood_best"]]["val_bpp"])
        client.set_tag(run_id, "best_job", named["likelihood_best"])
        mlflow_ui.show_best_job(client, run_id, by_name[named["likelihood_best"]], JOB_METRICS)
    if named["sample_best"]:
        client.log_metric(run_id, "best_frechet_distance", by_name[named["sample_best"]]["frechet_distance"])
        client.set_tag(run_id, "best_job_samples", named["sample_best"])
    client.set_tag(run_id, "verdict", named["sentence"][:5000])
    if "KILLED" in statuses or (not completed and "FAILED" not in statuses):
        return "KILLED"
    if "FAILED" in statuses or not rows:
        return "FAILED"
    return "FINISHED"


#: Seconds the sweep waits at most for SLURM to see the end of a job whose run is closed (its process exits).
SCHEDULER_WAIT = 10.0


def _still_running(state: str) -> bool:
    """True for a SLURM state of a job that has not ended (PENDING, RUNNING, COMPLETING, SUSPENDED...)."""
    return state.split(" ")[0] in (
        "PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "REQUEUED", "RESIZING", "SUSPENDED"
    )  # fmt: skip


def _scheduler_states(jobs: list[Any]) -> dict[str, str]:
    """Run id -> SLURM's state (``sacct``) of each job run that ran under SLURM and did not finish.

    The state reads as sacct prints it: ``CANCELLED by 0``, ``TIMEOUT``,
    ``OUT_OF_MEMORY``, or ``RUNNING`` for a job whose run is still open
    (the sweep stopped before it). A job whose run is closed is still exiting
    for a moment: its state is awaited for at most :data:`SCHEDULER_WAIT`
    seconds, and left out if SLURM has not seen it end by then. Left out as
    well: a job SLURM saw COMPLETED (its process raised and exited normally:
    its own error says it all) and one sacct does not know. Every sacct call
    has a timeout, so this never blocks longer.
    """
    from gmmgen.tracking.cluster import job_states

    wanted = {
        r.info.run_id: r.data.tags["slurm.job_id"]
        for r in jobs
        if r.info.status != "FINISHED" and r.data.tags.get("slurm.job_id")
    }
    closed = {wanted[r.info.run_id] for r in jobs if r.info.run_id in wanted and r.info.status != "RUNNING"}
    if not wanted:
        return {}
    ids = sorted(set(wanted.values()))
    deadline = time.monotonic() + SCHEDULER_WAIT
    states = job_states(None, ids)
    while states and any(_still_running(states.get(j, "")) for j in closed) and time.monotonic() < deadline:
        time.sleep(0.5)
        states = job_states(None, ids)
    known = {
        job: state
        for job, state in states.items()
        if state and not state.startswith("COMPLETED") and not (job in closed and _still_running(state))
    }
    return {run: known[job] for run, job in wanted.items() if job in known}


def _end_killed(client: Any, experiment_id: str, run_id: str, error: str) -> None:
    """End a job's run left RUNNING, and its RUNNING fit runs, as KILLED, with ``error`` as its tag."""
    children = client.search_runs(
        [experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{run_id}' and attributes.status = 'RUNNING'",
        max_results=10_000,
    )
    for child in children:
        client.set_terminated(child.info.run_id, "KILLED")
    client.set_tag(run_id, "error", error)
    client.set_terminated(run_id, "KILLED")
