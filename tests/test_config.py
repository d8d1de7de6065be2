"""Config composition, the schema's type checks and every validation rule."""

from __future__ import annotations

import pytest
from hydra.errors import ConfigCompositionException
from omegaconf import OmegaConf

from gmmgen.pipeline.config import PARAMS_HEADER, ConfigError, seed_for
from gmmgen.runtime.params_file import params_document
from gmmgen.runtime.validation import validate

from .conftest import REPO, compose_cfg, run_py


def test_default_config_composes_and_validates(tmp_path):
    cfg = compose_cfg(tmp_path)
    validate(cfg)
    assert cfg.paths.outputs == f"{tmp_path}/outputs"
    assert cfg.pca.variance == 0.85 and cfg.pca.whiten is True
    assert 110 in cfg.sweep.n_components
    parts = ("data.seed", "model.random_state", "sample.seed", "classifier.seed", "evaluate.seed")
    assert all(OmegaConf.select(cfg, key) is None for key in parts), "parts follow the global seed by default"
    assert {seed_for(cfg, key) for key in parts} == {cfg.seed}


def test_experiment_classic_overrides_groups(tmp_path):
    cfg = compose_cfg(tmp_path, ["experiment=classic"])
    validate(cfg)
    assert list(cfg.sweep.n_components) == [110]
    assert cfg.model.random_state == 2 and cfg.sample.n == 10 and cfg.data.n_train == 2000


def test_experiment_quick_switches_data_group(tmp_path):
    cfg = compose_cfg(tmp_path, ["experiment=quick"])
    assert cfg.data.name == "digits" and list(cfg.sweep.covariance_types) == ["full", "diag"]


def test_seed_propagates_unless_a_part_is_pinned(tmp_path):
    cfg = compose_cfg(tmp_path, ["seed=7", "sample.seed=3"])
    assert seed_for(cfg, "data.seed") == seed_for(cfg, "model.random_state") == seed_for(cfg, "evaluate.seed") == 7
    assert seed_for(cfg, "sample.seed") == 3


BAD_VALUES = [
    ("seed=-1", "seed=-1"),
    ("data.seed=-2", "data.seed=-2"),
    ("classifier.seed=-1", "classifier.seed=-1"),
    ("evaluate.seed=-1", "evaluate.seed=-1"),
    ("data.name=cifar", "data.name='cifar'"),
    ("data.source=internet", "data.source='internet'"),
    ("data.timeout=0", "data.timeout=0.0"),
    ("data.n_train=0", "data.n_train=0"),
    ("data.n_test=-5", "data.n_test=-5"),
    ("data.npz_sha256=abc", "data.npz_sha256='abc'"),
    ("pca.variance=0", "pca.variance=0.0"),
    ("pca.variance=1.5", "pca.variance=1.5"),
    ("pca.n_components=0", "pca.n_components=0"),
    ("pca.svd_solver=magic", "pca.svd_solver='magic'"),
    ("model.n_init=0", "model.n_init=0"),
    ("model.reg_covar=-1e-6", "model.reg_covar=-1e-06"),
    ("model.max_iter=0", "model.max_iter=0"),
    ("model.tol=0", "model.tol=0.0"),
    ("model.init_params=best", "model.init_params='best'"),
    ("model.random_state=-3", "model.random_state=-3"),
    ("sweep.n_components=[]", "sweep.n_components=[]"),
    ("sweep.n_components=[0,2]", "sweep.n_components=[0, 2]"),
    ("sweep.n_components=[2,2]", "sweep.n_components=[2, 2]"),
    ("sweep.covariance_types=[full,round]", "sweep.covariance_types=['full', 'round']"),
    ("sweep.covariance_types=[]", "sweep.covariance_types=[]"),
    ("sweep.criterion=mdl", "sweep.criterion='mdl'"),
    ("sweep.n_jobs=0", "sweep.n_jobs=0"),
    ("sweep.n_jobs=-2", "sweep.n_jobs=-2"),
    ("sample.n=0", "sample.n=0"),
    ("sample.seed=-1", "sample.seed=-1"),
    ("sample.grid_cols=0", "sample.grid_cols=0"),
    ("sample.n_real=0", "sample.n_real=0"),
    ("tracking.experiment=' '", "tracking.experiment=' '"),
    ("tracking.registered_model=''", "tracking.registered_model=''"),
    ("tracking.connect_timeout=0", "tracking.connect_timeout=0.0"),
]


