"""A browser check of the MLflow UI: headless Chromium renders a tracked run and its image grid.

Slow (starts the UI server and a browser); needs Debian's chromium package.
Run with `make test-slow`.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from gmmgen.pipeline.runner import run_all
from gmmgen.runtime import hydra_callbacks
from gmmgen.runtime.validation import validate
from gmmgen.tracking import log as tracking
from gmmgen.tracking import ui as mlflow_ui

from .conftest import PYTHON, TINY, closed_port, compose_cfg

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
            "--window-size=1600,1000",  # the view's verdict columns fit beside MLflow's assistant panel
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


SWEEP_NAME = "sweep-of-one"


def sweep_under(cfg, run_id: str) -> str:
    """Make the tracked run job 0 of a sweep run closed as a multirun closes it (its job table, its best job)."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking.tracking_uri(cfg))
    exp = client.get_run(run_id).info.experiment_id
    sweep = client.create_run(exp, run_name=SWEEP_NAME, tags={"gmmgen.kind": "sweep"}).info.run_id
    for key, value in {"mlflow.parentRunId": sweep, "gmmgen.sweep_run_id": sweep, "hydra.job_num": "0"}.items():
        client.set_tag(run_id, key, value)
    rows, note = hydra_callbacks.rank_jobs(hydra_callbacks._job_rows([client.get_run(run_id)], {run_id: ""}, set()))
    client.set_terminated(sweep, hydra_callbacks._log_job_table(client, sweep, rows, note, completed=True))
    return sweep


@pytest.fixture
def ui_server(tmp_path):
    """A small real run with its evaluation (the verdict columns), tracked as job 0 of a sweep; the UI on it."""
    overrides = [o for o in TINY if not o.startswith("evaluate.enabled")]
    cfg = compose_cfg(tmp_path, [*overrides, "evaluate.n_samples=200"])
    validate(cfg)
    run_all(cfg)
    run_id = tracking.track(cfg, Path(cfg.paths.run_dir))
    sweep_under(cfg, run_id)
    port = closed_port()
    env = {**os.environ, "PATH": f"{Path(PYTHON).parent}:{os.environ['PATH']}"}
    server = subprocess.Popen(
        [
            str(Path(PYTHON).parent / "mlflow"),
            "ui",
            "--backend-store-uri",
            tracking.tracking_uri(cfg),
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
        yield base, run_id, cfg
    finally:
        server.terminate()
        server.wait(timeout=30)


def keep_screenshot(shot: Path, name: str) -> None:
    """Copy a screenshot to $GMMGEN_UI_SCREENSHOTS/<name> when that folder is set (to look at it)."""
    folder = os.environ.get("GMMGEN_UI_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(folder) / name)


def keep_text(text: str, name: str) -> None:
    folder = os.environ.get("GMMGEN_UI_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        (Path(folder) / name).write_text(text)


#: The verdict columns that must be on the runs table's first screen at 1600 px, left to right.
VERDICTS = ["tags.`copying_status`", "tags.`selected_status`", "metrics.`frechet_distance`",
            "metrics.`frechet_floor`", "metrics.`precision`", "metrics.`recall`", "metrics.`ndb_share`"]  # fmt: skip


#: The runs table's width in pixels at a 1600 px window (MLflow 3.17: its sidebar and assistant panel beside it).
TABLE_WIDTH = 940


def header_boxes(dom: str) -> dict[str, tuple[int, int]]:
    """Column id -> (left, width) in pixels of each header cell of the table's scrolled part, as rendered."""
    boxes = {}
    for cell in re.finditer(r'<div class="ag-header-cell[^"]*"[^>]*>', dom):
        tag = cell.group(0)
        col, box = re.search(r'col-id="([^"]+)"', tag), re.search(r"left: (\d+)px; width: (\d+)px", tag)
        if col and box:
            boxes[col.group(1)] = (int(box.group(1)), int(box.group(2)))
    return boxes


def row_values(dom: str, run_id: str) -> dict[str, str]:
    """Column id -> shown text of the table row of ``run_id`` (its cells in the scrolled part)."""
    rows = re.findall(rf'row-id="{run_id}".*?(?=row-id="|<!-- AG|$)', dom, re.S)
    cells = re.findall(r'col-id="([^"]+)"[^>]*>.*?class="ag-cell-value">([^<]*)<', "".join(rows), re.S)
    return dict(cells)


def test_runs_table_opens_on_the_verdicts_and_a_sweep_row_of_numbers(ui_server, tmp_path):
    base, run_id, cfg = ui_server
    from mlflow import MlflowClient

    client = MlflowClient(tracking.tracking_uri(cfg))
    run = client.get_run(run_id)
    exp, sweep = run.info.experiment_id, run.data.tags["mlflow.parentRunId"]
    page = mlflow_ui.runs_table_url(base, exp)
    shot = tmp_path / "runs.png"
    chromium(page, tmp_path / "profile2", f"--screenshot={shot}")
    assert shot.exists() and shot.stat().st_size > 20_000
    keep_screenshot(shot, "runs_table.png")
    dom = chromium(page, tmp_path / "profile", "--dump-dom")
    keep_text(dom, "runs_table.html")
    assert SWEEP_NAME in dom, "the runs table does not list the sweep (the pipeline run is nested under it)"
    assert "full-K2" not in dom, "the per-fit child runs crowd the table"
    assert "Gaussian mixture models fitted to PCA-whitened MNIST" in dom, "no experiment description"
    # The verdicts come first, left to right, and end within the first screen: at 1600 px, beside MLflow's
    # sidebar and assistant panel, the table is about 940 px wide, its pinned run name and date included.
    boxes = header_boxes(dom)
    assert all(c in boxes for c in VERDICTS), f"verdict columns not rendered: {sorted(boxes)}"
    lefts = [boxes[c][0] for c in VERDICTS]
    assert lefts == sorted(lefts) and lefts[0] == 0, boxes
    pinned = sum(boxes[c][1] for c in ("1", *mlflow_ui.PINNED) if c in boxes)
    assert pinned + sum(boxes[VERDICTS[-1]]) <= TABLE_WIDTH, f"the verdicts end at {pinned} + {boxes[VERDICTS[-1]]}"
    # The sweep's row shows its best job's numbers (rounded for reading), not dashes.
    shown = row_values(dom, sweep)
    for column in ("frechet_distance", "precision", "recall", "ndb_share"):
        assert shown.get(f"metrics.`{column}`") == f"{run.data.metrics[column]:g}", (column, shown)
    assert len(shown["metrics.`frechet_distance`"].strip("0.")) <= 4, "unrounded"
    assert shown.get("tags.`copying_status`") == run.data.tags["copying_status"], shown
    assert shown.get("tags.`selected_status`") == run.data.tags["selected_status"], shown


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
