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
        atexit.register(self._close, "KILLED")
        log.info("MLflow sweep run %s", self.run_id)

    def on_multirun_end(self, config: Any, **kwargs: Any) -> None:
        if self.run_id is None:
            return
        from gmmgen import tracking

        with tracking.store_lock(config):
            client = tracking._client(config)
            jobs = client.search_runs(
                [client.get_run(self.run_id).info.experiment_id],
                filter_string=f"tags.gmmgen.sweep_run_id = '{self.run_id}'",
                max_results=10_000,
            )
            rows = []
            for r in jobs:
                rows.append(
                    {
                        "run_id": r.info.run_id,
                        "run_name": r.info.run_name,
                        "status": r.info.status,
                        "job_num": r.data.tags.get("hydra.job_num", ""),
                        "overrides": r.data.tags.get("hydra.overrides", ""),
                        "selected_model": r.data.tags.get("selected_model", ""),
                        **{k: r.data.metrics.get(k) for k in ("bic", "aic", "heldout_ll", "n_components")},
                    }
                )
            rows.sort(key=lambda row: (row["bic"] is None, row["bic"] or 0.0))
            import pandas as pd

            table = pd.DataFrame(rows)
            client.log_text(self.run_id, table.to_csv(index=False), "sweep_jobs.csv")
            failed = sum(row["status"] != "FINISHED" for row in rows)
            client.log_metric(self.run_id, "jobs_finished", len(rows) - failed)
            client.log_metric(self.run_id, "jobs_failed", failed)
            if rows and rows[0]["bic"] is not None:
                client.log_metric(self.run_id, "best_bic", rows[0]["bic"])
                client.set_tag(self.run_id, "best_job", f"{rows[0]['job_num']}: {rows[0]['overrides']}")
        self._close("FAILED" if failed or not rows else "FINISHED")

    def _close(self, status: str) -> None:
        if self.run_id is None:
            return
        from gmmgen import tracking

        run_id, self.run_id = self.run_id, None
        with tracking.store_lock(self.cfg):
            tracking._client(self.cfg).set_terminated(run_id, status)
        os.environ.pop(tracking.SWEEP_RUN_ENV, None)
        log.info("MLflow sweep run %s ended %s", run_id, status)
