"""The experiment workflow from a plain shell: `make exp` needs no activated venv, `make exps` fits 120 columns."""

from __future__ import annotations

import os
import subprocess

import yaml

from .conftest import REPO, copy_project

GIT = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]
# No venv on PATH, none activated (PYTHONPATH kept: a worktree's tests import its own src).
PLAIN = {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/"), "PYTHONPATH": os.environ.get("PYTHONPATH", "")}


def test_make_exp_runs_the_venvs_dvc_and_stages_find_the_venv():
    """From a shell without the venv: the recipe calls .venv/bin/dvc by its path; every stage runs pipelines/python."""
    recipe = subprocess.run(
        ["make", "-n", "-o", ".venv/.installed", "exp", "ARGS=-S pca.variance=0.9"],
        cwd=REPO, capture_output=True, text=True, env=PLAIN, check=True,
    ).stdout  # fmt: skip
    assert f"{REPO}/.venv/bin/dvc exp run -S pca.variance=0.9" in recipe
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    assert all(stage["cmd"].startswith("pipelines/python ") for stage in stages.values())


def test_make_exps_fits_120_columns_with_the_headline_and_the_changed_param(tmp_path):
    """Two revisions that differ in pca.variance: the table shows it beside the headline, no line past 120."""
    project = copy_project(tmp_path / "project")
    from dvc.utils.hydra import apply_overrides

    for variance in ("0.85", "0.9"):  # two commits that differ in one param, whatever the checkout held
        apply_overrides(project / "params.yaml", [f"pca.variance={variance}"])
        subprocess.run([*GIT, "commit", "-qam", f"pca {variance}", "--allow-empty"], cwd=project, check=True)
    made = subprocess.run(
        ["make", "--no-print-directory", "-o", ".venv/.installed", "exps", "ARGS=-n 2"],
        cwd=project, capture_output=True, text=True, env={**PLAIN, "COLUMNS": "120"}, timeout=120,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr[-2000:]
    lines = made.stdout.splitlines()
    assert max(len(line) for line in lines) <= 120, made.stdout
    header = next(line for line in lines if "Experiment" in line)
    for column in ("select.n_components", "select.val_bpp", "evaluate.frechet_distance", "pca.variance"):
        assert column in header, f"no {column}: {header}"
    assert "…" not in made.stdout and "evaluate.ari" not in header and "Created" not in header
    assert any("0.85" in line for line in lines) and any("0.9 " in line for line in lines)
