"""DVC end to end on copies of the project, as a user runs it.

One module-scoped pair of projects serves every test here (each `make run` is
the expensive part): project A (a copy of this checkout) runs `make run` on a
tiny config and commits what it produced; project B is a fresh `git clone` of
A at another path, where `make run` must reproduce the committed dvc.lock and
results byte for byte (git status clean), a second `make run` must be a no-op,
and `dvc exp run` must work from a plain shell. A third project, a colleague's
clone of A, gets A's outputs through the DVC remote (`make push`, `make pull`)
and its `make run` computes nothing.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from mlflow import MlflowClient

from .conftest import PYTHON, REPO, SHARED_MNIST, TINY, TUTORIAL_SMALL, clone_project, copy_project
from .test_console import noise_in

BIN = Path(PYTHON).parent
DVC = str(BIN / "dvc")
MODEL = "gmmgen-digit-generator"
# Every environment variable a venv activation or `make` would set is left out: a plain shell.
PLAIN_ENV = {
    k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHASHSEED", "MAKEFLAGS")
}
PLAIN_ENV["PATH"] = "/usr/local/bin:/usr/bin:/bin"
GIT = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]


def sh(cmd: list[str], cwd: Path, timeout: float = 600, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=PLAIN_ENV)
    if check:
        assert result.returncode == 0, f"{cmd} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def make_run(project: Path) -> subprocess.CompletedProcess:
    # -o: the linked .venv is installed already (its stamp is older than the copy's lock file).
    return sh(["make", "-o", ".venv/.installed", "run", f"ARGS={' '.join(TINY)}"], project)


def ran(output: str) -> list[str]:
    return re.findall(r"Running stage '(\w+)'", output)


def git_status(project: Path) -> str:
    return sh(["git", "status", "--porcelain"], project).stdout


def client_of(project: Path) -> MlflowClient:
    uri = f"sqlite:///{project}/outputs/mlflow.db"
    return MlflowClient(uri, registry_uri=uri)


def pipeline_runs(project: Path):
    client = client_of(project)
    exp = client.get_experiment_by_name("gmmgen")
    return client.search_runs([exp.experiment_id], "tags.`gmmgen.kind` = 'pipeline'", order_by=["start_time ASC"])


@pytest.fixture(scope="module")
def projects(tmp_path_factory):
    """(A, B, first make run's output in A, first and second make run's output in B)."""
    a = copy_project(tmp_path_factory.mktemp("a") / "project")
    sh([PYTHON, "pipelines/configure.py", *TINY], a)
    sh([*GIT, "commit", "-qam", "tiny config"], a)
    first_a = make_run(a)
    changed = {line[3:] for line in git_status(a).splitlines()}
    sh([*GIT, "commit", "-qam", "dvc.lock and results of the tiny config"], a)
    b = clone_project(a, tmp_path_factory.mktemp("b") / "clone")
    first_b = make_run(b)
    second_b = make_run(b)
    return a, b, first_a, changed, first_b, second_b


def test_make_run_on_a_fresh_clone_reproduces_the_committed_lock(projects):
    a, b, first_a, changed, first_b, second_b = projects
    stages = ["data", "reduce", "select", "generate", "classifier", "evaluate", "summary", "track"]
    assert ran(first_a.stdout) == stages
    # TensorFlow, MLflow and DVC keep quiet; each stage announces itself.
    assert noise_in(first_a.stdout + first_a.stderr) == []
    assert re.findall(r"^== (\w+):", first_a.stdout, flags=re.M) == ["configure", *stages]
    # A's run changed only what a new config changes: the lock and the headline metrics.
    assert changed == {"dvc.lock", "results/metrics.json"}
    # B: another path, another time, an empty DVC cache, a fresh classifier: the same bytes. (The
    # summary's inputs come out as committed, so DVC keeps the committed results/metrics.json.)
    assert ran(first_b.stdout) == [s for s in stages if s != "summary"]
    assert git_status(b) == "", "make run on a fresh clone left changes: outputs are not pure"
    assert (b / "dvc.lock").read_bytes() == (a / "dvc.lock").read_bytes()
    assert ran(second_b.stdout) == [] and "Data and pipelines are up to date" in second_b.stdout
    assert not (b / "outputs" / "run_start.json").exists()
    # The MNIST pipeline (dvc.yaml); a bare `dvc status` also lists the tutorial's (pipelines/tutorial/dvc.yaml).
    assert "up to date" in sh([DVC, "status", "dvc.yaml"], b).stdout


COMPUTE_STAGES = ("data", "reduce", "select", "generate", "classifier", "evaluate")
#: Everything outside the compute path: process handling and console text, redaction, MLflow, reports,
#: the tutorial (its package, config and entry points), the other entry points and the README. Editing
#: any of them reruns no compute stage.
OUTSIDE_THE_COMPUTE_PATH = (
    "src/gmmgen/runtime/*.py",
    "src/gmmgen/redact.py",
    "src/gmmgen/tracking/*.py",
    "src/gmmgen/report/*.py",
    "src/gmmgen_tutorial/*.py",
    "pipelines/tutorial/*.py",
    "conf/tutorial.yaml",
    "pipelines/configure.py",
    "pipelines/run_all.py",
    "pipelines/findings.py",
    "README.md",
)


def listed_stages(status: str) -> list[str]:
    """The stages `dvc status` lists as changed (its lines ``<stage>:`` at the start)."""
    return re.findall(r"^(\w+):", status, flags=re.M)


def test_editing_what_is_outside_the_compute_path_reruns_no_compute_stage(projects):
    """Issue 21's test: a comment appended to every module outside the compute path; `dvc status` lists none of
    data, reduce, select, generate, classifier, evaluate (the tracking stage, whose code changed, is listed)."""
    _, b, *_ = projects
    touched = sorted({f for pattern in OUTSIDE_THE_COMPUTE_PATH for f in b.glob(pattern) if f.is_file()})
    assert len(touched) >= 30 and b / "src/gmmgen_tutorial/config.py" in touched, touched
    try:
        for f in touched:
            f.write_text(f.read_text() + "\n# an edit outside the compute path\n")
        status = sh([DVC, "status", "dvc.yaml"], b).stdout
    finally:
        sh(["git", "checkout", "--", *[str(f.relative_to(b)) for f in touched]], b)
    listed = listed_stages(status)
    assert [s for s in listed if s in COMPUTE_STAGES] == [], status
    assert "track" in listed, status  # the edits were seen: the stage that logs to MLflow runs again
    assert git_status(b) == "" and "up to date" in sh([DVC, "status", "dvc.yaml"], b).stdout


@pytest.mark.slow  # six tutorial stages, small: about 3 minutes on a busy 2-core machine (fast checks: test_tutorial)
@pytest.mark.skipif(not (SHARED_MNIST / "t10k-images-idx3-ubyte.gz").exists(), reason="no MNIST test IDX folder")
def test_make_tutorial_leaves_an_applied_experiment_alone(projects):
    """Issue 22: an experiment applied to params.yaml (`dvc exp run -S pca.variance=0.9` writes it so) survives
    `make tutorial`, which writes only the tutorial's own params file: params.yaml byte for byte, and
    `dvc status dvc.yaml` as it was (reduce and the stages after it changed, the tutorial none of them)."""
    from dvc.utils.hydra import apply_overrides

    _, b, *_ = projects
    try:
        apply_overrides(b / "params.yaml", ["pca.variance=0.9"])  # what `dvc exp run -S` does to the file
        applied = (b / "params.yaml").read_bytes()
        status = sh([DVC, "status", "dvc.yaml"], b).stdout
        assert "reduce" in listed_stages(status) and "data" not in listed_stages(status), status
        args = [*TUTORIAL_SMALL, "tracking.enabled=false"]
        tutorial = sh(["make", "-o", ".venv/.installed", "tutorial", f"ARGS={' '.join(args)}"], b)
        assert "Running stage 'pipelines/tutorial/dvc.yaml:tutorial_em'" in tutorial.stdout, tutorial.stdout
        assert "pipelines/tutorial/params.yaml updated" in tutorial.stdout
        assert (b / "outputs" / "tutorial" / "em" / "metrics.json").exists()
        assert (b / "params.yaml").read_bytes() == applied
        assert sh([DVC, "status", "dvc.yaml"], b).stdout == status
    finally:  # DVC stages the tutorial's new lock (core.autostage): back to the commit, index and files
        sh(["git", "checkout", "HEAD", "--", "params.yaml", "pipelines/tutorial"], b)
    assert git_status(b) == ""


def lock_outs(project: Path) -> dict[str, bytes | dict[str, bytes]]:
    """The bytes of every file `dvc.lock` lists as an out of the MNIST pipeline (folders: file by file)."""
    found: dict[str, bytes | dict[str, bytes]] = {}
    for stage in yaml.safe_load((project / "dvc.lock").read_text())["stages"].values():
        for out in stage.get("outs", []):
            path = project / out["path"]
            if path.is_dir():
                found[out["path"]] = {str(f.relative_to(path)): f.read_bytes() for f in path.rglob("*") if f.is_file()}
            else:
                found[out["path"]] = path.read_bytes()
    return found


def test_a_colleague_pulls_from_the_remote_and_make_run_recomputes_nothing(projects, tmp_path):
    """make push in A; a clone pointed at A's remote as the README says; make pull; make run is a no-op."""
    a, *_ = projects
    push = sh(["make", "-o", ".venv/.installed", "push"], a)
    # The default remote `local` resolves against A's .dvc/: A's outputs/dvc-remote.
    remote = a / "outputs" / "dvc-remote"
    assert any(f.is_file() for f in remote.rglob("*")), push.stdout
    assert "files pushed" in push.stdout and "WARNING" not in push.stdout + push.stderr, push.stdout + push.stderr
    c = clone_project(a, tmp_path / "colleague")
    # The README's team setup: the shared remote as the clone's default, in the git-ignored config.local.
    sh([DVC, "remote", "add", "--local", "-d", "team", str(remote)], c)
    pull = sh(["make", "-o", ".venv/.installed", "pull"], c)
    assert lock_outs(c) == lock_outs(a), pull.stdout
    mtimes = {p: p.stat().st_mtime_ns for p in (c / "outputs").rglob("*") if p.is_file()}
    run = make_run(c)
    # No stage ran: everything was served by the pull, so nothing was logged to MLflow either.
    assert ran(run.stdout) == [] and "Data and pipelines are up to date" in run.stdout, run.stdout
    assert len(re.findall(r"Stage '\w+' didn't change, skipping", run.stdout)) == 8, run.stdout
    assert {p: p.stat().st_mtime_ns for p in mtimes} == mtimes
    assert not (c / "outputs" / "mlflow.db").exists() or pipeline_runs(c) == []
    assert "gmmgen summary" in run.stdout  # the summary of the pulled results
    assert git_status(c) == ""
    status = sh([DVC, "status", "--cloud", "dvc.yaml"], c)
    assert "Cache and remote 'team' are in sync." in status.stdout, status.stdout


