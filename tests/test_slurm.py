"""hydra/launcher=slurm for real: sweeps on a one-node SLURM cluster (``make cluster``), logging to ``make server``.

One cluster serves the module (slurmctld, slurmd, slurmdbd with a private
MariaDB for accounting, munged; all under one folder), one PostgreSQL-backed
tracking server the session. Two sweeps run on it at once:

- ``make sweep LAUNCHER=slurm`` over three seeds: every job runs under SLURM
  (sacct knows it COMPLETED) and ends FINISHED on the server;
- a sweep of two jobs: one raises (every fit fails), the other is cancelled
  with ``scancel`` while it computes.

Every wait is bounded. Where SLURM cannot be installed (not root, no
apt-get) these tests skip with one line; in CI (``CI`` set) they fail instead.
The last cluster test stops the cluster and checks that no process of it is
left. The job script is checked as SLURM accepted it, and slurm.yaml's own
defaults as Hydra composes them.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pandas as pd
import pytest
from mlflow import MlflowClient

from gmmgen.tracking import cluster as gcluster

from .conftest import PYTHON, REPO, TINY, run_py

RUN_ALL = str(REPO / "pipelines" / "run_all.py")
# Every job fits in the node (2 CPUs here) and SLURM ends it after 5 minutes whatever happens.
SMALL_JOBS = [
    "hydra.launcher.partition=debug",
    "hydra.launcher.cpus_per_task=1",
    "hydra.launcher.mem_gb=1",
    "hydra.launcher.timeout_min=5",
]
# A job that computes for a minute or more: cancelled long before it would end.
BUSY_GRID = "[" + ",".join(str(k) for k in range(2, 31)) + "]"
TINY_NO_GRID = [o for o in TINY if not o.startswith("sweep.n_components=")]
SWEEP_TIMEOUT = 240  # seconds, per multirun (both run at once)


class Cluster:
    """The cluster of ``make cluster`` in a folder of its own."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def make(self, target: str, *extra: str, check: bool = True) -> subprocess.CompletedProcess:
        cmd = ["make", "-C", str(REPO), "--no-print-directory", target, f"CLUSTER_DIR={self.folder}", *extra]
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
        if check:
            assert result.returncode == 0, f"make {target} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        return result

    def client(self, *args: str) -> str:
        done = gcluster.client(self.folder, list(args))
        assert done.returncode == 0, done.stderr
        return done.stdout


def slurm_or_skip() -> None:
    """Skip (one line) where SLURM is missing and cannot be installed; fail in CI, which must run these tests."""
    missing = gcluster.missing_programs()
    if missing:
        why = f"SLURM is not installed ({', '.join(missing)}): `make slurm` installs it (as root, with apt-get)"
        if os.environ.get("CI"):
            pytest.fail(f"{why}; CI must run the SLURM tests")
        pytest.skip(why)


def ps_lines(folder: Path) -> list[str]:
    """`ps` lines of live (not zombie) processes whose command line names ``folder``."""
    out = subprocess.run(["ps", "-eo", "pid,stat,args"], capture_output=True, text=True, timeout=10).stdout
    return [line for line in out.splitlines()[1:] if str(folder) in line and line.split()[1][0] != "Z"]


@pytest.fixture(scope="module")
def cluster():
    slurm_or_skip()
    # Under /tmp, world-searchable: munged and the job steps reach its sockets (pytest's tmp folders are 0700).
    folder = Path(tempfile.mkdtemp(prefix="gmmgen-cluster-"))
    folder.chmod(0o755)
    c = Cluster(folder)
    try:
        # Five one-CPU jobs at once, even on 2 cores: the sweeps do not queue behind each other.
        c.make("cluster", "CLUSTER_CPUS=6")
        yield c
    finally:
        c.make("cluster-stop", check=False)
        shutil.rmtree(folder, ignore_errors=True)


