"""DVC end to end on a copy of the project: repro, no-op rerun, partial reruns after param changes."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from .conftest import PYTHON, TINY, copy_project
from .test_console import noise_in


def sh(cmd: list[str], cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{Path(PYTHON).parent}:{os.environ['PATH']}", "PYTHONHASHSEED": "0"}
    result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)
    assert result.returncode == 0, f"{cmd} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def ran(output: str) -> list[str]:
    return re.findall(r"Running stage '(\w+)'", output)


def configure(project: Path, *overrides: str) -> None:
    sh([PYTHON, "pipelines/configure.py", *TINY, *overrides], project)


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return copy_project(tmp_path_factory.mktemp("project"))


def test_dvc_repro_then_noop_then_partial_reruns(project):
    dvc = [str(Path(PYTHON).parent / "dvc")]
    configure(project)
    first = sh([*dvc, "repro"], project)
    assert ran(first.stdout) == ["data", "reduce", "select", "generate", "classifier", "evaluate", "track"]
    # TensorFlow, MLflow and DVC keep quiet; each stage announces itself.
    assert noise_in(first.stdout + first.stderr) == []
    assert re.findall(r"^== (\w+):", first.stdout, flags=re.M) == [
        "data", "reduce", "select", "generate", "classifier", "evaluate", "track"
    ]  # fmt: skip
    run = json.loads((project / "outputs" / "track" / "run.json").read_text())
    assert run["experiment"] == "gmmgen" and len(run["run_id"]) == 32

    again = sh([*dvc, "repro"], project)
    assert ran(again.stdout) == [] and "Data and pipelines are up to date" in again.stdout

    # The MNIST pipeline (dvc.yaml); a bare `dvc status` also lists the tutorial's (pipelines/tutorial/dvc.yaml).
    status = sh([*dvc, "status", "dvc.yaml"], project)
    assert "up to date" in status.stdout

    configure(project, "pca.variance=0.9")
    pca_change = sh([*dvc, "repro"], project)
    # The classifier depends only on the data: reused.
    assert ran(pca_change.stdout) == ["reduce", "select", "generate", "evaluate", "track"]
    diff = sh([*dvc, "params", "diff", "--all"], project)
    assert "pca.variance" in diff.stdout and "0.9" in diff.stdout

    configure(project, "pca.variance=0.9", "sweep.n_components=[3,5]")
    sweep_change = sh([*dvc, "repro"], project)
    assert ran(sweep_change.stdout) == ["select", "generate", "evaluate", "track"]

    configure(project, "pca.variance=0.9", "sweep.n_components=[3,5]", "sample.n=30")
    sample_change = sh([*dvc, "repro"], project)
    assert ran(sample_change.stdout) == ["generate", "track"]

    metrics = sh([*dvc, "metrics", "show", "--json"], project)
    assert "n_dims_kept" in metrics.stdout and "chosen" in metrics.stdout
    dag = sh([*dvc, "dag"], project)
    assert all(s in dag.stdout for s in ("data", "reduce", "select", "generate", "classifier", "evaluate", "track"))
    plots = sh([*dvc, "plots", "show"], project)
    index = project / "outputs" / "dvc_plots" / "index.html"
    assert index.exists(), plots.stdout
    # Offline: every script the page loads ships with the project; no image or chart twice.
    html = index.read_text()
    scripts = re.findall(r'<script src="([^"]+)"', html)
    assert len(scripts) == 3 and all((index.parent / s).resolve().is_file() for s in scripts), scripts
    assert "://" not in " ".join(scripts)
    images = re.findall(r'<img src="([^"]+)"', html)
    assert images and len(images) == len(set(images))
    charts = re.findall(r"vegaEmbed\('#(\w+)", html)
    assert len(charts) == len(set(charts)), charts
    # dvc.yaml's four charts; the tutorial's own (pipelines/tutorial/dvc.yaml) come on top.
    assert len([c for c in charts if not c.startswith("outputs_tutorial_")]) == 4, charts


@pytest.mark.slow
def test_dvc_exp_run_set_param_reaches_every_seed(tmp_path):
    """`dvc exp run -S seed=1` edits params.yaml; parts whose seed is null follow it."""
    project = copy_project(tmp_path / "exp")
    dvc = [str(Path(PYTHON).parent / "dvc")]
    configure(project)
    sh(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "tiny"], project)
    sh([*dvc, "exp", "run", "-S", "seed=1"], project)
    prov = json.loads((project / "outputs" / "data" / "provenance.json").read_text())
    assert prov["seed"] == 1
    shown = sh([*dvc, "exp", "show", "--csv", "--no-pager"], project)
    assert "seed" in shown.stdout.splitlines()[0]