def test_hashed_outputs_hold_no_timing_path_or_date(projects):
    a, b, *_ = projects
    lock = yaml.safe_load((b / "dvc.lock").read_text())
    for stage in lock["stages"].values():
        for out in stage.get("outs", []):
            path = b / out["path"]
            if path.suffix in (".json", ".csv"):
                text = path.read_text()
                assert str(b) not in text and str(a) not in text, out["path"]
                assert "seconds" not in text, out["path"]
    # The timings are kept, where DVC does not look.
    assert "fit_seconds" in json.loads((b / "outputs" / "select" / "runtime.json").read_text())
    assert [o["path"] for o in lock["stages"]["track"]["outs"]] == ["outputs/track/logged.json"]


def test_make_run_logs_the_pipeline_with_mlflow_source_tags_and_promotes_it(projects):
    _, b, _, _, first_b, _ = projects
    (run,) = pipeline_runs(b)  # the no-op second run logged nothing
    tags = run.data.tags
    head = sh(["git", "rev-parse", "HEAD"], b).stdout.strip()
    assert tags["mlflow.source.git.commit"] == head and tags["git.dirty"] == "false"
    assert tags["mlflow.source.name"] == "make run" and tags["mlflow.source.type"] == "LOCAL"
    assert tags["mlflow.note.content"].startswith("Chose full K=") and "\n" not in tags["mlflow.note.content"]
    # The parent run spans the pipeline, from before the data stage to after the track stage.
    data_written = (b / "outputs" / "data" / "dataset.npz").stat().st_mtime * 1000
    assert run.info.start_time < data_written < run.info.end_time
    assert not any(k.startswith(("paths.", "tracking.", "hydra.")) for k in run.data.params)
    assert run.data.params["pca.variance"] == "0.85" and "sweep.n_jobs" not in run.data.params
    client = client_of(b)
    champion = client.get_model_version_by_alias(MODEL, "champion")
    assert champion.run_id == run.info.run_id
    assert json.loads((b / "outputs" / "track" / "run.json").read_text())["run_id"] == run.info.run_id
    # The first model of the registry became champion, said so on the console, and carries its tags.
    assert champion.tags["promotion"] == "champion" and champion.tags["git.commit"] == head
    assert champion.tags["promotion.reason"].startswith("no @champion yet: the first model")
    assert f"model version {champion.version} is @champion: no @champion yet" in first_b.stdout
    assert champion.description.startswith("PCA + full K=")
    # No per-fit child runs unless tracking.child_runs=true.
    exp = client.get_experiment_by_name("gmmgen")
    assert client.search_runs([exp.experiment_id], "tags.`gmmgen.kind` = 'fit'") == []


