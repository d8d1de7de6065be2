"""Issue 11, case 3: every MLflow run a process opened ends FINISHED, FAILED or KILLED, whatever stops it.

Real processes and real signals: Ctrl-C (SIGINT to the process group, as a
terminal sends it) and SIGTERM during `track`'s per-fit loop, Ctrl-C on a
parallel multirun, and SIGKILL, whose orphan the next run of the checkout ends.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from gmmgen.pipeline.stages.data import run_data
from gmmgen.pipeline.stages.generate import run_generate
from gmmgen.pipeline.stages.reduce import run_reduce
from gmmgen.pipeline.stages.select import run_select
from gmmgen.runtime.cli import EXIT_INTERRUPTED, EXIT_TERMINATED
from gmmgen.runtime.validation import validate

from .conftest import BUSY_SELECT, PYTHON, REPO, TINY, compose_cfg, default_signals, run_py

RUN_ALL = str(REPO / "pipelines" / "run_all.py")
# Many fits (one child run each) so that `track` spends a while in its per-fit loop.
MANY_FITS = [
    *TINY,
    "sweep.n_components=[1,2,3,4,5,6,7,8,9,10,11,12]",
    "sweep.covariance_types=[full,tied,diag,spherical]",
]
# A select stage that stays busy for minutes.
SLOW = [*BUSY_SELECT, "evaluate.enabled=false"]


def statuses(root: Path) -> dict[str, list[str]]:
    """Run statuses by ``gmmgen.kind``, read straight from the SQLite store (a reader never blocks the writer)."""
    db = root / "outputs" / "mlflow.db"
    if not db.exists():
        return {}
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as con:
            rows = con.execute(
                "select t.value, r.status from runs r join tags t on t.run_uuid = r.run_uuid and t.key = 'gmmgen.kind'"
            ).fetchall()
    except sqlite3.Error:
        return {}
    out: dict[str, list[str]] = {}
    for kind, status in rows:
        out.setdefault(kind, []).append(status)
    return out


def start(args: list[str], cwd: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    return subprocess.Popen(
        [PYTHON, *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=default_signals,  # whatever this test run inherited (nohup, a background job)
    )


def wait_until(predicate, proc: subprocess.Popen, timeout: float = 300, every: float = 0.05) -> None:
    deadline = time.time() + timeout
    while not predicate():
        assert proc.poll() is None, f"ended early: {proc.stderr.read()[-3000:]}"
        assert time.time() < deadline, "timed out"
        time.sleep(every)


def finish(proc: subprocess.Popen, timeout: float = 120) -> tuple[str, str]:
    try:
        return proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)


@pytest.mark.parametrize(
    ("signum", "status"),
    [(signal.SIGINT, EXIT_INTERRUPTED), pytest.param(signal.SIGTERM, EXIT_TERMINATED, marks=pytest.mark.slow)],
)
def test_a_signal_during_the_per_fit_loop_leaves_no_run_running(tmp_path, signum, status):
    cfg = compose_cfg(tmp_path, MANY_FITS)
    validate(cfg)
    for run in (run_data, run_reduce, run_select, run_generate):
        run(cfg)
    # A child run per fit (tracking.child_runs) gives the signal a loop to land in.
    args = [
        str(REPO / "pipelines" / "stage.py"),
        "track",
        f"paths.root={tmp_path}",
        *MANY_FITS,
        "tracking.child_runs=true",
    ]
    proc = start(args, tmp_path)
    wait_until(lambda: "fit" in statuses(tmp_path), proc)
    os.killpg(proc.pid, signum)  # the whole group, as a terminal's Ctrl-C
    out, err = finish(proc)
    assert proc.returncode == status, err[-3000:]
    assert "Traceback" not in err
    (line,) = [line for line in err.splitlines() if line.startswith("gmmgen:")]
    assert line.startswith(("gmmgen: interrupted (Ctrl-C)", "gmmgen: terminated (SIGTERM)"))
    seen = statuses(tmp_path)
    assert seen["pipeline"] == ["KILLED"]
    assert seen["fit"] and "RUNNING" not in seen["fit"], seen
    assert set(seen["fit"]) <= {"FINISHED", "FAILED", "KILLED"}


@pytest.mark.slow
def test_ctrl_c_on_a_parallel_multirun_one_line_exit_130_nothing_running(tmp_path):
    args = [RUN_ALL, "-m", "hydra/launcher=parallel", "hydra.launcher.n_jobs=2", f"paths.root={tmp_path}", *SLOW]
    proc = start([*args, "seed=0,1,2,3"], tmp_path)
    wait_until(lambda: statuses(tmp_path).get("pipeline", []).count("RUNNING") >= 2, proc, every=0.5)
    time.sleep(2)
    os.killpg(proc.pid, signal.SIGINT)
    out, err = finish(proc, timeout=180)
    assert proc.returncode == EXIT_INTERRUPTED, err[-3000:]
    assert "Traceback" not in err and "joblib" not in err, err[-3000:]
    assert [line for line in err.splitlines() if line.startswith("gmmgen:")] == [
        "gmmgen: interrupted (Ctrl-C): no partial stage folder was kept; open MLflow runs ended KILLED"
    ]
    seen = statuses(tmp_path)
    assert seen["sweep"] == ["KILLED"]
    assert seen["pipeline"] and set(seen["pipeline"]) <= {"KILLED", "FINISHED"}, seen
    assert "RUNNING" not in sum(seen.values(), [])


@pytest.mark.slow
def test_a_run_killed_by_sigkill_is_ended_killed_by_the_next_run(tmp_path):
    proc = start([RUN_ALL, f"paths.root={tmp_path}", *SLOW], tmp_path)
    wait_until(lambda: statuses(tmp_path).get("pipeline") == ["RUNNING"], proc, every=0.5)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert statuses(tmp_path)["pipeline"] == ["RUNNING"]  # nothing could close it
    result = run_py([RUN_ALL, f"paths.root={tmp_path}", *TINY], cwd=tmp_path, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{tmp_path}/outputs/mlflow.db")
    runs = client.search_runs(
        [client.get_experiment_by_name("gmmgen").experiment_id], "tags.`gmmgen.kind` = 'pipeline'"
    )
    by_status = {r.info.status: r for r in runs}
    assert set(by_status) == {"KILLED", "FINISHED"}
    orphan = by_status["KILLED"]
    assert orphan.data.tags["gmmgen.pid"] == str(proc.pid)
    assert orphan.data.tags["error"].startswith(f"orphaned: process {proc.pid} on ")


@pytest.mark.parametrize(
    ("signum", "status"), [(signal.SIGINT, EXIT_INTERRUPTED), (signal.SIGTERM, EXIT_TERMINATED), (signal.SIGHUP, 129)]
)
def test_a_signal_while_an_entry_point_imports_is_one_line_and_its_status(tmp_path, signum, status):
    """gmmgen.runtime.startup, imported first by every entry point: no traceback from the middle of an import."""
    code = (
        "import gmmgen.runtime.startup, os, signal, time\nimport json  # more imports\n"
        "os.kill(os.getpid(), %d)\ntime.sleep(30)"
    )
    proc = subprocess.run(
        [PYTHON, "-c", code % signum], capture_output=True, text=True, timeout=60, preexec_fn=default_signals
    )
    assert proc.returncode == status
    what = {
        signal.SIGINT: "interrupted (Ctrl-C)",
        signal.SIGTERM: "terminated (SIGTERM)",
        signal.SIGHUP: "hung up (SIGHUP)",
    }
    assert proc.stderr.strip().splitlines() == [f"gmmgen: {what[signum]} while starting: nothing was written"]


def test_ctrl_c_early_in_a_stage_entry_point_exits_130_without_a_traceback(tmp_path):
    proc = start([str(REPO / "pipelines" / "stage.py"), "data", f"paths.root={tmp_path}", *TINY], tmp_path)
    time.sleep(0.5)  # Python has started and imports hydra, gmmgen.runtime.cli, ...
    os.killpg(proc.pid, signal.SIGINT)
    _, err = finish(proc)
    assert proc.returncode == EXIT_INTERRUPTED, err[-3000:]
    assert "Traceback" not in err
    (line,) = [line for line in err.splitlines() if line.startswith("gmmgen:")]
    assert line.startswith("gmmgen: interrupted (Ctrl-C)")
    assert not (tmp_path / "outputs" / "data").exists()


def test_the_entry_point_puts_python_s_ctrl_c_back():
    from gmmgen.runtime import cli, startup

    signal.signal(signal.SIGINT, signal.default_int_handler)  # as a terminal leaves it (not nohup's SIG_IGN)
    try:
        startup.guard()  # what importing it first does in an entry point
        assert signal.getsignal(signal.SIGINT) is not signal.default_int_handler
        cli.install_signal_handlers()
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
