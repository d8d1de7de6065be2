"""Issue 11, cases 6 and 7: values that escaped validation, one exit status per kind of error, bad upstream files.

Every failure prints one ``gmmgen:`` line and exits with its kind's status,
the same from `make`, the stage entry points and `run_all.py`.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

from gmmgen.pipeline.config import ConfigError
from gmmgen.pipeline.stages.data import run_data
from gmmgen.pipeline.stages.reduce import run_reduce
from gmmgen.pipeline.stages.select import run_select
from gmmgen.runtime.cli import EXIT_CONFIG, EXIT_DATA, EXIT_UPSTREAM
from gmmgen.runtime.validation import validate

from .conftest import PYTHON, REPO, TINY, compose_cfg, copy_project, run_py

PIPELINES = REPO / "pipelines"


def one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("gmmgen: ")
    return lines[0]


# ----------------------------------------------------------------------------- case 6: validation before any work

ESCAPED = [
    (["pca.variance=null", "pca.n_components=785"], "at most the 784 pixels"),
    (["data=digits", "pca.variance=null", "pca.n_components=65"], "at most the 64 pixels"),
    (["data.n_train=100", "pca.variance=null", "pca.n_components=150"], "at most data.n_train=100"),
    (["tracking.uri=file:///tmp/mlruns"], "file store"),
    (["tracking.uri=/tmp/mlruns"], "file store"),
    (["tracking.uri=sqlite:///relative.db"], "absolute file"),
    (["tracking.uri=sqlite://"], "absolute file"),
    (["tracking.uri=ftp://host/x"], "unsupported scheme 'ftp'"),
    (["tracking.uri=mysql+nosuchdriver://host/db"], "unknown mysql driver"),
    (["tracking.uri=http://"], "names no host"),
]


@pytest.mark.parametrize(("overrides", "message"), ESCAPED, ids=[" ".join(e[0]) for e in ESCAPED])
def test_values_that_failed_late_are_config_errors(tmp_path, overrides, message):
    with pytest.raises(ConfigError, match=message) as info:
        validate(compose_cfg(tmp_path, overrides))
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("module", ["psycopg2", "pg8000"])
def test_a_database_uri_needs_its_driver_installed(tmp_path, module):
    scheme = "postgresql" if module == "psycopg2" else f"postgresql+{module}"
    cfg = compose_cfg(tmp_path, [f"tracking.uri={scheme}://mlflow@db-host/mlflow"])
    if importlib.util.find_spec(module) is None:
        with pytest.raises(ConfigError, match=f"driver '{module}' is not installed"):
            validate(cfg)
    else:
        validate(cfg)


def test_ui_settings_that_nothing_used_are_gone(tmp_path):
    cfg = compose_cfg(tmp_path)
    assert "ui_host" not in cfg.tracking and "ui_port" not in cfg.tracking


@pytest.mark.slow
def test_make_run_refuses_path_settings_that_dvc_cannot_follow(tmp_path):
    for key in ("paths.root", "paths.outputs"):
        result = run_py([str(PIPELINES / "configure.py"), f"{key}={tmp_path / 'elsewhere'}"], cwd=tmp_path)
        assert result.returncode == EXIT_CONFIG, result.stderr
        assert one_line(result.stderr).startswith(f"gmmgen: config error: {key}=")
        assert not (tmp_path / "params.yaml").exists() and not (tmp_path / "elsewhere").exists()


def test_one_status_per_kind_from_every_entry_point(tmp_path):
    """A rule error, an override error and a type error are all config errors (2), from run_all.py and a stage."""
    for script, bad in (
        (["run_all.py"], "pca.variance=1.5"),
        (["run_all.py"], "pca.varience=0.9"),
        (["stage.py", "reduce"], "data.n_train=lots"),
    ):
        result = run_py([str(PIPELINES / script[0]), *script[1:], f"paths.root={tmp_path}", bad], cwd=tmp_path)
        assert result.returncode == EXIT_CONFIG, (script, bad, result.stderr)
        assert one_line(result.stderr).startswith("gmmgen: config error: "), result.stderr
    assert not (tmp_path / "outputs" / "logs").exists(), "a refused config left Hydra's files"


@pytest.mark.slow
def test_a_data_error_has_one_status_through_run_all_the_stage_and_make_run(tmp_path):
    """Through make and DVC (which exits 1 for any stage failure) the stage's own status comes back."""
    import subprocess

    # Sizes the config check cannot refuse (a download's pool is unknown beforehand): no origin answers.
    nowhere = tmp_path / "nowhere"
    no_origin = ["data.source=download", f"data.origins=[{nowhere}]"]
    message = f"gmmgen: error: no MNIST origin could be used ({nowhere}: "
    for script in (["run_all.py"], ["stage.py", "data"]):
        args = [str(PIPELINES / script[0]), *script[1:], f"paths.root={tmp_path}", *no_origin, "tracking.enabled=false"]
        result = run_py(args, cwd=tmp_path)
        assert result.returncode == EXIT_DATA, result.stderr
        assert one_line(result.stderr).startswith(message)
    project = copy_project(tmp_path / "p")  # its .venv is linked
    env = {**os.environ, "PATH": f"{Path(PYTHON).parent}:{os.environ['PATH']}"}
    result = subprocess.run(
        ["make", "-o", ".venv/.installed", "run", f"ARGS={' '.join(no_origin)}"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert message in result.stderr
    assert f"Error {EXIT_DATA}" in result.stderr, result.stderr[-2000:]


# ----------------------------------------------------------------------------- case 7: bad upstream files


@pytest.fixture
def built(tmp_path):
    cfg = compose_cfg(tmp_path, TINY)
    validate(cfg)
    for run in (run_data, run_reduce, run_select):
        run(cfg)
    return tmp_path


@pytest.mark.parametrize(
    ("file", "stage", "script"),
    [
        ("select/model.joblib", "select", "generate"),
        pytest.param("reduce/pca.joblib", "reduce", "select", marks=pytest.mark.slow),  # select reads the PCA
        pytest.param("data/dataset.npz", "data", "reduce", marks=pytest.mark.slow),
    ],
)
def test_a_corrupt_upstream_file_is_named_with_how_to_rebuild_it(built, file, stage, script):
    path = built / "outputs" / file
    path.write_bytes(b"junk, not what the stage wrote" * 10)
    result = run_py([str(PIPELINES / "stage.py"), script, f"paths.root={built}", *TINY], cwd=built)
    assert result.returncode == EXIT_UPSTREAM, result.stderr
    line = one_line(result.stderr)
    assert f"gmmgen: error: {path} cannot be loaded (" in line
    assert f"dvc repro --force --single-item {stage}" in line
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_an_upstream_file_of_the_wrong_kind_is_named(built):
    model = built / "outputs" / "select" / "model.joblib"
    model.write_bytes((built / "outputs" / "reduce" / "pca.joblib").read_bytes())  # a PCA where the mixture goes
    result = run_py([str(PIPELINES / "stage.py"), "generate", f"paths.root={built}", *TINY], cwd=built)
    assert result.returncode == EXIT_UPSTREAM, result.stderr
    assert f"{model} holds a PCA, not a GaussianMixture" in one_line(result.stderr)