def test_each_run_logs_its_digits_with_the_digest_from_dvc_lock_and_the_gate_passes_on_equal_results(projects):
    a, b, *_ = projects
    md5 = yaml.safe_load((b / "dvc.lock").read_text())["stages"]["data"]["outs"][0]
    assert md5["path"] == "outputs/data/dataset.npz"
    run_a, run_b = pipeline_runs(a)[0], pipeline_runs(b)[0]  # each checkout's first make run
    digests = {c: f"{md5['md5'][:12]}-{c}" for c in ("train", "validation", "test", "judge")}
    for run in (run_a, run_b):  # two checkouts, two stores, the same digits: the same digests
        inputs = client_of(a if run is run_a else b).get_run(run.info.run_id).inputs.dataset_inputs
        found = {next(t.value for t in i.tags if t.key == "mlflow.data.context"): i.dataset for i in inputs}
        assert {c: d.digest for c, d in found.items()} == digests
        assert json.loads(found["validation"].profile)["md5_from"] == "dvc.lock"
    champion = client_of(b).get_model_version_by_alias(MODEL, "champion")
    assert champion.tags["data.md5"] == md5["md5"] and champion.tags["data.val_digest"] == digests["validation"]
    # The gate against the committed results and lock: the same digits, every number equal.
    gate = sh(["make", "-s", "-o", ".venv/.installed", "gate", "REF=HEAD"], b)
    rows = {line.split("  ")[0]: line.split()[-1] for line in gate.stdout.splitlines()[2:-1]}
    assert rows["digits (dataset.npz md5)"] == "ok" and rows["validation NLL (bits/pixel)"] == "ok", gate.stdout
    assert f" {md5['md5'][:12]}  " in gate.stdout and gate.stdout.rstrip().endswith("gate: passed against HEAD")


