"""MLflow: a run logged whole from the stage folders, its children and model; statuses; fail-fast checks."""

from __future__ import annotations

import signal
import subprocess
import time

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from gmmgen.core.sampling import generate_images
from gmmgen.core.sweep_table import read_sweep_csv
from gmmgen.errors import TrackingError
from gmmgen.pipeline.runner import run_all
from gmmgen.pipeline.stages.common import stage_dir
from gmmgen.runtime import hydra_callbacks
from gmmgen.runtime.validation import validate
from gmmgen.tracking import log as tracking
from gmmgen.tracking import ui as mlflow_ui

from .conftest import PYTHON, REPO, TINY, closed_port, compose_cfg, run_py


@pytest.fixture
def tracked(tiny_cfg):
    validate(tiny_cfg)
    tiny_cfg.tracking.child_runs = True
    run_all(tiny_cfg)
    run_id = tracking.track(tiny_cfg, stage_dir(tiny_cfg, "x").parent, overrides=["sweep.n_components=[2,4,8]"])
    return tiny_cfg, run_id, MlflowClient(tracking.tracking_uri(tiny_cfg))


def test_store_is_sqlite_under_outputs_with_local_artifacts(tiny_cfg, tmp_path):
    assert tracking.tracking_uri(tiny_cfg) == f"sqlite:///{tmp_path}/outputs/mlflow.db"
    assert tracking.artifact_location(tiny_cfg) == (tmp_path / "outputs" / "mlartifacts").as_uri()


def test_parent_run_has_config_tags_and_metrics(tracked, tmp_path):
    cfg, run_id, client = tracked
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params["pca.variance"] == "0.85"
    assert run.data.params["sweep.n_components"] == "[2, 4, 8]"
    assert run.data.params["data.name"] == "digits"
    assert run.data.tags["data.source"] == "embedded"
    assert len(run.data.tags["data.sha256"]) == 64
    assert run.data.tags["mlflow.source.git.commit"] and run.data.tags["git.dirty"] in ("true", "false", "unknown")
    assert run.data.tags["mlflow.source.name"] == "dvc.yaml (track stage)"
    assert run.data.tags["mlflow.note.content"].startswith("Chose full K=")
    # Experiment params only: no machine paths, ports or UI settings.
    assert not any(k.startswith(("paths.", "tracking.", "hydra.")) for k in run.data.params)
    # Per-class numbers are one table, not single-point metrics.
    assert not any("class_counts" in k or "per_class" in k for k in run.data.metrics)
    chosen = read_sweep_csv(tmp_path / "outputs" / "select" / "sweep.csv")
    best = min(chosen, key=lambda r: r["bic"])
    assert run.data.tags["selected_model"] == f"full K={best['n_components']}"
    assert run.data.metrics["bic"] == pytest.approx(best["bic"])
    assert run.data.metrics["val_bpp"] == pytest.approx(best["val_bpp"]) and run.data.metrics["test_bpp"] > 0
    assert run.data.metrics["reduce/variance_explained"] >= 0.85
    history = client.get_metric_history(run_id, "_headline/bic_vs_K_full")  # the run page's first chart section
    assert run.data.metrics["_headline/val_bpp"] == run.data.metrics["val_bpp"]
    assert sorted(m.step for m in history) == [2, 4, 8]
    assert sorted(m.step for m in client.get_metric_history(run_id, "sweep/aic_full")) == [2, 4, 8]
    # Sizes, counts and timings are params, not charts.
    assert run.data.params["data/n_train"] == "600", sorted(k for k in run.data.params if "/" in k)
    assert run.data.params["generate/n_samples"] == "20"
    sizes = ("n_train", "n_test", "n_samples", "sweep_seconds")
    assert not any(k.rsplit("/", 1)[-1] in sizes for k in run.data.metrics)
    images = {a.path for a in client.list_artifacts(run_id, "images")}
    assert any("_headline~generated_digits" in p for p in images), images
    assert any("_headline~sweep_criteria_vs_K" in p for p in images), images
    exp = client.get_experiment(run.info.experiment_id)
    assert exp.name == "gmmgen" and exp.artifact_location.startswith((tmp_path / "outputs").as_uri())
    # The runs table's numbers are rounded for reading (the files keep every digit).
    assert run.data.metrics["bic"] == mlflow_ui.significant(best["bic"], 7) != best["bic"]
    assert run.data.metrics["val_bpp"] == best["val_bpp"]  # as computed: jobs are ranked by it
    assert mlflow_ui.significant(302412.390417, 7) == 302412.4 and mlflow_ui.significant(3.7768276, 4) == 3.777
    assert mlflow_ui.rounded({"frechet_distance": 70.60812, "evaluate/selected/frechet_distance": 70.60812}) == {
        "frechet_distance": 70.61,
        "evaluate/selected/frechet_distance": 70.60812,
    }