@pytest.mark.parametrize(("override", "named"), BAD_VALUES, ids=[b[0] for b in BAD_VALUES])
def test_every_rule_names_key_value_and_allowed(tmp_path, override, named):
    cfg = compose_cfg(tmp_path, [override])
    with pytest.raises(ConfigError) as info:
        validate(cfg)
    message = str(info.value)
    assert message.startswith(named + ": must be "), message
    assert "\n" not in message


def test_pca_needs_exactly_one_of_variance_and_count(tmp_path):
    with pytest.raises(ConfigError, match="set exactly one"):
        validate(compose_cfg(tmp_path, ["pca.variance=null"]))
    with pytest.raises(ConfigError, match="set exactly one"):
        validate(compose_cfg(tmp_path, ["pca.n_components=20"]))
    validate(compose_cfg(tmp_path, ["pca.variance=null", "pca.n_components=20"]))


def test_download_needs_an_origin(tmp_path):
    with pytest.raises(ConfigError, match=r"data.origins=\[\]"):
        validate(compose_cfg(tmp_path, ["data.source=download", "data.origins=[]"]))


@pytest.mark.parametrize(
    "override", ["data.n_train=abc", "pca.whiten=maybe", "sweep.n_components=[a,b]", "model.tol=fast"]
)
def test_schema_rejects_wrong_types_at_composition(tmp_path, override):
    with pytest.raises(ConfigCompositionException) as info:
        compose_cfg(tmp_path, [override])
    assert override.split("=")[0] in str(info.value) + str(info.value.__cause__)


def test_unknown_key_is_rejected(tmp_path):
    with pytest.raises(ConfigCompositionException):
        compose_cfg(tmp_path, ["pca.varience=0.9"])


def test_bad_value_stops_cli_with_one_line_and_exit_2(tmp_path):
    result = run_py(
        [str(REPO / "pipelines" / "configure.py"), f"paths.root={tmp_path}", "pca.variance=1.5"], cwd=tmp_path
    )
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines == [
        "gmmgen: config error: pca.variance=1.5: must be a fraction in (0, 1], or null when pca.n_components is set"
    ]
    assert not (tmp_path / "params.yaml").exists()
    assert not (tmp_path / "outputs" / "data").exists()


def test_wrong_type_on_cli_exits_nonzero_naming_key(tmp_path):
    result = run_py(
        [str(REPO / "pipelines" / "stage.py"), "data", f"paths.root={tmp_path}", "data.n_train=lots"], cwd=tmp_path
    )
    assert result.returncode != 0
    assert "data.n_train" in result.stderr and "lots" in result.stderr
    assert not (tmp_path / "outputs" / "data").exists()


def test_committed_params_yaml_matches_conf(tmp_path):
    """params.yaml is generated from conf/: the committed copy must not drift from it."""
    cfg = compose_cfg(tmp_path)
    assert (REPO / "params.yaml").read_text() == params_document(cfg, PARAMS_HEADER, "config_schema")


def test_params_yaml_round_trips_through_hydra(tmp_path):
    """A stage composing params.yaml (as DVC runs it) sees the config that produced params.yaml."""
    overrides = ["pca.variance=0.9", "sweep.n_components=[3,5]", "experiment=classic", "seed=4"]
    (tmp_path / "params.yaml").write_text(
        params_document(compose_cfg(tmp_path, overrides), PARAMS_HEADER, "config_schema")
    )
    script = [str(REPO / "pipelines" / "stage.py"), "reduce"]
    direct = run_py([*script, f"paths.root={tmp_path}", *overrides, "--cfg", "job", "--resolve"], cwd=tmp_path)
    via_params = run_py(
        [
            *script,
            "--config-dir",
            ".",
            "--config-name",
            "params",
            f"paths.root={tmp_path}",
            "--cfg",
            "job",
            "--resolve",
        ],
        cwd=tmp_path,
    )
    assert direct.returncode == 0 and via_params.returncode == 0, direct.stderr + via_params.stderr
    assert OmegaConf.create(via_params.stdout) == OmegaConf.create(direct.stdout)
    resolved = OmegaConf.create(direct.stdout)
    assert resolved.seed == 4 and resolved.data.seed is None and resolved.model.random_state == 2
    assert resolved.pca.variance == 0.9
