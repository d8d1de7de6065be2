"""Hydra multirun of the whole pipeline: parallel jobs in their own folders, each a complete MLflow run."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from mlflow import MlflowClient

from .conftest import PYTHON, REPO, TINY, run_py
from .test_console import noise_in

RUN_ALL = str(REPO / "pipelines" / "run_all.py")


def runs_by_kind(root: Path):
    client = MlflowClient(f"sqlite:///{root}/outputs/mlflow.db")
    exp = client.get_experiment_by_name("gmmgen")
    runs = client.search_runs([exp.experiment_id], max_results=1000)
    kinds: dict[str, list] = {}
    for r in runs:
        kinds.setdefault(r.data.tags.get("gmmgen.kind"), []).append(r)
    return client, kinds


def sweep_table(client, sweep):
    import pandas as pd

    path = client.download_artifacts(sweep.info.run_id, "sweep_jobs.csv")
    return pd.read_csv(path)


def test_parallel_jobs_lose_nothing(tmp_path):
    result = run_py(
        [
            RUN_ALL,
            "-m",
            "hydra/launcher=parallel",
            "hydra.launcher.n_jobs=4",
            f"paths.root={tmp_path}",
            *TINY,
            "seed=0,1,2,3",
        ],
        cwd=tmp_path,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert "database is locked" not in result.stderr
    # The console: one line per job (no job's banners or bars), then the sweep's summary table.
    assert noise_in(result.stdout + result.stderr) == []
    assert len(re.findall(r"^job \d \[.*seed=\d.*\]: full K=\d+ by bic", result.stdout, flags=re.M)) == 4
    assert "== data" not in result.stdout and "GMM sweep" not in result.stderr
    summary = result.stdout[result.stdout.index("gmmgen sweep summary: 4 jobs, 4 finished, 0 failed") :]
    assert len(re.findall(r"^  [0-3]  ", summary, flags=re.M)) == 4
    client, kinds = runs_by_kind(tmp_path)
    (sweep,) = kinds["sweep"]
    jobs = kinds["pipeline"]
    assert sweep.info.status == "FINISHED" and len(jobs) == 4
    assert sorted(r.data.params["seed"] for r in jobs) == ["0", "1", "2", "3"]
    for job in jobs:
        assert job.info.status == "FINISHED"
        assert job.data.tags["mlflow.parentRunId"] == sweep.info.run_id
        assert {"bic", "aic", "val_bpp", "val_nll_nats", "test_bpp"} <= set(job.data.metrics)
        assert "generate/generated.png" in {a.path for a in client.list_artifacts(job.info.run_id, "generate")}
        # A sweep job logs its model to its run but registers nothing (tracking.register_sweeps=false).
        assert "registered_model" not in job.data.tags
    assert "fit" not in kinds  # no per-fit child runs unless tracking.child_runs=true
    assert client.search_model_versions("name = 'gmmgen-digit-generator'") == []
    logged = client.search_logged_models([sweep.info.experiment_id])
    assert sorted(m.source_run_id for m in logged) == sorted(r.info.run_id for r in jobs)
    assert sweep.data.metrics["jobs_finished"] == 4 and sweep.data.metrics["jobs_failed"] == 0
    assert "sweep_jobs.csv" in {a.path for a in client.list_artifacts(sweep.info.run_id)}
    table = sweep_table(client, sweep)
    assert list(table["rank"]) == [1, 2, 3, 4] and list(table["val_bpp"]) == sorted(table["val_bpp"])
    # Each seed draws other digits: their likelihoods are on different validation sets, and the run says so.
    assert sweep.data.tags["comparable"].startswith("NOT comparable: the jobs scored 4 different datasets")
    job_dirs = sorted((tmp_path / "outputs" / "multirun").glob("*/*/generate/generated.png"))
    assert len(job_dirs) == 4 and len({p.parent.parent for p in job_dirs}) == 4


def test_a_failing_job_is_reported_and_the_others_finish(tmp_path):
    result = run_py(
        [RUN_ALL, "-m", f"paths.root={tmp_path}", *TINY, "sweep.n_components=[2],[5000]"], cwd=tmp_path, timeout=600
    )
    assert result.returncode != 0
    assert "every fit in the sweep failed" in result.stderr
    # Hydra stops after the batch; the sweep summary still lists both jobs and says why job 1 failed.
    summary = result.stdout[result.stdout.index("gmmgen sweep summary: 2 jobs, 1 finished, 1 failed") :]
    assert re.search(r"^  job 1 FAILED: SweepError: every fit in the sweep failed \(full K=5000: ", summary, re.M)
    _, kinds = runs_by_kind(tmp_path)
    statuses = sorted((r.data.params.get("sweep.n_components"), r.info.status) for r in kinds["pipeline"])
    assert statuses == [("[2]", "FINISHED"), ("[5000]", "FAILED")]
    assert kinds["sweep"][0].info.status == "FAILED"


def test_the_sweep_summary_says_why_each_unfinished_job_stopped(tmp_path):
    from gmmgen.report.summary import sweep_summary

    for job in ("0", "1"):
        (tmp_path / job / ".hydra").mkdir(parents=True)
        (tmp_path / job / ".hydra" / "overrides.yaml").write_text(f"- seed={job}\n")
    outcomes = {
        "0": ("FINISHED", ""),
        "1": ("KILLED", "terminated by SIGTERM in SLURM job 7_1 (scancel)\n; SLURM job 7_1 ended CANCELLED by 0"),
        "2": ("FAILED", "the multirun stopped before this job closed its run (interrupted)"),  # no folder: never began
    }
    text = sweep_summary(tmp_path, outcomes)
    assert text.startswith("gmmgen sweep summary: 3 jobs, 0 finished, 2 failed, 1 killed\n")
    rows = {line.split()[0]: line.split()[-1] for line in text.splitlines()[3:6]}
    assert rows == {"0": "failed", "1": "killed", "2": "failed"}  # job 0 has no select output: it did not finish
    assert (
        "  job 1 KILLED: terminated by SIGTERM in SLURM job 7_1 (scancel) ; SLURM job 7_1 ended CANCELLED by 0" in text
    )
    assert "  job 2 FAILED: the multirun stopped before this job closed its run (interrupted)" in text
    assert "job 0 " not in text.split("\n\n")[2]  # a FINISHED job gets no line of its own
    assert sweep_summary(tmp_path).startswith("gmmgen sweep summary: 2 jobs, 0 finished, 2 failed\n")


def test_multiruns_started_together_never_share_a_folder(tmp_path):
    cmd = [PYTHON, RUN_ALL, "-m", f"paths.root={tmp_path}", *TINY, "tracking.enabled=false", "sweep.n_components=[2]"]
    procs = [subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for _ in range(2)]
    for p in procs:
        assert p.wait(timeout=300) == 0, p.stderr.read()
    sweeps = list((tmp_path / "outputs" / "multirun").iterdir())
    assert len(sweeps) == 2
    for s in sweeps:
        assert (s / "0" / "generate" / "samples.npy").exists()


@pytest.mark.parametrize("launcher", ["parallel", "slurm"])
def test_launcher_configs_compose(tmp_path, launcher):
    result = run_py([RUN_ALL, f"hydra/launcher={launcher}", f"paths.root={tmp_path}", "--cfg", "hydra"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    target = {"parallel": "JoblibLauncher", "slurm": "SlurmLauncher"}[launcher]
    assert target in result.stdout


@pytest.mark.slow
def test_a_multirun_over_pca_settings_is_ranked_by_pixel_likelihood(tmp_path):
    """Different PCA dimensions, one yardstick: the jobs are ranked by validation bits/pixel on the same digits."""
    result = run_py(
        [RUN_ALL, "-m", f"paths.root={tmp_path}", *TINY, "pca.variance=0.5,0.8,0.95", "pca.whiten=true,false"],
        cwd=tmp_path,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    client, kinds = runs_by_kind(tmp_path)
    (sweep,) = kinds["sweep"]
    table = sweep_table(client, sweep)
    assert len(table) == 6 and list(table["val_bpp"]) == sorted(table["val_bpp"])
    assert sweep.data.tags["comparable"].startswith("comparable: every ranked job scored the same validation digits")
    # The best job: the best-ranked one that is not degenerate (no copying status: evaluate.enabled=false).
    best = table[table["selected_status"] != "degenerate"].iloc[0]
    assert sweep.data.metrics["best_val_bpp"] == pytest.approx(best["val_bpp"])
    assert sweep.data.tags["best_job"].split(":")[0] == str(best["job_num"])
    assert sweep.data.tags["verdict"].startswith(f"Best by validation likelihood: {best['job_num']}: ")
