"""A browser check of the MLflow UI: headless Chromium renders a tracked run and its image grid.

Slow (starts the UI server and a browser); needs Debian's chromium package.
Run with `make test-slow`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from gmmgen.pipeline.runner import run_all
from gmmgen.runtime.validation import validate
from gmmgen.tracking import log as tracking
from gmmgen.tracking import ui as mlflow_ui

from .conftest import PYTHON, closed_port

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (apt-get install chromium)"),
]
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium(url: str, profile: Path, *extra: str) -> str:
    result = subprocess.run(
        [
            CHROMIUM,
            *FLAGS,
            f"--user-data-dir={profile}",
            "--virtual-time-budget=20000",
            "--window-size=1920,1000",  # wide enough for the view's columns beside MLflow's assistant panel
            *extra,
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if not result.stdout and "--dump-dom" in extra:
        raise AssertionError(f"chromium printed nothing: {result.stderr[-2000:]}")
    return result.stdout


@pytest.fixture
def ui_server(tiny_cfg):
    validate(tiny_cfg)
    run_all(tiny_cfg)
    run_id = tracking.track(tiny_cfg, Path(tiny_cfg.paths.run_dir))
    port = closed_port()
    env = {**os.environ, "PATH": f"{Path(PYTHON).parent}:{os.environ['PATH']}"}
    server = subprocess.Popen(
        [
            str(Path(PYTHON).parent / "mlflow"),
            "ui",
            "--backend-store-uri",
            tracking.tracking_uri(tiny_cfg),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240  # the UI server starts slowly on a busy machine
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(base + "/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("MLflow UI did not start")
        yield base, run_id, tiny_cfg
    finally:
        server.terminate()
        server.wait(timeout=30)


def keep_screenshot(shot: Path, name: str) -> None:
    """Copy a screenshot to $GMMGEN_UI_SCREENSHOTS/<name> when that folder is set (to look at it)."""
    folder = os.environ.get("GMMGEN_UI_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(folder) / name)


def test_runs_table_shows_the_headline_columns_and_no_fit_runs(ui_server, tmp_path):
    base, run_id, cfg = ui_server
    from mlflow import MlflowClient

    client = MlflowClient(tracking.tracking_uri(cfg))
    run = client.get_run(run_id)
    exp = run.info.experiment_id
    page = mlflow_ui.runs_table_url(base, exp)
    dom = chromium(page, tmp_path / "profile", "--dump-dom")
    assert run.info.run_name in dom, "the runs table does not list the pipeline run"
    for column in ("sweep.criterion", "selected_model", "n_components", "val_bpp", "bic", "pca_dims"):
        assert f">{column}<" in dom or f'"{column}"' in dom, f"no {column} column"
    assert "full-K2" not in dom, "the per-fit child runs crowd the table"
    assert "Gaussian mixture models fitted to PCA-whitened MNIST" in dom, "no experiment description"
    shot = tmp_path / "runs.png"
    chromium(page, tmp_path / "profile2", f"--screenshot={shot}")
    assert shot.exists() and shot.stat().st_size > 20_000
    keep_screenshot(shot, "runs_table.png")


def test_ui_shows_the_run_and_its_generated_digits(ui_server, tmp_path):
    base, run_id, cfg = ui_server
    from mlflow import MlflowClient

    run = MlflowClient(tracking.tracking_uri(cfg)).get_run(run_id)
    exp = run.info.experiment_id
    page = f"{base}/#/experiments/{exp}/runs/{run_id}/artifacts/generate/generated.png"
    dom = chromium(page, tmp_path / "profile", "--dump-dom")
    assert run.info.run_name in dom, "the run page does not show the run's name"
    assert "generate/generated.png" in dom.replace("%2F", "/"), "the artifact view does not show the digit grid"
    shot = tmp_path / "run.png"
    chromium(page, tmp_path / "profile2", f"--screenshot={shot}")
    assert shot.exists() and shot.stat().st_size > 20_000
    keep_screenshot(shot, "run_page.png")
