"""The tutorial's sections: EM by hand against scikit-learn, BIC on blobs, sampling tests, IoU, anomalies, wiring."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import yaml
from sklearn.mixture import GaussianMixture

from gmmgen.pipeline.config import ConfigError
from gmmgen.runtime.validation import validate
from gmmgen_tutorial import anomaly, clustering, em1d, sampling1d, segmentation
from gmmgen_tutorial import config as tconfig
from gmmgen_tutorial import stages as tstages

from .conftest import REPO, SHARED_MNIST, TUTORIAL_SMALL, run_py

TUTORIAL_DVC = REPO / "pipelines" / "tutorial" / "dvc.yaml"
TUTORIAL_PARAMS = "pipelines/tutorial/params.yaml"
SMALL = TUTORIAL_SMALL


def compose_cfg(root: Path, overrides: list[str] | None = None):
    """Compose conf/tutorial.yaml (the tutorial's own root) like its entry points do, paths under ``root``."""
    return tconfig.compose(overrides, root=root)


@pytest.fixture(autouse=True)
def one_blas_thread():
    # Small fits: many BLAS threads on a shared 2-core machine make them 30x slower (the stages do the same).
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        yield


def tutorial_data(seed: int) -> tuple[np.ndarray, np.random.Generator]:
    rng = np.random.default_rng(seed)
    x, _ = em1d.make_data([-5, 5, 0], [1.2, 1.8, 1.6], 100, rng)
    return x, rng


# --------------------------------------------------------------------------- 1. EM by hand


@pytest.mark.parametrize("seed", range(6))
def test_em_log_likelihood_never_decreases_and_climbs(seed):
    x, rng = tutorial_data(seed)
    hist = em1d.run_em(x, *em1d.random_start(x, 3, rng), n_steps=40)
    steps = np.diff(hist.log_likelihood)
    assert steps.min() >= -1e-9 * np.abs(hist.log_likelihood).max()
    assert hist.log_likelihood[-1] > hist.log_likelihood[0] + 50  # it really moves
    assert np.allclose(hist.weights.sum(axis=1), 1.0)


def test_em_log_likelihood_is_the_mixture_likelihood():
    x, rng = tutorial_data(0)
    m, v, w = np.array([-4.0, 0.5, 4.0]), np.array([1.0, 2.0, 0.5]), np.array([0.2, 0.3, 0.5])
    gm = GaussianMixture(3, covariance_type="spherical")
    gm.means_, gm.covariances_, gm.weights_ = m[:, None], v, w
    gm.precisions_cholesky_ = 1 / np.sqrt(v)
    assert em1d.log_likelihood(x, m, v, w) == pytest.approx(gm.score(x[:, None]) * len(x), rel=1e-12)
    resp = em1d.e_step(x, m, v, w)
    assert np.allclose(resp, gm.predict_proba(x[:, None]))
    # Hard responsibilities: the M step gives per-group sample means and (biased) variances.
    groups = np.repeat(np.arange(3), 100)
    mm, vv, ww = em1d.m_step(x, np.eye(3)[groups])
    for k in range(3):
        assert mm[k] == pytest.approx(x[groups == k].mean())
        assert vv[k] == pytest.approx(x[groups == k].var())
    assert np.allclose(ww, 1 / 3)


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_em_matches_sklearn_from_the_same_start(seed):
    x, rng = tutorial_data(seed)
    start = em1d.random_start(x, 3, rng)
    hist = em1d.run_em(x, *start, n_steps=25)
    gm = em1d.sklearn_em(x, *start, n_steps=25)
    assert np.abs(hist.means[-1] - gm.means_[:, 0]).max() < 1e-6
    assert np.abs(hist.variances[-1] - gm.covariances_).max() < 1e-6
    assert np.abs(hist.weights[-1] - gm.weights_).max() < 1e-6
    # A different number of steps is measurably different: the comparison can fail.
    fewer = em1d.run_em(x, *start, n_steps=3)
    assert np.abs(fewer.means[-1] - gm.means_[:, 0]).max() > 1e-6


def test_em_start_draws_distinct_data_points():
    x, rng = tutorial_data(3)
    m, v, w = em1d.random_start(x, 3, rng)
    assert len(set(m)) == 3 and set(m) <= set(x)
    assert np.all((v > 0) & (v <= 1)) and np.allclose(w, 1 / 3)


# --------------------------------------------------------------------------- 2. clustering


@pytest.mark.parametrize(("true_k", "seed"), [(3, 0), (4, 1), (5, 2)])
def test_bic_finds_the_true_k_on_blobs(true_k, seed):
    x, y = clustering.blobs(600, true_k, 0.7, 10.0, seed)
    crit = clustering.criteria_over_k(x, range(1, 8), seed)
    assert crit.best_bic == true_k
    labels = clustering.fit(x, crit.best_bic, seed).predict(x)
    assert clustering.label_agreement(y, labels) > 0.95


def test_bic_finds_no_clusters_in_one_gaussian():
    x = clustering.make_points(1000, "normal", np.random.default_rng(0))
    crit = clustering.criteria_over_k(x, range(1, 6), 0)
    assert crit.best_bic == 1
    assert crit.aic.shape == crit.bic.shape == (5,)


# --------------------------------------------------------------------------- 3. sampling


def test_draws_match_the_fitted_density_and_a_shifted_sample_does_not():
    rng = np.random.default_rng(0)
    data = sampling1d.make_data([-5, 5, 0], [1.2, 1.8, 1.6], 1000, rng)
    gm = sampling1d.fit(data, 3, 0)
    m, v, w = sampling1d.parameters(gm)
    assert np.allclose(np.sort(m), [-5, 0, 5], atol=0.3)
    draws = sampling1d.draw(gm, 500, 1)
    ok = sampling1d.test_draws(draws, data, m, v, w)
    assert ok.p_model > 0.01 and ok.p_data > 0.01
    bad = sampling1d.test_draws(draws + 1.0, data, m, v, w)
    assert bad.p_model < 1e-3 and bad.p_data < 1e-3
    # Different seeds, different draws (scikit-learn's sample() would repeat itself).
    assert not np.array_equal(draws, sampling1d.draw(gm, 500, 2))


# --------------------------------------------------------------------------- 4. segmentation


def test_iou_known_answers():
    pred = np.zeros((3, 2, 2), bool)
    truth = np.zeros((3, 2, 2), bool)
    pred[0, 0, :] = True  # 2 pixels
    truth[0, 0, 0] = truth[0, 1, 0] = True  # 2 pixels, 1 shared -> 1/3
    pred[1] = truth[1] = True  # identical -> 1
    # image 2: both empty -> 1
    assert segmentation.iou(pred, truth) == pytest.approx([1 / 3, 1.0, 1.0])


def test_bundled_images_load_offline():
    mri = segmentation.load_image("mri")
    assert mri.shape == (256, 256) and mri.dtype == np.uint8 and 150 < mri.max() <= 255
    assert segmentation.load_image("flower").shape == (427, 640, 3)
    with pytest.raises(ValueError, match="image 'moon'"):
        segmentation.load_image("moon")


def test_segmentation_finds_two_regions_by_bic():
    rng = np.random.default_rng(0)
    image = np.where(np.arange(60)[None, :] < 30, 60.0, 180.0) + rng.normal(0, 8, (40, 60))
    seg = segmentation.segment(image, [1, 2, 3], 2000, 0)
    assert seg.chosen_k in (2, 3)
    left, right = seg.labels[:, :30], seg.labels[:, 30:]
    assert (left == 0).mean() > 0.99 and (right == seg.chosen_k - 1).mean() > 0.97


@pytest.mark.skipif(not (SHARED_MNIST / "t10k-images-idx3-ubyte.gz").exists(), reason="no MNIST test IDX folder")
def test_digit_foreground_iou_on_real_test_digits():
    test, _ = segmentation.load_idx_test(SHARED_MNIST)
    assert test.shape == (10000, 28, 28)
    test = test[:300]
    train = segmentation.training_digits()[:200]
    truth = test >= 128
    tied = segmentation.fit_foreground(train, "tied", 5000, 0)
    full = segmentation.fit_foreground(train, "full", 5000, 0)
    iou_tied = segmentation.iou(segmentation.foreground_masks(tied, test), truth).mean()
    iou_full = segmentation.iou(segmentation.foreground_masks(full, test), truth).mean()
    assert iou_tied > 0.9
    # Separate variances: the background's spike at 0 claims only exact zeros; every faint pixel becomes ink.
    assert iou_full < 0.8 and segmentation.decision_threshold(full) <= 2
    assert 80 < segmentation.decision_threshold(tied) < 170


def test_missing_digit_folder_is_a_clear_error(tmp_path):
    from gmmgen.core.data import DataError

    with pytest.raises(DataError, match="t10k-images-idx3-ubyte.gz is missing"):
        segmentation.load_idx_test(tmp_path)


# --------------------------------------------------------------------------- 5. anomaly detection


def test_anomaly_precision_recall_on_injected_outliers():
    rng = np.random.default_rng(0)
    x, is_out = anomaly.inject_outliers(rng.standard_normal((1000, 2)), 20, 8.0, 4.0, rng)
    assert is_out.sum() == 20 and np.all(np.hypot(*x[is_out].T) >= 4.0)
    gm = clustering.fit(x, 4, 0)
    det = anomaly.detect(gm, x, is_out, 2.0)
    tp = int((det.flagged & is_out).sum())
    assert det.precision == pytest.approx(tp / det.flagged.sum())
    assert det.recall == pytest.approx(tp / 20)
    assert det.precision >= 0.9 and det.recall >= 0.9 and det.roc_auc > 0.99
    # A threshold far too low flags almost nothing: recall collapses.
    assert anomaly.detect(gm, x, is_out, 0.2).recall < 0.2


# --------------------------------------------------------------------------- config and wiring


@pytest.fixture(scope="module")
def default_cfg(tmp_path_factory):
    return compose_cfg(tmp_path_factory.mktemp("cfg"))


BAD_VALUES = [
    ("em.n_steps", 0, "em.n_steps=0: must be a positive integer"),
    ("em.plot_steps", [0, 99], "em.plot_steps=[0, 99]: every step must be <= em.n_steps=25"),
    ("em.variances", [1, -1, 2], "em.variances=[1.0, -1.0, 2.0]: must be a non-empty list of numbers > 0"),
    ("sampling.means", [0, 1], "sampling.means=[0.0, 1.0], sampling.variances="),
    ("clustering.points", "rings", "clustering.points='rings': must be one of ['normal', 'uniform']"),
    ("segmentation.images", ["moon"], "segmentation.images=['moon']: must be a list of distinct values"),
    ("anomaly.threshold_percentile", 100, "anomaly.threshold_percentile=100.0: must be a percentile"),
    ("seed", -1, "seed=-1: must be an integer in [0, 2**32)"),
    ("tracking.experiment", " ", "tracking.experiment=' ': must be a non-empty name"),
]


@pytest.mark.parametrize(("key", "value", "message"), BAD_VALUES)
def test_bad_tutorial_values_are_named(default_cfg, key, value, message):
    from omegaconf import OmegaConf

    validate(default_cfg)
    cfg = default_cfg.copy()
    OmegaConf.update(cfg, key, value)
    with pytest.raises(ConfigError) as err:
        validate(cfg)
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


@pytest.mark.parametrize("script", ["pipelines/tutorial/configure.py", "pipelines/tutorial/section.py em"])
def test_a_bad_value_stops_the_tutorial_with_one_line_and_exit_2(tmp_path, script):
    """`make tutorial`'s configure step, and a section run by hand: one line, status 2, nothing written."""
    result = run_py([*script.replace("pipelines/", f"{REPO}/pipelines/", 1).split(), "em.n_steps=0"], cwd=tmp_path)
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.strip() == "gmmgen: config error: em.n_steps=0: must be a positive integer"
    # Stopped before Hydra wrote its folder (outputs/logs/) and before any params file or section folder.
    written = {str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")}
    assert written <= {"outputs", "outputs/.run.lock"}, written


def test_the_tutorial_has_a_config_root_of_its_own(tmp_path):
    """The tutorial's config is not the pipeline's: its own schema, rules and settle, found by its schema."""
    from omegaconf import OmegaConf

    from gmmgen.pipeline import config as gconfig

    cfg = compose_cfg(tmp_path, ["seed=7", "anomaly.seed=3"])
    assert OmegaConf.get_type(cfg) is tconfig.TutorialConfig
    assert gconfig.root_of(cfg) is tconfig.ROOT and gconfig.root_of(gconfig.compose(root=tmp_path)) is gconfig.PIPELINE
    assert gconfig.root_of({"seed": 0}) is gconfig.PIPELINE
    assert "tutorial" not in gconfig.compose(root=tmp_path) and not hasattr(gconfig.Config(), "tutorial")
    typed = tconfig.settle(cfg)
    assert isinstance(typed, tconfig.TutorialConfig) and gconfig.root_of(typed) is tconfig.ROOT
    assert (typed.em.seed, typed.anomaly.seed, typed.seed) == (7, 3, 7)
    assert tconfig.settle(typed) is typed
    assert typed.tracking.experiment == "gmmgen-tutorial" and typed.paths.outputs == str(tmp_path / "outputs")
    with pytest.raises(ConfigError, match="not over the tutorial's schema"):
        tconfig.settle(OmegaConf.create({"seed": 0}))


def test_the_tutorial_reads_the_same_mnist_test_files_as_the_pipeline():
    """conf/tutorial.yaml's hashes are conf/data/mnist.yaml's for the same t10k files."""
    mine = yaml.safe_load((REPO / "conf" / "tutorial.yaml").read_text())["data"]["idx_sha256"]
    pipeline = yaml.safe_load((REPO / "conf" / "data" / "mnist.yaml").read_text())["idx_sha256"]
    assert mine and mine == {k: v for k, v in pipeline.items() if k.startswith("t10k-")}


# --------------------------------------------------------------------------- the tutorial's own params file


def _compose_params(folder: Path, root: Path):
    """Compose ``folder/params.yaml`` as DVC's stages do (``--config-dir folder --config-name params``)."""
    from hydra import compose, initialize_config_dir

    tconfig.register_configs()
    with initialize_config_dir(config_dir=str(folder), version_base="1.3"):  # conf/ for the Hydra settings
        return compose("params", overrides=[f"hydra.searchpath=[file://{REPO / 'conf'}]", f"paths.root={root}"])


def test_configure_writes_the_committed_params_file_in_dvcs_format(tmp_path):
    """pipelines/tutorial/params.yaml is what the configure step writes, in DVC's format; Hydra reads it back.

    The pipeline's params.yaml beside it, an experiment applied, is left byte for byte as it was.
    """
    from dvc.utils.hydra import apply_overrides
    from dvc.utils.serialize import dumps_yaml
    from omegaconf import OmegaConf

    # The pipeline's params.yaml with an experiment applied (as `dvc exp run -S pca.variance=0.9` writes it).
    applied = tmp_path / "params.yaml"
    applied.write_text((REPO / "params.yaml").read_text())
    apply_overrides(applied, ["pca.variance=0.9"])
    experiment = applied.read_bytes()
    configure = str(REPO / "pipelines" / "tutorial" / "configure.py")
    result = run_py([configure], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    written = tmp_path / TUTORIAL_PARAMS
    assert f"{TUTORIAL_PARAMS} updated" in result.stdout
    assert applied.read_bytes() == experiment and b"variance: 0.9" in experiment, "the experiment was touched"
    committed = (REPO / TUTORIAL_PARAMS).read_text()
    assert written.read_text() == committed, "the committed file is stale: run `make tutorial`"
    assert f"{TUTORIAL_PARAMS} unchanged" in run_py([configure], cwd=tmp_path).stdout
    # DVC's own writer gives the same bytes, so `dvc exp run -S` on one value changes one line.
    body = committed[committed.index("defaults:") :]
    assert dumps_yaml(yaml.safe_load(body)) == body
    apply_overrides(written, ["em.n_steps=40"])  # what `dvc exp run -S <file>:em.n_steps=40` does to the file
    before, after = committed.splitlines(), written.read_text().splitlines()
    assert [(a, b) for a, b in zip(before, after, strict=True) if a != b] == [("  n_steps: 25", "  n_steps: 40")]
    # A stage composing the file (as DVC runs it) sees the config that wrote it.
    composed = _compose_params(written.parent, tmp_path)
    direct = compose_cfg(tmp_path, ["em.n_steps=40"])
    assert OmegaConf.to_container(composed, resolve=True) == OmegaConf.to_container(direct, resolve=True)


def test_make_tutorial_runs_only_the_tutorials_configure_step_and_pipeline():
    """`make tutorial` writes no params.yaml: its recipe is the tutorial's configure step and its dvc.yaml only."""
    import subprocess

    recipe = subprocess.run(
        ["make", "-n", "-o", ".venv/.installed", "tutorial", "ARGS=em.n_steps=3"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "pipelines/tutorial/configure.py em.n_steps=3" in recipe
    assert "dvc repro pipelines/tutorial/dvc.yaml" in recipe
    # Neither the pipeline's configure step (`make params`, which writes params.yaml) nor its `dvc repro`.
    assert "pipelines/configure.py" not in recipe and recipe.count("dvc repro") == 1


def test_the_params_writer_quotes_what_hydra_would_misread():
    """Strings YAML 1.1 reads as booleans are quoted; nulls and floats come back as themselves."""
    from omegaconf import OmegaConf

    from gmmgen.runtime.params_file import dvc_yaml

    doc = {"a": "yes", "b": "On", "c": None, "d": 1e-06, "e": "n", "f": ["off", 2.0], "g": {"h": "tied"}}
    text = dvc_yaml(doc)
    assert OmegaConf.to_container(OmegaConf.create(text)) == doc
    from ruamel.yaml import YAML

    assert YAML(typ="safe").load(text) == doc  # as DVC reads it
    assert "c:\n" in text and "g:\n  h: tied\n" in text


@pytest.fixture(scope="module")
def sections(tmp_path_factory):
    """Every section run once, small, into one scratch project."""
    root = tmp_path_factory.mktemp("tutorial")
    cfg = compose_cfg(root, SMALL)
    validate(cfg)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for run in tstages.SECTIONS.values():
            run(cfg)
    return cfg, root / "outputs"


def _dvc_stages() -> dict:
    return yaml.safe_load(TUTORIAL_DVC.read_text())["stages"]


@pytest.mark.skipif(not (SHARED_MNIST / "t10k-images-idx3-ubyte.gz").exists(), reason="no MNIST test IDX folder")
def test_each_stage_writes_what_dvc_yaml_declares(sections):
    cfg, outputs = sections
    declared = set()
    for name, stage in _dvc_stages().items():
        if name == "tutorial_track":
            continue
        for key in ("outs", "metrics", "plots"):
            for entry in stage.get(key, []):
                path = next(iter(entry)) if isinstance(entry, dict) else entry
                declared.add(path)
                assert (outputs.parent / path).exists(), f"{name}: {path} not written"
    written = {str(p.relative_to(outputs.parent)) for p in outputs.glob("tutorial/*/*")}
    assert written <= declared, f"written but not declared to DVC: {written - declared}"
    em = json.loads((outputs / "tutorial" / "em" / "metrics.json").read_text())
    assert em["monotone"] and em["sklearn_agrees_1e-6"]
    assert (outputs / "tutorial" / "segmentation" / "images" / "mri.png").stat().st_size > 10_000


def test_dvc_yaml_points_at_real_files_and_params(default_cfg):
    """Every stage runs its script on the tutorial's params file and takes its params from it, never params.yaml."""
    from omegaconf import OmegaConf

    cfg = default_cfg
    for name, stage in _dvc_stages().items():
        assert stage["wdir"] == "../.."
        # The project's interpreter wrapper, as in ../../dvc.yaml: stages run without an activated venv.
        assert stage["cmd"].startswith("pipelines/python pipelines/tutorial/"), f"{name}: {stage['cmd']}"
        assert stage["cmd"].endswith(" --config-dir pipelines/tutorial --config-name params"), name
        script = stage["cmd"].split()[1]
        assert (REPO / script).is_file() and script in stage["deps"], name
        for dep in stage["deps"]:
            assert (REPO / dep).exists() or dep.startswith("outputs/"), f"{name}: {dep}"
        ((params_file, keys),) = [next(iter(p.items())) for p in stage["params"]]
        assert params_file == TUTORIAL_PARAMS, f"{name}: params from {params_file}"
        for key in keys:
            assert OmegaConf.select(cfg, key) is not None, f"{name}: param {key} is not in the tutorial's config"
    assert set(_dvc_stages()) == {f"tutorial_{s}" for s in tstages.SECTIONS} | {"tutorial_track"}


def test_em_stage_is_deterministic(sections, tmp_path):
    cfg, outputs = sections
    again = compose_cfg(tmp_path, SMALL)
    tstages.run_em(again)
    for name in ("metrics.json", "history.csv", "em_iterations.png", "log_likelihood.png"):
        a = (outputs / "tutorial" / "em" / name).read_bytes()
        assert a == (tmp_path / "outputs" / "tutorial" / "em" / name).read_bytes(), name


# --------------------------------------------------------------------------- slow: MLflow and DVC end to end


@pytest.mark.slow
@pytest.mark.skipif(not (SHARED_MNIST / "t10k-images-idx3-ubyte.gz").exists(), reason="no MNIST test IDX folder")
def test_sections_are_logged_to_their_own_experiment(sections):
    from mlflow import MlflowClient

    from gmmgen.tracking import log as tracking
    from gmmgen_tutorial.track import log_tutorial

    cfg, outputs = sections
    run_id, uri = log_tutorial(cfg, outputs / "tutorial")
    client = MlflowClient(uri)
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED" and run.data.tags["gmmgen.kind"] == "tutorial"
    assert client.get_experiment(run.info.experiment_id).name == "gmmgen-tutorial"
    assert run.data.params["em.n_steps"] == "10" and run.data.params["seed"] == "0"
    children = client.search_runs([run.info.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{run_id}'")
    by_name = {c.info.run_name: c for c in children}
    assert set(by_name) == set(tstages.SECTIONS)
    anomaly_metrics = json.loads((outputs / "tutorial" / "anomaly" / "metrics.json").read_text())
    assert by_name["anomaly"].data.metrics["recall"] == pytest.approx(anomaly_metrics["recall"])
    assert "sklearn_max_abs_diff/means" in by_name["em"].data.metrics
    artifacts = {a.path for a in client.list_artifacts(by_name["clustering"].info.run_id)}
    assert {"clusters.png", "criteria.png", "criteria.csv", "metrics.json"} <= artifacts
    assert tracking.tracking_uri(cfg) == uri  # the pipeline's store, another experiment


@pytest.mark.slow
@pytest.mark.skipif(not (SHARED_MNIST / "t10k-images-idx3-ubyte.gz").exists(), reason="no MNIST test IDX folder")
def test_make_tutorial_runs_every_stage_without_tensorflow(tmp_path):
    """`dvc repro pipelines/tutorial/dvc.yaml` (what `make tutorial` runs) on a copy, with TensorFlow unimportable.

    From a plain shell: no venv on PATH, so the stages must find the project's interpreter themselves.
    """
    import os
    import re
    import subprocess

    from .conftest import PYTHON, copy_project

    project = copy_project(tmp_path / "project")
    blocker = tmp_path / "blocker"
    for name in ("tensorflow", "keras"):
        (blocker / name).mkdir(parents=True)
        (blocker / name / "__init__.py").write_text(f"raise ImportError('the tutorial must not import {name}')\n")
    env = {
        **os.environ,
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "PYTHONPATH": str(blocker),
    }
    for key in ("VIRTUAL_ENV", "PYTHONHASHSEED", "MAKEFLAGS"):
        env.pop(key, None)

    def sh(*cmd: str) -> str:
        res = subprocess.run(cmd, cwd=project, capture_output=True, text=True, timeout=900, env=env)
        assert res.returncode == 0, f"{cmd}:\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}"
        return res.stdout

    dvc = str(Path(PYTHON).parent / "dvc")
    sh(PYTHON, "pipelines/tutorial/configure.py", *SMALL)
    first = sh(dvc, "repro", "pipelines/tutorial/dvc.yaml")
    ran = re.findall(r"Running stage '[^']*:(\w+)'", first)
    assert sorted(ran) == sorted([f"tutorial_{s}" for s in tstages.SECTIONS] + ["tutorial_track"])
    assert ran[-1] == "tutorial_track"
    run = json.loads((project / "outputs" / "tutorial" / "track" / "run.json").read_text())
    assert run["experiment"] == "gmmgen-tutorial" and len(run["run_id"]) == 32
    for section in tstages.SECTIONS:
        assert (project / "outputs" / "tutorial" / section / "metrics.json").exists()
    again = sh(dvc, "repro", "pipelines/tutorial/dvc.yaml")
    assert "Running stage" not in again
    sh(PYTHON, "pipelines/tutorial/configure.py", *SMALL, "sampling.n_draws=200")
    third = sh(dvc, "repro", "pipelines/tutorial/dvc.yaml")
    assert re.findall(r"Running stage '[^']*:(\w+)'", third) == ["tutorial_sampling", "tutorial_track"]
    # The MNIST pipeline is untouched: `make run`'s stages never ran.
    assert not (project / "outputs" / "data").exists()
