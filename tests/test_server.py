"""The team setup on real engines: `make server` (MLflow on PostgreSQL, served artifacts) and submitit jobs.

One server serves the whole session (``tracking_server`` in conftest.py);
each test logs to an experiment and a registered model of its own.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from gmmgen.runtime.cli import EXIT_TRACKING
from gmmgen.tracking import server as gserver

from .conftest import PYTHON, REPO, TINY, run_py

RUN_ALL = str(REPO / "pipelines" / "run_all.py")


def runs_of(client: MlflowClient, experiment: str) -> dict[str, list]:
    exp = client.get_experiment_by_name(experiment)
    assert exp is not None, f"no experiment {experiment!r} on the server"
    kinds: dict[str, list] = {}
    for r in client.search_runs([exp.experiment_id], max_results=1000):
        kinds.setdefault(r.data.tags.get("gmmgen.kind"), []).append(r)
    return kinds


@pytest.fixture(scope="module")
def submitit_sweep(tracking_server, tmp_path_factory):
    """Four jobs as separate submitit jobs (hydra/launcher=submitit_local), all logging to the server."""
    root = tmp_path_factory.mktemp("sweep")
    result = run_py(
        [
            RUN_ALL,
            "-m",
            "hydra/launcher=submitit_local",
            f"paths.root={root}",
            *TINY,
            f"tracking.uri={tracking_server.url}",
            "tracking.experiment=team-sweep",
            "tracking.registered_model=team-sweep-generator",
            # Sweep jobs register and log per-fit child runs only when asked.
            "tracking.register_sweeps=true",
            "tracking.child_runs=true",
            "seed=0,1,2,3",
        ],
        cwd=root,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-4000:]
    (sweep_dir,) = (root / "outputs" / "multirun").iterdir()
    return root, sweep_dir, MlflowClient(tracking_server.url)


def test_server_keeps_runs_in_postgresql_and_artifacts_on_the_server(tracking_server):
    state = json.loads((tracking_server.folder / "state.json").read_text())
    assert state["url"] == tracking_server.url
    assert (tracking_server.folder / "pgdata" / "PG_VERSION").exists()
    # The MLflow server's own command line names a PostgreSQL store and serves the artifacts.
    cmdline = Path(f"/proc/{state['mlflow_pid']}/cmdline").read_bytes().split(b"\0")
    store = cmdline[cmdline.index(b"--backend-store-uri") + 1].decode()
    assert store == gserver.backend_store_uri(state["pg_port"]) and store.startswith("postgresql://mlflow@")
    assert b"--serve-artifacts" in cmdline and b"PASSWORD" not in b" ".join(cmdline).upper()
    assert (tracking_server.folder / "pgpass").stat().st_mode & 0o077 == 0


def test_submitit_sweep_logs_every_job_whole_through_the_server(submitit_sweep, tracking_server):
    root, sweep_dir, client = submitit_sweep
    kinds = runs_of(client, "team-sweep")
    (sweep,) = kinds["sweep"]
    jobs = kinds["pipeline"]
    assert sweep.info.status == "FINISHED" and sweep.data.metrics["jobs_finished"] == 4
    assert sorted(r.data.params["seed"] for r in jobs) == ["0", "1", "2", "3"]
    assert len(kinds["fit"]) == 4 * 3
    for job in jobs:
        assert job.info.status == "FINISHED"
        assert job.data.tags["mlflow.parentRunId"] == sweep.info.run_id
        assert {"bic", "aic", "val_bpp"} <= set(job.data.metrics)
        # Artifacts went to the server, not to a folder this job could write.
        assert job.info.artifact_uri.startswith("mlflow-artifacts:/")
        job_folder = sweep_dir / job.data.tags["hydra.job_num"]
        local = client.download_artifacts(job.info.run_id, "generate/generated.png", str(root / job.info.run_id))
        assert Path(local).read_bytes() == (job_folder / "generate" / "generated.png").read_bytes()
    stored = list((tracking_server.folder / "artifacts").rglob("generated.png"))
    assert len(stored) >= 4
    versions = client.search_model_versions("name = 'team-sweep-generator'")
    assert sorted(v.run_id for v in versions) == sorted(j.info.run_id for j in jobs)
    assert {v.status for v in versions} == {"READY"}


def test_submitit_sweep_jobs_have_their_own_folders_logs_and_results(submitit_sweep):
    root, sweep_dir, client = submitit_sweep
    job_folders = [p for p in (sweep_dir / ".submitit").iterdir() if p.name != "%j"]
    assert len(job_folders) == 4
    bpp_by_job = {
        r.data.tags["hydra.job_num"]: r.data.metrics["val_bpp"] for r in runs_of(client, "team-sweep")["pipeline"]
    }
    returned = {}
    for folder in job_folders:
        job_id = folder.name
        assert (folder / f"{job_id}_0_log.out").stat().st_size > 0
        assert (folder / f"{job_id}_0_log.err").exists()
        outcome, job_return = pickle.loads((folder / f"{job_id}_0_result.pkl").read_bytes())
        assert outcome == "success"
        assert job_return.hydra_cfg["hydra"]["job"]["id"] == job_id  # submitit's job id reached Hydra
        returned[str(job_return.hydra_cfg["hydra"]["job"]["num"])] = job_return.return_value
    assert returned == pytest.approx(bpp_by_job)  # what each job returned: its validation bits/pixel
    assert sorted(p.name for p in sweep_dir.iterdir() if p.name.isdigit()) == ["0", "1", "2", "3"]


def test_registered_model_loads_back_through_the_server(submitit_sweep, tracking_server, monkeypatch):
    import mlflow

    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking_server.url)
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", tracking_server.url)
    model = mlflow.pyfunc.load_model("models:/team-sweep-generator/1")
    request = pd.DataFrame({"n": [3], "seed": [7]})
    images = np.asarray(model.predict(request))
    assert images.shape == (3, 8, 8) and images.dtype == np.uint8
    assert np.array_equal(images, np.asarray(model.predict(request)))


def test_a_second_make_server_leaves_the_running_server_alone(tracking_server):
    before = json.loads((tracking_server.folder / "state.json").read_text())
    again = tracking_server.make("server")
    assert "already running" in again.stdout
    assert json.loads((tracking_server.folder / "state.json").read_text()) == before
    assert gserver.healthy(tracking_server.url)


def test_a_taken_port_is_one_clear_line(tmp_path, tracking_server):
    result = run_py(
        [
            "-m",
            "gmmgen.tracking.server",
            "start",
            "--dir",
            str(tmp_path / "other"),
            "--port",
            str(tracking_server.port),
        ],
        cwd=REPO,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"gmmgen: server error: port {tracking_server.port} on 127.0.0.1 is already in use: "
        "choose another (make server SERVER_PORT=...)"
    ]


# ----------------------------------------------------------------------------- the server stopped during a job


def start_job(tmp_path: Path, url: str, experiment: str, retries: int) -> subprocess.Popen:
    """A single pipeline run logging to ``url``, long enough to stop the server while it computes."""
    env = {
        **os.environ,
        "PYTHONHASHSEED": "0",
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": str(retries),
        "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    }
    cmd = [
        PYTHON,
        RUN_ALL,
        f"paths.root={tmp_path}",
        *TINY,
        "sweep.n_components=[2,4,8,12,16,24,32]",
        "sweep.covariance_types=[full,diag]",
        f"tracking.uri={url}",
        f"tracking.experiment={experiment}",
        f"tracking.registered_model={experiment}-generator",
        "tracking.register_sweeps=true",  # run_all.py registers only when asked
    ]
    return subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_running_run(client: MlflowClient, experiment: str, job: subprocess.Popen, timeout: float = 300):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert job.poll() is None, job.communicate()
        exp = client.get_experiment_by_name(experiment)
        if exp is not None:
            runs = client.search_runs([exp.experiment_id], "attributes.status = 'RUNNING'")
            # Opened, with its config logged: the job is computing now.
            if runs and client.list_artifacts(runs[0].info.run_id, "config"):
                return runs[0]
        time.sleep(0.2)
    raise AssertionError("the job never opened its run")


@pytest.mark.slow
def test_a_job_waits_for_a_restarted_server_and_completes(tracking_server, tmp_path):
    client = MlflowClient(tracking_server.url)
    job = start_job(tmp_path, tracking_server.url, "outage-retry", retries=7)
    run = wait_for_running_run(client, "outage-retry", job)
    tracking_server.make("server-stop")
    assert not gserver.healthy(tracking_server.url)
    tracking_server.make("server")  # the same database and artifacts come back
    # What was logged before the restart is still there: the run, its params, its config artifact.
    config = client.download_artifacts(run.info.run_id, "config/config.yaml", str(tmp_path))
    assert "tracking:" in Path(config).read_text()
    out, err = job.communicate(timeout=600)
    assert job.returncode == 0, err[-4000:]
    assert "Retrying" in out + err  # the job did meet the stopped server
    done = client.get_run(run.info.run_id)
    assert done.info.status == "FINISHED" and "bic" in done.data.metrics
    assert done.data.params["seed"] == "0"
    assert "generate/generated.png" in {a.path for a in client.list_artifacts(run.info.run_id, "generate")}
    assert client.search_model_versions("name = 'outage-retry-generator'")[0].run_id == run.info.run_id


@pytest.mark.slow
def test_a_job_whose_server_stays_down_fails_in_one_line(tracking_server, tmp_path):
    client = MlflowClient(tracking_server.url)
    job = start_job(tmp_path, tracking_server.url, "outage-fail", retries=0)
    run = wait_for_running_run(client, "outage-fail", job)
    tracking_server.make("server-stop")
    try:
        out, err = job.communicate(timeout=600)
    finally:
        tracking_server.make("server")
    assert job.returncode == EXIT_TRACKING  # the tracking error's own status
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith(
        f"gmmgen: error: tracking server {tracking_server.url} stopped answering during run {run.info.run_id}"
    )