def test_a_sweep_row_shows_its_best_job(tracked):
    """The sweep run carries its likelihood-best job's numbers and verdicts under the names the view shows."""
    cfg, run_id, client = tracked
    job = client.get_run(run_id)
    sweep = client.create_run(job.info.experiment_id, tags={"gmmgen.kind": "sweep"}).info.run_id
    client.set_tag(run_id, "hydra.job_num", "0")
    rows, note = hydra_callbacks.rank_jobs(hydra_callbacks._job_rows([client.get_run(run_id)], {run_id: ""}, set()))
    assert hydra_callbacks._log_job_table(client, sweep, rows, note, completed=True) == "FINISHED"
    shown = client.get_run(sweep).data
    for name in ("val_bpp", "n_components", "test_bpp"):
        assert shown.metrics[name] == job.data.metrics[name], name
    assert shown.tags["selected_model"] == job.data.tags["selected_model"]
    assert shown.tags["selected_status"] == job.data.tags["selected_status"]
    columns = {c.split("`")[1] for c in mlflow_ui.COLUMNS if c.startswith(("metrics.", "tags."))}
    assert {"val_bpp", "n_components", "selected_status"} <= columns


def test_one_child_run_per_fit(tracked):
    cfg, run_id, client = tracked
    children = client.search_runs(
        [client.get_run(run_id).info.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{run_id}'"
    )
    assert sorted(c.info.run_name for c in children) == ["full-K2", "full-K4", "full-K8"]
    for c in children:
        assert c.info.status == "FINISHED"
        assert {"bic", "aic", "train_ll", "val_ll", "val_bpp", "n_iter", "fit_seconds", "converged"} <= set(
            c.data.metrics
        )
        assert "test_ll" not in c.data.metrics  # no fit is scored on test digits
        assert c.data.params["covariance_type"] == "full"


def test_artifacts_include_every_figure_and_table(tracked):
    cfg, run_id, client = tracked
    names = set()
    for folder in ("data", "reduce", "select", "generate", "config"):
        names |= {a.path for a in client.list_artifacts(run_id, folder)}
    assert {
        "generate/generated.png",
        "generate/component_means.png",
        "generate/generated_vs_real.png",
        "reduce/reconstructions.png",
        "reduce/explained_variance.png",
        "select/sweep.png",
        "select/sweep.csv",
        "select/metrics.json",
        "data/provenance.json",
        "config/config.yaml",
        "config/overrides.yaml",
    } <= names
    table = client.load_table(client.get_run(run_id).info.experiment_id, "evaluate/per_class.json", run_ids=[run_id])
    assert list(table["digit"]) == list(range(10)) and table["train_count"].sum() == 600
    local = mlflow.artifacts.download_artifacts(
        run_id=run_id, artifact_path="config/overrides.yaml", tracking_uri=tracking.tracking_uri(cfg)
    )
    assert "sweep.n_components=[2,4,8]" in open(local).read()


def test_registered_generator_draws_the_same_digits_as_the_stage(tracked):
    cfg, run_id, client = tracked
    versions = client.search_model_versions(f"name = '{cfg.tracking.registered_model}'")
    assert [str(v.version) for v in versions] == ["1"] and versions[0].run_id == run_id
    # Not `make run` on a clean tree: registered, but the served alias is not moved, and the version says why.
    assert client.get_registered_model(cfg.tracking.registered_model).aliases == {}
    tags = versions[0].tags
    assert tags["promotion"] == "none"
    assert (
        tags["promotion.reason"]
        == "not made by `make run` (dvc repro or dvc exp run on their own): @champion stays where it is"
    )
    assert tags["K"] == client.get_run(run_id).data.tags["selected_model"].split("K=")[1]
    mlflow.set_tracking_uri(tracking.tracking_uri(cfg))
    model = mlflow.pyfunc.load_model(f"models:/{cfg.tracking.registered_model}/1")
    images = model.predict(pd.DataFrame({"n": [5], "seed": [3]}))
    assert images.shape == (5, 8, 8) and images.dtype == np.uint8
    import joblib

    pca = joblib.load(stage_dir(cfg, "reduce") / "pca.joblib")
    gmm = joblib.load(stage_dir(cfg, "select") / "model.joblib")
    np.testing.assert_array_equal(images, generate_images(pca, gmm, 5, 3, (8, 8))[0])
    sig = model.metadata.signature
    assert [c.name for c in sig.inputs.inputs] == ["n", "seed"]


@pytest.mark.parametrize(("exc", "status"), [(ValueError("boom"), "FAILED"), (KeyboardInterrupt(), "KILLED")])
def test_crash_or_interrupt_ends_the_run(tiny_cfg, exc, status):
    holder = {}
    with pytest.raises(type(exc)):
        with tracking.pipeline_run(tiny_cfg) as run_id:
            holder["id"] = run_id
            raise exc
    assert MlflowClient(tracking.tracking_uri(tiny_cfg)).get_run(holder["id"]).info.status == status


def test_unreachable_server_is_an_error_before_any_compute(tmp_path):
    uri = f"http://127.0.0.1:{closed_port()}"
    cfg = compose_cfg(tmp_path, [*TINY, f"tracking.uri={uri}"])
    with pytest.raises(TrackingError, match="unreachable"):
        tracking.check_reachable(cfg)
    for script in ("configure.py", "run_all.py"):
        result = run_py(
            [str(REPO / "pipelines" / script), f"paths.root={tmp_path}", *TINY, f"tracking.uri={uri}"],
            cwd=tmp_path,
            timeout=120,
        )
        assert result.returncode == 6, result.stderr  # tracking error
        assert f"gmmgen: error: tracking server {uri} is unreachable" in result.stderr
        assert not (tmp_path / "outputs" / "data").exists() and not (tmp_path / "params.yaml").exists()


def test_sigterm_ends_the_run_killed_and_leaves_no_partial_folder(tmp_path):
    args = [
        str(REPO / "pipelines" / "run_all.py"),
        f"paths.root={tmp_path}",
        "data.source=bundled",
        "sweep.n_components=[40,60,80,100,120,140,160,180]",
        "sweep.covariance_types=[full,diag]",
        "sweep.n_jobs=1",
        "model.n_init=3",
    ]
    proc = subprocess.Popen([PYTHON, *args], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    uri = f"sqlite:///{tmp_path}/outputs/mlflow.db"
    deadline = time.time() + 120
    try:
        while time.time() < deadline:  # wait until the sweep is under way
            if (tmp_path / "outputs" / "reduce").exists() and proc.poll() is None:
                break
            time.sleep(0.2)
        assert proc.poll() is None, proc.stdout.read()
        time.sleep(1.0)
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode != 0
    runs = MlflowClient(uri).search_runs(MlflowClient(uri).search_experiments()[0].experiment_id)
    assert [r.info.status for r in runs] == ["KILLED"], out
    assert not (tmp_path / "outputs" / "select").exists()
    assert not [p for p in (tmp_path / "outputs").iterdir() if p.name.startswith(".select")]


def test_a_dvc_experiment_names_its_run_and_never_competes(tiny_cfg, tmp_path, monkeypatch):
    """Under `dvc exp run` (DVC_EXP_NAME set) the run is named after the experiment and tagged with it;
    `make exp`'s start record (kind exp) spans the pipeline but keeps the version out of the champion race."""
    from mlflow import MlflowClient

    from gmmgen.tracking import runinfo

    monkeypatch.setenv("DVC_EXP_NAME", "pca90")
    start = runinfo.write_start(tmp_path, tmp_path / "outputs", kind="exp")
    with tracking.pipeline_run(tiny_cfg, start=start) as run_id:
        pass
    run = MlflowClient(tracking.tracking_uri(tiny_cfg)).get_run(run_id)
    assert run.data.tags["dvc.exp_name"] == "pca90" and run.info.run_name.startswith("pca90-digits-")
    assert run.info.start_time == start["start_ms"]
    # Its git state is read when it is logged (DVC applies -S after make exp's record), not taken from the record.
    recorded = {**start, "commit": "0" * 40, "dirty": False}
    assert tracking.git_state(tmp_path, recorded)["mlflow.source.git.commit"] != "0" * 40
    assert tracking.git_state(tmp_path, {**recorded, "kind": "run"})["mlflow.source.git.commit"] == "0" * 40
    assert tracking.why_not_compete(start) == "a DVC experiment (make exp or dvc exp run)"
    monkeypatch.delenv("DVC_EXP_NAME")
    assert tracking.why_not_compete({**start, "kind": "run", "dirty": False}) is None


#: A stand-in for the dvc command: runs its argument as Python in a child process, as DVC runs a stage.
DVC_STUB = "import subprocess, sys\nsys.exit(subprocess.run([sys.executable, '-c', *sys.argv[1:]]).returncode)\n"
NOTE = (
    "import json, sys; from pathlib import Path; from gmmgen.tracking import runinfo as r; out = Path(sys.argv[-1]); "
    "rec = r.note_dvc_start(out.parent, out); again = r.note_dvc_start(out.parent, out); "
    "print(json.dumps([rec and rec['kind'], again, (r.read_start(out) or {}).get('start_ms')]))"
)


def test_a_bare_dvc_run_gets_its_start_from_the_data_stage(tmp_path):
    """The data stage under a bare `dvc repro` records the start (kind dvc) once; another DVC process, or none,
    does not read it as its own; make run's record is left alone."""
    import json

    from gmmgen.tracking import runinfo

    stub = tmp_path / "bin" / "dvc"
    stub.parent.mkdir()
    stub.write_text(DVC_STUB)
    out = tmp_path / "outputs"

    def under_dvc() -> list:
        done = subprocess.run([PYTHON, str(stub), NOTE, str(out)], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    kind, again, start_ms = under_dvc()
    assert (
        kind == "dvc" and again is None and start_ms == json.loads((out / runinfo.START_FILE).read_text())["start_ms"]
    )
    assert runinfo.read_start(out) is None  # this process runs under no DVC: not its record
    assert tracking.why_not_compete(json.loads((out / runinfo.START_FILE).read_text())) is not None
    kind, _, start_ms2 = under_dvc()  # the next `dvc repro`: the stale record is replaced
    assert kind == "dvc" and start_ms2 >= start_ms
    assert runinfo.note_dvc_start(tmp_path, out) is None  # not under DVC: nothing recorded
    runinfo.write_start(tmp_path, out, kind="run")  # make run's record
    assert under_dvc()[0] is None and runinfo.read_start(out)["kind"] == "run"


def test_sizes_are_split_from_results():
    metrics = {"bic": 1.0, "data/n_train": 600.0, "classifier/epochs": 3.0, "classifier/seconds": 2.5,
               "select/n_degenerate_fits": 2.0, "classifier/identical_images_in/test": 0.0}  # fmt: skip
    results, sizes = tracking.split_sizes(metrics)
    assert sizes == {"data/n_train": 600.0, "classifier/epochs": 3.0, "classifier/seconds": 2.5}
    assert set(results) == {"bic", "select/n_degenerate_fits", "classifier/identical_images_in/test"}