def test_failed_experiment_leaves_nothing_modified(projects):
    _, b, *_ = projects
    before = {p: (b / p).read_bytes() for p in ("params.yaml", "dvc.lock", "results/metrics.json")}
    result = sh(["make", "-o", ".venv/.installed", "exp", "ARGS=-S pca.variance=1.5"], b, check=False)
    assert result.returncode != 0
    assert "pca.variance=1.5" in result.stderr + result.stdout
    assert git_status(b) == ""
    assert {p: (b / p).read_bytes() for p in before} == before
    assert "up to date" in sh([DVC, "status", "dvc.yaml"], b).stdout


@pytest.mark.slow  # a third pipeline run (about 3 minutes on a busy 2-core machine)
def test_dvc_exp_run_from_a_plain_shell_compares_with_main(projects):
    _, b, *_ = projects
    # No venv on PATH, nothing activated: the stage commands find the project's interpreter.
    exp = sh([DVC, "exp", "run", "-S", "pca.variance=0.9", "-n", "pca90"], b)
    # The classifier depends only on the data: reused.
    assert ran(exp.stdout) == ["reduce", "select", "generate", "evaluate", "summary", "track"]
    diff = json.loads(sh([DVC, "metrics", "diff", "HEAD", "--json"], b).stdout)
    numbers = diff["results/metrics.json"]
    assert numbers["reduce.variance_explained"]["old"] < 0.9 <= numbers["reduce.variance_explained"]["new"]
    params = json.loads(sh([DVC, "params", "diff", "HEAD", "--json"], b).stdout)
    changed = params["params.yaml"]["pca.variance"]
    assert (changed["old"], changed["new"]) == (0.85, 0.9)
    # make compare: a column per revision (workspace, HEAD, the experiment), real numbers in each.
    table = sh(["make", "-s", "-o", ".venv/.installed", "compare"], b).stdout.splitlines()
    branch = sh(["git", "branch", "--show-current"], b).stdout.strip()
    assert table[0].split() == ["workspace", branch, "pca90"], table[0]
    rows = {line.split()[0]: line.split()[1:] for line in table[2:] if line.strip()}
    assert rows["pca.variance"] == ["0.9", "0.85", "0.9"]
    old, new = float(rows["reduce.variance_explained"][1]), float(rows["reduce.variance_explained"][2])
    assert old < 0.9 <= new
    assert all(v != "-" for k in ("select.bic", "evaluate.frechet_distance") for v in rows[k])
    # The experiment logged its own run but did not move the served alias.
    runs = pipeline_runs(b)
    assert len(runs) == 2 and runs[1].data.params["pca.variance"] == "0.9"
    assert runs[1].data.tags["git.dirty"] == "true"  # params.yaml differs from the commit
    assert client_of(b).get_model_version_by_alias(MODEL, "champion").run_id == runs[0].info.run_id


