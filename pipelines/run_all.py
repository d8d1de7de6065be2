"""The whole pipeline for one config, in one process: data, reduce, select, generate, track.

Made for Hydra multirun: each job writes every stage folder into its own job
folder and logs its own MLflow run, nested under the sweep's run.
  python pipelines/run_all.py -m pca.variance=0.8,0.85,0.9 sweep.covariance_types=[full],[diag]
  python pipelines/run_all.py -m hydra/launcher=parallel seed=0,1,2,3
"""

from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode

from gmmgen import cli, config, stages

config.register_configs()


def run_all(cfg) -> float:
    hc = HydraConfig.get()
    if hc.mode == RunMode.MULTIRUN:
        cfg.paths.run_dir = hc.runtime.output_dir  # this job's own folder
    run_dir = Path(cfg.paths.run_dir)
    overrides = list(hc.overrides.task)
    if not cfg.tracking.enabled:
        stages.run_all(cfg)
        return float("nan")
    from gmmgen import tracking

    tags = {"hydra.overrides": " ".join(overrides)[:5000] or "(none)"}
    if hc.mode == RunMode.MULTIRUN:
        tags["hydra.job_num"] = str(hc.job.num)
    with tracking.pipeline_run(cfg, tags) as run_id:
        stages.run_all(cfg)
        tracking.log_pipeline(cfg, run_id, run_dir, overrides)
    chosen = (run_dir / "select" / "metrics.json").read_text()
    import json

    return float(json.loads(chosen)["chosen"]["val_bpp"])  # pixel-space validation bits/pixel


@hydra.main(config_path="../conf", config_name="config", version_base="1.3")
def main(cfg) -> float:
    return cli.run(cfg, run_all)


if __name__ == "__main__":
    cli.main(main)
