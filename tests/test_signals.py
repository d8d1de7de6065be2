"""Issue 23, items 1, 3 and 7: Ctrl-C, SIGTERM and SIGHUP to the whole process group, as a terminal sends them.

- `make`'s filter of DVC's push hint sits in the same group: it must outlive
  the group's Ctrl-C, or the stage's pipe breaks and its later lines are lost.
- A signal once a stage's outputs are complete (the interpreter shutting
  down) gives one line and exit 0: DVC must not mark a finished stage failed.

Every child gets the dispositions a terminal gives it (``default_signals``),
so these pass under ``nohup`` too. Seconds each.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import PYTHON, REPO, default_signals

# A stage that holds Ctrl-C back (as `track` does around a store write), then writes on after it.
PRODUCER = """
import pathlib, signal, sys, time
signal.signal(signal.SIGINT, lambda *a: None)
signal.signal(signal.SIGTERM, lambda *a: None)
print("before", flush=True)
pathlib.Path(sys.argv[1]).touch()
time.sleep(1.5)  # the group's signal lands here
for i in range(3):
    print(f"after {i}", flush=True)
    time.sleep(0.05)
print("Use `dvc push` to send your updates to remote storage.", flush=True)
"""


def start(cmd: list[str], cwd: Path, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        cmd,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # a group of its own: the signal goes to all of it, as from a terminal
        preexec_fn=default_signals,
    )


def wait_for(path: Path, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while not path.exists():
        assert proc.poll() is None, f"ended early: {proc.communicate()}"
        assert time.time() < deadline, "timed out"
        time.sleep(0.01)


def finish(proc: subprocess.Popen, timeout: float = 60) -> tuple[str, str]:
    try:
        return proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_the_push_hint_filter_outlives_the_groups_signal(tmp_path, signum):
    script = tmp_path / "producer.py"
    script.write_text(PRODUCER)
    ready = tmp_path / "ready"
    recipe = "probe: ; @$(PROBE) $(DROP_PUSH_HINT)"
    cmd = ["make", "-s", "-C", str(REPO), "--no-print-directory", "--eval", recipe, "probe"]
    proc = start([*cmd, f"PROBE={sys.executable} {script} {ready}"], tmp_path)
    wait_for(ready, proc)
    os.killpg(proc.pid, signum)
    out, err = finish(proc)
    assert out.splitlines() == ["before", "after 0", "after 1", "after 2"], (out, err)  # hint dropped, none lost
    assert "BrokenPipe" not in err and "Traceback" not in err, err


# Run last in the interpreter's teardown (atexit runs last what registered first): a wide, sure window.
SITECUSTOMIZE = """
import atexit, os, pathlib, time

def _teardown():
    pathlib.Path(os.environ["GMMGEN_TEST_TEARDOWN"]).touch()
    time.sleep(3)

if os.environ.get("GMMGEN_TEST_TEARDOWN"):
    atexit.register(_teardown)