def test_metrics_show_is_the_headline_only(projects):
    _, b, *_ = projects
    shown = json.loads(sh([DVC, "metrics", "show", "--json"], b).stdout)
    (files,) = [rev["data"] for rev in shown.values()]
    # The MNIST pipeline's only metrics file (a bare `dvc metrics show` adds the tutorial's).
    assert [f for f in files if not f.startswith("outputs/tutorial/")] == ["results/metrics.json"]
    flat = [k for group in files["results/metrics.json"]["data"].values() for k in group]
    # The headline and each choice's verdict (three criteria, the two bests), not every stage's numbers.
    assert 5 <= len(flat) <= 40
    verdict = files["results/metrics.json"]["data"]["verdict"]
    assert {"bic", "aic", "heldout", "likelihood_best", "sample_best"} == set(verdict)
    assert files["results/metrics.json"]["data"]["evaluate"]["copying_status"] in ("copying", "not copying", "untested")


HIDDEN_LOAD = """
import json, sys
from pathlib import Path
# Hide the project's package: drop every path entry that holds a gmmgen folder (the editable install's src/).
sys.path = [p for p in sys.path if not (Path(p or ".") / "gmmgen").exists()]
import importlib.util
assert importlib.util.find_spec("gmmgen") is None, "gmmgen is still importable"
import mlflow, pandas as pd
mlflow.set_tracking_uri(sys.argv[1])
model = mlflow.pyfunc.load_model(sys.argv[2])
images = model.predict(pd.DataFrame({"n": [3], "seed": [5]}))
import gmmgen
print(json.dumps({"package": gmmgen.__file__, "images": images.tolist()}))
"""


def load_hidden(project: Path, uri: str, tmp_path: Path) -> dict:
    """Load and predict with ``uri`` in a fresh interpreter where the project's package cannot be imported."""
    env = {**PLAIN_ENV, "PYTHONPATH": ""}
    result = subprocess.run(
        [PYTHON, "-c", HIDDEN_LOAD, f"sqlite:///{project}/outputs/mlflow.db", uri],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def make_serve(project: Path):
    """`make serve` on a free port; yields the invocations URL; stops the server it started."""
    import signal
    import urllib.request

    port = free_port()
    proc = subprocess.Popen(
        ["make", "-o", ".venv/.installed", "serve", f"SERVE_PORT={port}"],
        cwd=project,
        env=PLAIN_ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=5) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            assert proc.poll() is None, proc.stderr.read().decode()[-3000:]
            assert time.monotonic() < deadline, "mlflow models serve did not come up"
            time.sleep(1)
        yield f"http://127.0.0.1:{port}/invocations"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def post(url: str, payload: object) -> tuple[int, str]:
    import urllib.error
    import urllib.request

    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=120) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def test_champion_loads_with_the_package_hidden_and_is_served_with_checked_input(projects, tmp_path):
    _, b, *_ = projects
    uri = f"models:/{MODEL}@champion"
    hidden = load_hidden(b, uri, tmp_path)
    # The package came from the model's own code folder, not from the project.
    assert not hidden["package"].startswith((str(b / "src"), str(REPO / "src")))
    assert "/code/gmmgen/" in hidden["package"]
    with make_serve(b) as url:
        status, body = post(url, {"dataframe_records": [{"n": 3, "seed": 5}]})
        assert status == 200, body
        assert json.loads(body)["predictions"] == hidden["images"]  # the champion, as loaded above
        bad = {
            "n=0": ([{"n": 0, "seed": 1}], "n=0 must be between 1 and 10000"),
            "n not an integer": ([{"n": 2.5, "seed": 1}], "n=2.5 must be an integer"),
            "seed not an integer": ([{"n": 2, "seed": "abc"}], "seed='abc' must be an integer"),
            "seed missing": ([{"n": 2}], "missing inputs ['seed']"),
            "negative seed": ([{"n": 2, "seed": -1}], "seed=-1 must be between 0 and"),
            "n beyond the cap": ([{"n": 10**9, "seed": 1}], "must be between 1 and 10000"),
            "too many in total": ([{"n": 6000, "seed": s} for s in range(2)], "12000 digits in total; at most 10000"),
            "oversized request": ([{"n": 1, "seed": s} for s in range(20000)], "20000 digits in total"),
        }
        for what, (records, expected) in bad.items():
            status, body = post(url, {"dataframe_records": records})
            assert status == 400, f"{what}: HTTP {status}: {body[:500]}"
            answer = json.loads(body)
            assert expected in answer["message"], f"{what}: {answer['message'][:500]}"
            assert "stack_trace" not in answer and "Traceback" not in body, f"{what}: {body[:500]}"


