"""Hydra callback that groups the jobs of one multirun under one MLflow run.

On multirun start it creates the store, the experiment and a parent "sweep"
run before any job starts (so parallel jobs never race to create them) and
hands its id to the jobs through the environment. On multirun end it logs a
table comparing the jobs and closes the sweep run: FINISHED when every job's
run finished, FAILED otherwise (KILLED if the multirun itself was interrupted).
"""

from __future__ import annotations

import atexit
import logging
import os
import time
from typing import Any

from hydra.experimental.callback import Callback

log = logging.getLogger(__name__)


class SweepTracking(Callback):
    """Open a parent MLflow run for a multirun and summarise its jobs at the end."""

    def __init__(self) -> None:
        self.run_id: str | None = None
        self.cfg: Any = None

    def on_multirun_start(self, config: Any, **kwargs: Any) -> None:
        if not config.tracking.enabled:
            return
        from gmmgen import tracking

        experiment_id = tracking.ensure_experiment(config)
        sweep_spec = " ".join(config.hydra.overrides.task) or "(none)"
        with tracking.store_lock(config):
            client = tracking._client(config)
            run = client.create_run(
                experiment_id,
                run_name=f"sweep-{time.strftime('%Y%m%d-%H%M%S')}",
                tags={
                    "gmmgen.kind": "sweep",
                    "hydra.sweep": sweep_spec[:5000],
                    "hydra.sweep_dir": str(config.hydra.sweep.dir),
                },
            )
        self.run_id, self.cfg = run.info.run_id, config
        os.environ[tracking.SWEEP_RUN_ENV] = self.run_id
        atexit.register(self._finish, completed=False)
        log.info("MLflow sweep run %s", self.run_id)

    def on_multirun_end(self, config: Any, **kwargs: Any) -> None:
        self._finish(completed=True)

    def _finish(self, completed: bool) -> None:
        """Log the job table and close the sweep run.

        Called at multirun end, or at exit when Hydra stopped early (it raises
        a failed job's error after the batch, and skips on_multirun_end).
        """
        if self.run_id is None:
            return
        import pandas as pd

        from gmmgen import tracking

        run_id, self.run_id = self.run_id, None
        with tracking.store_lock(self.cfg):
            client = tracking._client(self.cfg)
            jobs = client.search_runs(
                [client.get_run(run_id).info.experiment_id],
                filter_string=f"tags.gmmgen.sweep_run_id = '{run_id}'",
                max_results=10_000,
            )
            rows = [
                {
                    "run_id": r.info.run_id,
                    "run_name": r.info.run_name,
                    "status": r.info.status,
                    "job_num": r.data.tags.get("hydra.job_num", ""),
                    "overrides": r.data.tags.get("hydra.overrides", ""),
                    "selected_model": r.data.tags.get("selected_model", ""),
                    "error": r.data.tags.get("error", ""),
                    **{k: r.data.metrics.get(k) for k in ("bic", "aic", "heldout_ll", "n_components")},
                }
                for r in jobs
            ]
            rows.sort(key=lambda row: (row["bic"] is None, row["bic"] or 0.0))
            client.log_text(run_id, pd.DataFrame(rows).to_csv(index=False), "sweep_jobs.csv")
            statuses = [row["status"] for row in rows]
            client.log_metric(run_id, "jobs_finished", statuses.count("FINISHED"))
            client.log_metric(run_id, "jobs_failed", len(statuses) - statuses.count("FINISHED"))
            if rows and rows[0]["bic"] is not None:
                client.log_metric(run_id, "best_bic", rows[0]["bic"])
                client.set_tag(run_id, "best_job", f"{rows[0]['job_num']}: {rows[0]['overrides']}")
            if "KILLED" in statuses or (not completed and "FAILED" not in statuses):
                status = "KILLED"
            elif "FAILED" in statuses or not rows:
                status = "FAILED"
            else:
                status = "FINISHED"
            client.set_terminated(run_id, status)
        os.environ.pop(tracking.SWEEP_RUN_ENV, None)
        log.info("MLflow sweep run %s ended %s", run_id, status)