def wait_for_job_run(client: MlflowClient, experiment: str, job_num: int, proc, timeout: float = 180):
    """The RUNNING MLflow run of job ``job_num`` once it has logged its config: the job computes now."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        exp = client.get_experiment_by_name(experiment)
        if exp is not None:
            runs = client.search_runs(
                [exp.experiment_id],
                f"attributes.status = 'RUNNING' and tags.`hydra.job_num` = '{job_num}' "
                "and tags.`gmmgen.kind` = 'pipeline'",
            )
            if runs and client.list_artifacts(runs[0].info.run_id, "config"):
                return runs[0]
        time.sleep(0.3)
    raise AssertionError(f"job {job_num} of {experiment} never opened its run")


@pytest.fixture(scope="module")
def sweeps(cluster, tracking_server, tmp_path_factory):
    """Both sweeps, started together; job 1 of the second is cancelled with scancel while it computes."""
    good_root, bad_root = tmp_path_factory.mktemp("slurm-good"), tmp_path_factory.mktemp("slurm-bad")
    tracking = [f"tracking.uri={tracking_server.url}"]
    # `make sweep` as a user types it; the Makefile points SLURM_CONF at CLUSTER_DIR's running cluster.
    good_cmd = [
        "make", "-C", str(REPO), "--no-print-directory", "sweep", "LAUNCHER=slurm", f"CLUSTER_DIR={cluster.folder}",
        "SWEEP=seed=0,1,2",
        "ARGS=" + " ".join([f"paths.root={good_root}", *TINY, *tracking, "tracking.experiment=slurm-sweep",
                            *SMALL_JOBS]),
    ]  # fmt: skip
    bad_cmd = [
        PYTHON, RUN_ALL, "-m", "hydra/launcher=slurm", *SMALL_JOBS, f"paths.root={bad_root}", *TINY_NO_GRID, *tracking,
        "tracking.experiment=slurm-faults", "model.n_init=30", f"sweep.n_components=[5000],{BUSY_GRID}",
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k != "SLURM_CONF"}
    procs = [
        subprocess.Popen(good_cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True),
        subprocess.Popen(
            bad_cmd,
            cwd=bad_root,
            env={**gcluster.env(cluster.folder), "PYTHONHASHSEED": "0"},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        ),
    ]
    try:
        client = MlflowClient(tracking_server.url)
        busy = wait_for_job_run(client, "slurm-faults", 1, procs[1])
        slurm_job = busy.data.tags["slurm.job_id"]  # the job says which SLURM job it is
        cancelled_at = time.monotonic()
        cluster.client("scancel", slurm_job)
        results = {}
        for i in (1, 0):  # the sweep with the cancelled job first: how long it takes to end counts
            out, err = procs[i].communicate(timeout=SWEEP_TIMEOUT)
            results[i] = subprocess.CompletedProcess(procs[i].args, procs[i].returncode, out, err)
            if i == 1:
                ended_after = time.monotonic() - cancelled_at
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.communicate()
    return {
        "good": (good_root, results[0]),
        "bad": (bad_root, results[1]),
        "client": client,
        "cancelled": (busy.info.run_id, slurm_job, ended_after),
    }


def runs_of(client: MlflowClient, experiment: str) -> dict[str, list]:
    exp = client.get_experiment_by_name(experiment)
    kinds: dict[str, list] = {}
    for r in client.search_runs([exp.experiment_id], max_results=1000):
        kinds.setdefault(r.data.tags.get("gmmgen.kind"), []).append(r)
    return kinds


def sweep_table(client: MlflowClient, sweep) -> pd.DataFrame:
    return pd.read_csv(client.download_artifacts(sweep.info.run_id, "sweep_jobs.csv"))


def test_a_make_sweep_runs_every_job_under_slurm_and_logs_to_the_server(sweeps, cluster):
    root, result = sweeps["good"]
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    client = sweeps["client"]
    kinds = runs_of(client, "slurm-sweep")
    (sweep,) = kinds["sweep"]
    jobs = kinds["pipeline"]
    assert sweep.info.status == "FINISHED" and sweep.data.metrics["jobs_finished"] == 3
    assert sorted(r.data.params["seed"] for r in jobs) == ["0", "1", "2"]
    for job in jobs:
        assert job.info.status == "FINISHED"
        assert job.data.tags["mlflow.parentRunId"] == sweep.info.run_id
        assert job.info.artifact_uri.startswith("mlflow-artifacts:/")  # stored by the server
    # Every job ran under SLURM: the ids the jobs recorded are submitit's job folders and sacct's records.
    slurm_ids = sorted(r.data.tags["slurm.job_id"] for r in jobs)
    (sweep_dir,) = (root / "outputs" / "multirun").iterdir()
    folders = sorted(p.name for p in (sweep_dir / ".submitit").iterdir() if re.fullmatch(r"\d+_\d+", p.name))
    assert folders == slurm_ids
    array = {i.split("_")[0] for i in slurm_ids}
    assert len(array) == 1 and sorted(i.split("_")[1] for i in slurm_ids) == ["0", "1", "2"]  # one array job
    # A job's process may still be exiting when the sweep has its result: SLURM records the end a moment later.
    deadline = time.monotonic() + 60
    while (states := gcluster.job_states(cluster.folder, slurm_ids)) != dict.fromkeys(slurm_ids, "COMPLETED"):
        assert time.monotonic() < deadline, states
        time.sleep(0.5)
    # The sweep summary gathers them: the console table and the sweep run's table.
    assert "gmmgen sweep summary: 3 jobs, 3 finished, 0 failed" in result.stdout
    table = sweep_table(client, sweep)
    assert sorted(table["status"]) == ["FINISHED"] * 3 and sorted(table["slurm_job_id"]) == slurm_ids
    assert table["error"].isna().all()
    # The job script SLURM accepted: the launcher's settings as submitit wrote them, one array job.
    (script,) = (sweep_dir / ".submitit").glob(".submission_file_*.sh")
    flags = dict(re.findall(r"^#SBATCH --([\w-]+)=(.*)$", script.read_text(), re.M))
    assert flags["partition"] == "debug" and flags["job-name"] == "run_all"
    assert (flags["cpus-per-task"], flags["mem"], flags["time"]) == ("1", "1GB", "5")
    assert flags["nodes"] == "1" and flags["ntasks-per-node"] == "1"
    assert flags["array"] == "0-2%3"  # three jobs, at most array_parallelism (32) at once
    assert re.search(r"^srun .* -m submitit\.core\._submit ", script.read_text(), re.M)


def test_a_cancelled_job_ends_killed_and_the_sweep_says_which_and_why(sweeps):
    root, result = sweeps["bad"]
    run_id, slurm_job, ended_after = sweeps["cancelled"]
    client = sweeps["client"]
    assert ended_after < 90  # no wait hangs: the sweep ends soon after the scancel
    run = client.get_run(run_id)
    assert run.info.status == "KILLED"
    assert run.data.tags["slurm.state"] == f"CANCELLED by {os.geteuid()}"  # scancel, by this user
    why = f"terminated by SIGTERM in SLURM job {slurm_job} (scancel, its time limit or preemption)"
    assert run.data.tags["error"] == why
    (sweep,) = runs_of(client, "slurm-faults")["sweep"]
    assert sweep.info.status == "KILLED"
    row = sweep_table(client, sweep).set_index("job_num").loc[1]
    assert row["status"] == "KILLED" and row["slurm_job_id"] == slurm_job
    assert row["error"].startswith(f"{why}; SLURM job {slurm_job} ended CANCELLED by ")
    summary = result.stdout[result.stdout.index("gmmgen sweep summary: 2 jobs, 0 finished, 1 failed, 1 killed") :]
    assert re.search(
        rf"^  job 1 KILLED: {re.escape(why)}; SLURM job {slurm_job} ended CANCELLED by \d+$", summary, re.M
    )


def test_a_job_that_raises_ends_failed_with_its_error_in_the_summary(sweeps):
    root, result = sweeps["bad"]
    client = sweeps["client"]
    error = "SweepError: every fit in the sweep failed (full K=5000: n_components=5000 is more than the 600 training"
    (failed,) = [r for r in runs_of(client, "slurm-faults")["pipeline"] if r.data.tags["hydra.job_num"] == "0"]
    assert failed.info.status == "FAILED" and failed.data.tags["error"].startswith(error)
    assert "slurm.state" not in failed.data.tags  # SLURM saw the job complete: its own error says it all
    summary = result.stdout[result.stdout.index("gmmgen sweep summary:") :]
    assert re.search(rf"^  job 0 FAILED: {re.escape(error)}", summary, re.M)
    # The multirun exits with the first failed job's status and one line for it.
    assert result.returncode == 4
    assert result.stderr.strip().splitlines()[-1].startswith("gmmgen: error: every fit in the sweep failed")


def test_cluster_start_is_idempotent_and_refuses_a_taken_port(cluster):
    state = gcluster.read_state(cluster.folder)
    again = cluster.make("cluster")
    assert "SLURM cluster already running" in again.stdout
    assert gcluster.read_state(cluster.folder) == state
    assert cluster.client("sinfo", "-h", "-o", "%P %T").split() == ["debug*", "idle"]
    # A second cluster on the first one's controller port: one line, nothing started.
    other = Path(tempfile.mkdtemp(prefix="gmmgen-cluster-"))
    try:
        taken = Cluster(other).make("cluster", f"CLUSTER_PORT={state.slurmctld_port}", check=False)
        assert taken.returncode != 0
        assert f"gmmgen: cluster error: port {state.slurmctld_port} on 127.0.0.1 (slurmctld) is already in use" in (
            taken.stderr
        )
        assert gcluster.leftovers(other) == []
    finally:
        shutil.rmtree(other, ignore_errors=True)


def test_a_daemon_that_does_not_come_up_is_named_with_its_log():
    slurm_or_skip()
    folder = Path(tempfile.mkdtemp(prefix="gmmgen-cluster-"))
    try:
        (folder / "munge" / "munge.key").mkdir(parents=True)  # munged cannot read a key that is a folder
        done = run_py(["-m", "gmmgen.tracking.cluster", "start", "--dir", str(folder)], cwd=REPO, timeout=120)
        assert done.returncode == 1
        (line,) = done.stderr.strip().splitlines()
        log = folder / "log" / "munged.log"
        assert line.startswith(
            f"gmmgen: cluster error: munged exited with status 1 before its socket appeared: see {log}"
        )
        assert gcluster.leftovers(folder) == [] and ps_lines(folder) == []
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_cluster_stop_leaves_nothing_running(cluster):
    """Last in the module: stop the shared cluster; no daemon, job step or database of it keeps running."""
    assert gcluster.leftovers(cluster.folder)  # it runs now
    started = time.monotonic()
    stopped = cluster.make("cluster-stop")
    assert "SLURM cluster stopped." in stopped.stdout and time.monotonic() - started < 60
    assert gcluster.leftovers(cluster.folder) == []
    assert ps_lines(cluster.folder) == []
    # The clients of a stopped cluster answer at once (not running), never block.
    started = time.monotonic()
    status = run_py(["-m", "gmmgen.tracking.cluster", "status", "--dir", str(cluster.folder)], cwd=REPO, timeout=60)
    assert status.returncode == 3 and status.stdout.strip() == "not running"
    assert time.monotonic() - started < 30
    assert "was not running" in cluster.make("cluster-stop").stdout


# ----------------------------------------------------------------------------- without a cluster


@pytest.mark.parametrize(
    ("env", "job"),
    [
        ({"SLURM_JOB_ID": "12", "SLURM_ARRAY_JOB_ID": "7", "SLURM_ARRAY_TASK_ID": "1"}, "7_1"),  # array task
        ({"SLURM_JOB_ID": "12"}, "12"),
        ({}, None),
    ],
)
def test_a_job_knows_its_slurm_id_and_says_who_sent_sigterm(monkeypatch, env, job):
    from gmmgen.errors import JobTerminated, Terminated, slurm_job
    from gmmgen.runtime.cli import EXIT_TERMINATED, exit_status
    from gmmgen.tracking.log import stop_reason

    for key in ("SLURM_JOB_ID", "SLURM_ARRAY_JOB_ID", "SLURM_ARRAY_TASK_ID"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert slurm_job() == job
    expected = f"terminated by SIGTERM in SLURM job {job} (scancel, its time limit or preemption)"
    assert stop_reason(Terminated()) == (expected if job else "terminated by SIGTERM")
    assert stop_reason(KeyboardInterrupt()) == "interrupted (Ctrl-C)"
    assert exit_status(JobTerminated("job 1 was terminated by SIGTERM")) == EXIT_TERMINATED == 143


# ----------------------------------------------------------------------------- the job script


def test_slurm_yaml_defaults_reach_the_launcher():
    """conf/hydra/launcher/slurm.yaml as Hydra composes it (the sweep above overrides the sizes)."""
    from hydra import compose, initialize_config_dir

    from gmmgen.pipeline.config import register_configs

    register_configs()
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        launcher = compose("config", ["hydra/launcher=slurm"], return_hydra_config=True).hydra.launcher
    assert launcher._target_.endswith("SlurmLauncher")
    assert (launcher.cpus_per_task, launcher.mem_gb, launcher.timeout_min) == (8, 16, 60)
    assert (launcher.nodes, launcher.tasks_per_node, launcher.array_parallelism) == (1, 1, 32)
    assert launcher.partition is None
