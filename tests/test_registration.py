"""Issue 23, item 2: only a run that ended FINISHED registers a model version or moves an alias.

A real SQLite store and the real ``track`` code on a tiny pipeline. The fault
lands right after the model was logged, inside the run: Ctrl-C (a real SIGINT,
held back until the store write ends, as a terminal's would be) ends it
KILLED, any other error FAILED; neither may leave a version or an alias.
"""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import pytest
from mlflow import MlflowClient

from gmmgen.pipeline.stages.data import run_data
from gmmgen.pipeline.stages.reduce import run_reduce
from gmmgen.pipeline.stages.select import run_select
from gmmgen.runtime.validation import validate
from gmmgen.tracking import log as tracking
from gmmgen.tracking import model_log, promotion, runinfo

from .conftest import TINY, compose_cfg

MODEL = "gmmgen-digit-generator"
GIT = ["git", "-c", "user.name=Ada Tester", "-c", "user.email=ada@example.org", "-c", "commit.gpgsign=false"]


def _track_on_a_clean_tree(cfg) -> str:
    """``track`` as `make run` runs it on a clean tree, where a registered version competes for @champion."""
    runinfo.write_start(Path(cfg.paths.root), Path(cfg.paths.outputs))
    try:
        return tracking.track(cfg, Path(cfg.paths.run_dir))
    finally:
        (Path(cfg.paths.outputs) / runinfo.START_FILE).unlink()


def _versions(client: MlflowClient) -> list:
    return list(client.search_model_versions(f"name='{MODEL}'"))


@pytest.mark.slow  # three tracks: about 20 s
def test_a_killed_or_failed_run_registers_nothing_and_a_finished_one_does(tmp_path, monkeypatch):
    root = tmp_path / "checkout"
    root.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    subprocess.run([*GIT, "commit", "-q", "--allow-empty", "-m", "start"], cwd=root, check=True)
    uri = f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"
    cfg = compose_cfg(root, [*TINY, "sweep.n_components=[2]", f"tracking.uri={uri}"])
    validate(cfg)
    for stage in (run_data, run_reduce, run_select):
        stage(cfg)
    client = MlflowClient(uri, registry_uri=uri)
    logged = tracking.log_generator

    def then(fault):
        def log_then_fault(*args, **kwargs):
            uri_ = logged(*args, **kwargs)
            fault()
            return uri_

        return log_then_fault

    # Ctrl-C right after the model was logged (Python's own handler, whatever this process inherited).
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        monkeypatch.setattr(model_log, "log_generator", then(lambda: signal.raise_signal(signal.SIGINT)))
        with pytest.raises(KeyboardInterrupt):
            _track_on_a_clean_tree(cfg)
    finally:
        signal.signal(signal.SIGINT, previous)

    def boom():
        raise RuntimeError("disk full")

    monkeypatch.setattr(model_log, "log_generator", then(boom))
    with pytest.raises(RuntimeError, match="disk full"):
        _track_on_a_clean_tree(cfg)
    runs = client.search_runs([client.get_experiment_by_name(cfg.tracking.experiment).experiment_id])
    assert sorted(r.info.status for r in runs) == ["FAILED", "KILLED"]
    assert all(r.data.tags.get("registered_model") is None for r in runs)
    assert _versions(client) == []
    assert promotion.holder(client, MODEL, "champion") is None

    monkeypatch.setattr(model_log, "log_generator", logged)
    run_id = _track_on_a_clean_tree(cfg)
    (version,) = _versions(client)
    assert version.run_id == run_id and client.get_run(run_id).info.status == "FINISHED"
    assert promotion.holder(client, MODEL, "champion") == str(version.version) == "1"
    assert client.get_run(run_id).data.tags["registered_model"] == f"{MODEL}/1"
