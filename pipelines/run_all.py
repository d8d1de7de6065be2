"""The whole pipeline for one config, in one process: data, reduce, select, generate, track.

Made for Hydra multirun: each job writes every stage folder into its own job
folder and logs its own MLflow run, nested under the sweep's run.
  python pipelines/run_all.py -m pca.variance=0.8,0.85,0.9 sweep.covariance_types=[full],[diag]
  python pipelines/run_all.py -m hydra/launcher=parallel seed=0,1,2,3
"""

# isort: off
import gmmgen.runtime.startup  # noqa: F401  first: a Ctrl-C while the libraries import exits 130 with one line

# isort: on
import time
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode

from gmmgen.core.io import read_json
from gmmgen.pipeline import config
from gmmgen.pipeline import files as F
from gmmgen.pipeline.runner import run_all as run_stages
from gmmgen.report import summary
from gmmgen.runtime import cli, console

config.register_configs()


def _banner(fn) -> None:
    console.banner(fn.__name__.removeprefix("run_"), console.describe(fn))


def run_all(cfg) -> float:
    hc = HydraConfig.get()
    multirun = hc.mode == RunMode.MULTIRUN
    if multirun:  # paths.run_dir is this job's own folder (gmmgen.run_dir: Hydra's runtime.output_dir)
        console.job_console_off()  # parallel jobs write their own log files; one line each here
    run_dir = Path(cfg.paths.run_dir)
    overrides = list(hc.overrides.task)
    start = time.perf_counter()
    if not cfg.tracking.enabled:
        run_stages(cfg, announce=_banner)
    else:
        from gmmgen.tracking import log as tracking

        tags = {"hydra.overrides": " ".join(overrides)[:5000] or "(none)"}
        if multirun:
            tags["hydra.job_num"] = str(hc.job.num)
        with tracking.pipeline_run(cfg, tags, source="pipelines/run_all.py") as run_id:
            run_stages(cfg, announce=_banner)
            # A sweep job never moves the served alias; it registers only if the config asks.
            logged = tracking.log_pipeline(cfg, run_id, run_dir, overrides, register=bool(cfg.tracking.register_sweeps))
        # Registered only now that the run ended FINISHED.
        tracking.register_and_settle(cfg, logged, "a run of pipelines/run_all.py (a sweep job)")
    if multirun:
        print(summary.job_line(run_dir, time.perf_counter() - start), flush=True)
    else:
        print("\n" + summary.pipeline_summary(run_dir), flush=True)
    chosen = read_json(F.SELECT.folder(run_dir) / F.SELECT.metrics)["chosen"]
    return float(chosen["val_bpp"])  # pixel-space validation bits/pixel


@hydra.main(config_path="../conf", config_name="config", version_base="1.3")
def main(cfg) -> float:
    return cli.run(cfg, run_all, banner=False)


if __name__ == "__main__":
    cli.main(main)