"""

WHAT = {
    signal.SIGINT: "interrupted (Ctrl-C)",
    signal.SIGTERM: "terminated (SIGTERM)",
    signal.SIGHUP: "hung up (SIGHUP)",
}


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_a_signal_in_a_finished_stages_teardown_is_one_line_and_exit_0(tmp_path, signum):
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
    mark = tmp_path / "teardown"
    env = {"GMMGEN_TEST_TEARDOWN": str(mark), "PYTHONPATH": f"{site}:{os.environ.get('PYTHONPATH', '')}"}
    # The track stage with tracking off: its outputs in a moment, then the interpreter's teardown.
    args = [str(REPO / "pipelines" / "stage.py"), "track", f"paths.root={tmp_path}", "tracking.enabled=false"]
    proc = start([PYTHON, *args], tmp_path, env)
    wait_for(mark, proc)
    assert (tmp_path / "outputs" / "track" / "run.json").exists()
    os.killpg(proc.pid, signum)
    _, err = finish(proc)
    assert proc.returncode == 0, err[-3000:]
    assert "Traceback" not in err and "Exception ignored" not in err, err[-3000:]
    lines = [line for line in err.splitlines() if line.startswith("gmmgen:")]
    assert lines == [f"gmmgen: {WHAT[signum]} after the work was done: its outputs are complete"], err[-3000:]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGHUP])
def test_a_signal_while_a_stage_works_is_one_line_and_its_status(tmp_path, signum):
    """The work of a stage (here the data stage's download cache lookup, started): 130 or 129, nothing kept."""
    ready = tmp_path / "teardown"
    site = tmp_path / "site"
    site.mkdir()
    # Stand in for a long stage: the stage's banner line is printed, then the signal lands in its work.
    (site / "sitecustomize.py").write_text(
        "import os, time, builtins\n"
        "if os.environ.get('GMMGEN_TEST_SLOW_STAGE'):\n"
        "    import gmmgen.runtime.console as c\n"
        "    _banner = c.banner\n"
        "    def banner(*a, **k):\n"
        "        _banner(*a, **k)\n"
        "        open(os.environ['GMMGEN_TEST_SLOW_STAGE'], 'w').close()\n"
        "        time.sleep(5)\n"
        "    c.banner = banner\n"
    )
    env = {"GMMGEN_TEST_SLOW_STAGE": str(ready), "PYTHONPATH": f"{site}:{os.environ.get('PYTHONPATH', '')}"}
    args = [str(REPO / "pipelines" / "stage.py"), "track", f"paths.root={tmp_path}", "tracking.enabled=false"]
    proc = start([PYTHON, *args], tmp_path, env)
    wait_for(ready, proc)
    os.killpg(proc.pid, signum)
    _, err = finish(proc)
    assert proc.returncode == {signal.SIGINT: 130, signal.SIGHUP: 129}[signum], err[-3000:]
    assert "Traceback" not in err, err[-3000:]
    (line,) = [line for line in err.splitlines() if line.startswith("gmmgen:")]
    assert line.startswith(f"gmmgen: {WHAT[signum]}: no partial stage folder was kept")
    assert not (tmp_path / "outputs" / "track" / "run.json").exists()


@pytest.mark.parametrize("chain", ["runlock", "dvc-like"])
def test_a_late_signal_under_make_run_lets_the_finished_stage_be_and_starts_nothing_after_it(tmp_path, chain):
    """The stage that finished exits 0 (DVC keeps it); the next command (runlock's) or stage (DVC's) does not run."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
    mark = tmp_path / "teardown"
    env = {"GMMGEN_TEST_TEARDOWN": str(mark), "PYTHONPATH": f"{site}:{os.environ.get('PYTHONPATH', '')}"}
    stage = [PYTHON, str(REPO / "pipelines" / "stage.py"), "track", f"paths.root={tmp_path}", "tracking.enabled=false"]
    second = [PYTHON, "-c", f"open({str(tmp_path / 'second')!r}, 'w')"]
    if chain == "runlock":
        commands = ["--", *stage, "--", *second]
    else:  # DVC runs stages one after the other and lives through a stage's Ctrl-C; bash stands in for it here
        import shlex

        script = f"{shlex.join(stage)} && GMMGEN_TEST_TEARDOWN= {shlex.join(stage[:2])} summary && "
        commands = ["--", "bash", "-c", script + shlex.join(second)]
    proc = start([PYTHON, "-m", "gmmgen.runtime.runlock", *commands], tmp_path, env)
    wait_for(mark, proc)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = finish(proc)
    assert proc.returncode == 130, err[-3000:]
    assert "Traceback" not in err, err[-3000:]
    lines = [line for line in err.splitlines() if line.startswith("gmmgen:")]
    assert lines[0] == "gmmgen: interrupted (Ctrl-C) after the work was done: its outputs are complete", lines
    if chain == "runlock":
        assert lines[1:] == ["gmmgen: interrupted (Ctrl-C) once stage.py had done its work: stopping there"], lines
    else:
        assert lines[1:] == [
            "gmmgen: interrupted (Ctrl-C) after the previous stage finished: this one did not start"
        ], lines
    assert (tmp_path / "outputs" / "track" / "run.json").exists()  # the finished stage's outputs stay
    assert not (tmp_path / "second").exists()
    assert not list((tmp_path / "outputs").glob(".run.status-*")), "runlock left its status files"


# An object torn down with the modules, after Python stopped handling signals: a slow __del__ holds that window open.
SLOW_MODULE_TEARDOWN = """
import os, pathlib, sys, time, types

class _Slow:
    def __del__(self):
        pathlib.Path(os.environ["GMMGEN_TEST_FINALIZE"]).touch()
        time.sleep(3)

if os.environ.get("GMMGEN_TEST_FINALIZE"):
    module = types.ModuleType("_gmmgen_slow_teardown")
    module.slow = _Slow()
    sys.modules["_gmmgen_slow_teardown"] = module
"""


def test_a_finished_stage_skips_the_module_teardown_a_signal_would_kill(tmp_path):
    """Python stops handling signals before it tears its modules down: a Ctrl-C there killed a finished stage."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(SLOW_MODULE_TEARDOWN)
    mark = tmp_path / "finalizing"
    env = {"GMMGEN_TEST_FINALIZE": str(mark), "PYTHONPATH": f"{site}:{os.environ.get('PYTHONPATH', '')}"}
    args = [str(REPO / "pipelines" / "stage.py"), "track", f"paths.root={tmp_path}", "tracking.enabled=false"]
    proc = start([PYTHON, *args], tmp_path, env)
    deadline = time.time() + 60
    while proc.poll() is None and not mark.exists() and time.time() < deadline:
        time.sleep(0.01)
    if mark.exists():  # the module teardown runs: a Ctrl-C in it must not undo the finished stage
        os.killpg(proc.pid, signal.SIGINT)
    _, err = finish(proc)
    assert proc.returncode == 0, f"{proc.returncode}: {err[-3000:]}"
    assert not mark.exists(), "the interpreter tore its modules down after the work was done"
    assert (tmp_path / "outputs" / "track" / "run.json").exists()


# Holds the stage open in its last lines: its last file is written, the function has not returned yet.
AFTER_LAST_FILE = """
import os, pathlib, time
if os.environ.get("GMMGEN_TEST_LAST_FILE"):
    import gmmgen.core.io as io
    _write_json = io.write_json
    def write_json(path, *args, **kwargs):
        _write_json(path, *args, **kwargs)
        if pathlib.Path(path).name == "run.json":
            pathlib.Path(os.environ["GMMGEN_TEST_LAST_FILE"]).touch()
            time.sleep(3)
    io.write_json = write_json
"""


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_after_a_stage_wrote_its_last_file_does_not_fail_it(tmp_path, signum):
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(AFTER_LAST_FILE)
    mark = tmp_path / "written"
    env = {"GMMGEN_TEST_LAST_FILE": str(mark), "PYTHONPATH": f"{site}:{os.environ.get('PYTHONPATH', '')}"}
    args = [str(REPO / "pipelines" / "stage.py"), "track", f"paths.root={tmp_path}", "tracking.enabled=false"]
    proc = start([PYTHON, *args], tmp_path, env)
    wait_for(mark, proc)
    os.killpg(proc.pid, signum)
    _, err = finish(proc)
    assert proc.returncode == 0, err[-3000:]
    lines = [line for line in err.splitlines() if line.startswith("gmmgen:")]
    assert lines == [f"gmmgen: {WHAT[signum]} after the work was done: its outputs are complete"], err[-3000:]
    assert (tmp_path / "outputs" / "track" / "run.json").exists()
