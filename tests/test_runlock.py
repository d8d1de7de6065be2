"""Issue 11, case 1: one run per checkout. A second run fails at once, with one line, and changes nothing.

Real processes on a copy of the project: `make run`, `pipelines/run_all.py` and
`pipelines/configure.py`, with a slow sweep keeping the first run busy.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from .conftest import BUSY_SELECT, PYTHON, TINY, copy_project, default_signals

# The first run: real MNIST digits and a sweep that keeps `select` busy for minutes.
SLOW = BUSY_SELECT
BUSY = 7


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    return copy_project(tmp_path_factory.mktemp("lock"))  # with the .venv linked: make sees it installed


def env() -> dict[str, str]:
    return {**os.environ, "PATH": f"{Path(PYTHON).parent}:{os.environ['PATH']}", "PYTHONHASHSEED": "0"}


def start(cmd: list[str], cwd: Path) -> subprocess.Popen:
    return subprocess.Popen(
        cmd,
        cwd=cwd,
        env=env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        preexec_fn=default_signals,  # stop() sends Ctrl-C: not ignored, whatever this test run inherited
    )


def wait_for(path: Path, proc: subprocess.Popen, timeout: float = 180) -> None:
    deadline = time.time() + timeout
    while not path.exists():
        assert proc.poll() is None, f"the first run ended early:\n{proc.stdout.read()}"
        assert time.time() < deadline, f"{path} never appeared"
        time.sleep(0.2)


def stop(proc: subprocess.Popen) -> str:
    """End a whole run (make, DVC and the stage) as Ctrl-C would; return its output."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGINT)
    try:
        out, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    return out


def second(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, env=env(), capture_output=True, text=True, timeout=120)


def gmmgen_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("gmmgen:")]


@pytest.mark.slow
def test_second_run_fails_at_once_and_changes_nothing_in_both_orders(project):
    run_all = [PYTHON, "pipelines/run_all.py"]
    configure = [PYTHON, "pipelines/configure.py"]
    params = project / "params.yaml"

    # Order 1: run_all.py holds the checkout; `make run` and configure.py find it busy.
    before = params.read_bytes()
    first = start([*run_all, *SLOW, "evaluate.enabled=false", "seed=5"], project)
    try:
        wait_for(project / "outputs" / "data" / "dataset.npz", first)
        make = second(["make", "-o", ".venv/.installed", "run", f"ARGS={' '.join([*TINY, 'seed=6'])}"], project)
        assert make.returncode != 0
        busy = gmmgen_lines(make.stderr)
        assert len(busy) == 1 and busy[0].startswith("gmmgen: busy: this checkout is in use by pid"), make.stderr
        assert "run_all.py" in busy[0] and "Error 7" in make.stderr  # make reports the status it got
        conf = second([*configure, "seed=6"], project)
        assert conf.returncode == BUSY and len(gmmgen_lines(conf.stderr)) == 1, conf.stderr
        assert params.read_bytes() == before, "params.yaml changed under a running run"
        assert not (project / "outputs" / "logs" / "configure").exists(), "the refused run wrote Hydra's files"
        assert first.poll() is None
    finally:
        stop(first)

    # Order 2: `make run` holds it from configure to DVC's last stage; run_all.py and configure.py are refused.
    shutil.rmtree(project / "outputs" / "data")
    shutil.rmtree(project / "outputs" / "logs" / "run_all")
    first = start(["make", "-o", ".venv/.installed", "run", f"ARGS={' '.join([*SLOW, 'seed=5'])}"], project)
    try:
        wait_for(project / "outputs" / "data" / "dataset.npz", first)
        written = params.read_bytes()
        assert b"seed: 5" in written
        for cmd in ([*run_all, *TINY, "seed=6"], [*configure, *TINY, "seed=6"]):
            refused = second(cmd, project)
            assert refused.returncode == BUSY, refused.stderr
            (line,) = gmmgen_lines(refused.stderr)
            assert line.startswith("gmmgen: busy:") and "make run WAIT=1" in line
        assert params.read_bytes() == written
        assert not (project / "outputs" / "logs" / "run_all").exists()
        assert first.poll() is None, "the first run was disturbed"
    finally:
        out = stop(first)
    assert "Error 130" in out or "interrupted" in out, out[-2000:]
    # The lock went with its holder: the checkout is free again at once.
    again = second([*configure, *TINY, "seed=6"], project)
    assert again.returncode == 0, again.stderr
    assert b"seed: 6" in params.read_bytes()


@pytest.mark.slow
def test_a_run_that_waits_runs_after_the_first_and_each_keeps_its_own_config(project):
    """WAIT=1: the second `make run` waits; each run's DVC record and MLflow run hold its own seed."""
    from mlflow import MlflowClient

    quick = [*TINY, "sweep.n_components=[2,3,4,6,8,12,16,24]", "model.n_init=4"]
    shutil.rmtree(project / "outputs" / "data", ignore_errors=True)
    first = start(["make", "-o", ".venv/.installed", "run", f"ARGS={' '.join([*quick, 'seed=5'])}"], project)
    wait_for(project / "outputs" / "data" / "dataset.npz", first)
    waiting = start(
        ["make", "-o", ".venv/.installed", "run", "WAIT=1", f"ARGS={' '.join([*quick, 'seed=6'])}"], project
    )
    try:
        out1, _ = first.communicate(timeout=900)
    except BaseException:
        stop(waiting)
        raise
    assert first.returncode == 0, out1[-3000:]
    lock_after_first = (project / "dvc.lock").read_text()
    out2, _ = waiting.communicate(timeout=900)
    assert waiting.returncode == 0, out2[-3000:]
    assert "gmmgen: waiting for pid" in out2
    assert "seed: 5" in lock_after_first and "seed: 6" in (project / "dvc.lock").read_text()
    client = MlflowClient(f"sqlite:///{project}/outputs/mlflow.db")
    runs = client.search_runs(
        [client.get_experiment_by_name("gmmgen").experiment_id], "tags.`gmmgen.kind` = 'pipeline'"
    )
    # (the module's first test left a KILLED run of its own)
    assert sorted(r.data.params["seed"] for r in runs if r.info.status == "FINISHED") == ["5", "6"]
    assert "RUNNING" not in {r.info.status for r in runs}