def test_dag_and_offline_plots(projects):
    _, b, *_ = projects
    dag = sh([DVC, "dag", "dvc.yaml"], b)
    stages = ("data", "reduce", "select", "generate", "classifier", "evaluate", "summary", "track")
    assert all(s in dag.stdout for s in stages)
    plots = sh([DVC, "plots", "show"], b)
    index = b / "outputs" / "dvc_plots" / "index.html"
    assert index.exists(), plots.stdout
    # Offline: every script the page loads ships with the project; no image or chart twice.
    html = index.read_text()
    scripts = re.findall(r'<script src="([^"]+)"', html)
    assert len(scripts) == 3 and all((index.parent / s).resolve().is_file() for s in scripts), scripts
    assert "://" not in " ".join(scripts)
    images = re.findall(r'<img src="([^"]+)"', html)
    assert images and len(images) == len(set(images))
    # The MNIST pipeline's four charts, each once (a bare `dvc plots show` adds the tutorial's).
    charts = [c for c in re.findall(r"vegaEmbed\('#(.*?)', ", html) if "tutorial" not in c]
    assert len(charts) == 4 == len(set(charts)), charts


@pytest.mark.slow
def test_a_sweep_leaves_the_served_model_alone(projects, tmp_path):
    """After `make sweep`, @champion (what `make serve` serves) is still the model `make run` logged."""
    _, b, *_ = projects
    client = client_of(b)
    champion = client.get_model_version_by_alias(MODEL, "champion")
    versions = {v.version for v in client.search_model_versions(f"name = '{MODEL}'")}
    before = load_hidden(b, f"models:/{MODEL}@champion", tmp_path)
    sweep = ["evaluate.enabled=false", *[a for a in TINY if not a.startswith("evaluate.")]]
    sh(["make", "-o", ".venv/.installed", "sweep", "SWEEP=seed=1,2", f"ARGS={' '.join(sweep)}"], b)
    assert client.get_model_version_by_alias(MODEL, "champion").version == champion.version
    assert {v.version for v in client.search_model_versions(f"name = '{MODEL}'")} == versions
    with make_serve(b) as url:
        status, body = post(url, {"dataframe_records": [{"n": 3, "seed": 5}]})
    assert status == 200 and json.loads(body)["predictions"] == before["images"]


@pytest.mark.slow
def test_make_run_on_a_clone_of_this_checkout_leaves_git_clean(tmp_path):
    """The committed dvc.lock and results/ are what `make run` of the default config produces here."""
    if (REPO / ".." / "shared").resolve() != (REPO.parent / "shared").resolve() or not (
        REPO.parent / "shared"
    ).exists():
        pytest.skip("the default config reads ../shared/data/mnist beside the checkout")
    (tmp_path / "shared").symlink_to((REPO.parent / "shared").resolve())
    project = copy_project(tmp_path / "project")
    result = sh(["make", "-o", ".venv/.installed", "run"], project, timeout=1800)
    assert git_status(project) == "", result.stdout[-3000:]
    again = sh(["make", "-o", ".venv/.installed", "run"], project)
    assert ran(again.stdout) == []
