"""`make plots` shows the plots whose files exist: before `make tutorial`, no "failed to load" line."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from gmmgen.report import plots_page

from .conftest import PYTHON, REPO

DVC = str(Path(PYTHON).parent / "dvc")
TUTORIAL = ["outputs/tutorial/em/history.csv", "outputs/tutorial/clustering/criteria.csv"]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The pipelines' dvc.yaml files, DVC's config, template and page in a git repository; the MNIST
    pipeline's plot files present (small made-up CSVs and PNGs), the tutorial's absent."""
    for rel in (*plots_page.DVC_FILES, ".dvc/config", ".dvc/plots/sound_fits.json", "vendor/dvc_plots.html"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / rel, tmp_path / rel)
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    csv = {
        "outputs/select/sweep.csv": "n_components,covariance_type,status,bic,aic,val_bpp\n2,full,sound,9,8,7.1\n"
        "4,full,sound,8,7,7.0\n",
        "outputs/reduce/explained_variance.csv": "n_components,cumulative_variance\n1,0.3\n2,0.5\n",
        "outputs/evaluate/criteria.csv": "criterion,frechet_distance\nbic,60\naic,62\n",
    }
    for rel, text in csv.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    for _, files in plots_page.plots_of(tmp_path, "dvc.yaml"):
        for f in files:
            if f.suffix == ".png":
                f.parent.mkdir(parents=True, exist_ok=True)
                Image.new("RGB", (60, 60)).save(f)
    return tmp_path


def make_plots(project: Path) -> tuple[subprocess.CompletedProcess, str]:
    run = subprocess.run(
        [PYTHON, "-m", "gmmgen.report.plots_page", DVC], cwd=project, capture_output=True, text=True, timeout=120
    )
    page = project / "outputs" / "dvc_plots" / "index.html"
    return run, page.read_text() if page.exists() else ""


def charts(page: str) -> list[str]:
    return re.findall(r"vegaEmbed\('#([^']*)'", page)


def test_plots_before_the_tutorial_show_the_pipelines_without_a_failed_line(project):
    shown, missing = plots_page.targets(project)
    assert len(shown) == 11 and missing == TUTORIAL
    run, page = make_plots(project)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "failed" not in (run.stdout + run.stderr).lower(), run.stdout + run.stderr
    assert "left out until their files exist" in run.stdout and TUTORIAL[0] in run.stdout
    assert len(charts(page)) == 4 and page.count("<img") == 7, charts(page)
    assert "dvc_yaml" not in charts(page)  # `dvc plots show dvc.yaml` would add this bogus chart


def test_plots_after_the_tutorial_show_its_plots_too(project):
    for rel in TUTORIAL:
        (project / rel).parent.mkdir(parents=True, exist_ok=True)
        (project / rel).write_text("iteration,log_likelihood\n1,-5\n2,-4\n")
    run, page = make_plots(project)
    assert run.returncode == 0 and "failed" not in (run.stdout + run.stderr).lower(), run.stdout + run.stderr
    assert "left out" not in run.stdout
    assert len(charts(page)) == 6 and "outputs_tutorial_em_history_csv" in charts(page)


def test_plots_before_any_run_say_so_in_one_line(tmp_path):
    for rel in plots_page.DVC_FILES:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / rel, tmp_path / rel)
    assert plots_page.targets(tmp_path)[0] == []
    run = subprocess.run([PYTHON, "-m", "gmmgen.report.plots_page", DVC], cwd=tmp_path, capture_output=True, text=True)
    assert run.returncode == 1 and run.stdout.count("\n") == 1 and "make run" in run.stdout


def test_a_target_matches_its_plot_only():
    title = "BIC and AIC against K, sound and thin fits (lower is better; comparable within this run only)"
    target = plots_page.as_target(f"dvc.yaml::{title}")
    assert "\\" not in target  # DVC turns a backslash into a slash
    assert re.match(target, f"dvc.yaml::{title}")
    assert not re.match(target, f"dvc.yaml::{title} and more")
    assert not re.match(plots_page.as_target("dvc.yaml::outputs/a.png"), "pipelines/tutorial/dvc.yaml::outputs/a.png")
