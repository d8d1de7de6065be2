"""The config module's helpers, exactly: resolvers, composition roots, lookups, seeds and params.yaml."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

import pytest
import yaml
from hydra.core.config_store import ConfigStore
from omegaconf import OmegaConf

from gmmgen.pipeline import config as gconfig
from gmmgen.pipeline.config import PARAMS_HEADER, PathsConfig, seed_for
from gmmgen.runtime.params_file import params_document
from gmmgen.runtime.validation import iter_problems
from gmmgen.tracking import checks

from .conftest import compose_cfg


@pytest.fixture
def fresh_resolvers():
    """Register the resolvers anew (they are registered once, when gmmgen.pipeline.config is imported)."""
    for name in ("gmmgen.cwd", "gmmgen.uid", "gmmgen.run_dir"):
        OmegaConf.clear_resolver(name)
    gconfig._register_resolvers()
    gconfig._register_resolvers()  # a second call keeps the first registration and does not raise
    yield


def test_uid_resolver_is_six_hex_digits_fixed_per_config_object(fresh_resolvers):
    a = OmegaConf.create({"x": "${gmmgen.uid:}", "y": "${gmmgen.uid:}"})
    b = OmegaConf.create({"x": "${gmmgen.uid:}"})
    assert re.fullmatch(r"[0-9a-f]{6}", a.x)
    assert a.x == a.x == a.y, "resolved once per config object"
    assert a.x != b.x


def test_cwd_resolver_and_default_root(fresh_resolvers, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    paths = OmegaConf.create({"p": "${gmmgen.cwd:}", "q": "${gmmgen.cwd:}"})
    assert paths.p == str(tmp_path)
    monkeypatch.chdir(tmp_path.parent)
    assert paths.q == paths.p == str(tmp_path), "the start folder, resolved once per config object"
    structured = OmegaConf.structured(PathsConfig)
    assert structured.outputs == f"{os.getcwd()}/outputs" and structured.cache == f"{os.getcwd()}/outputs/cache"
    assert structured.run_dir == structured.outputs  # outside a multirun the stage folders go to outputs/


def test_compose_without_root_uses_the_current_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = gconfig.compose(["seed=3"])
    assert cfg.paths.root == str(tmp_path) and cfg.seed == 3
    rooted = gconfig.compose(None, root=tmp_path / "a" / ".." / "b")
    assert rooted.paths.root == str(tmp_path / "b") and rooted.seed == 0


def test_schema_is_registered_for_hydra():
    gconfig.register_configs()
    node = ConfigStore.instance().load("config_schema.yaml").node
    assert node.sweep.criterion == "bic" and node.data.n_train == 2000


def test_plain_dicts_are_validated_like_dict_configs(tmp_path):
    cfg = compose_cfg(tmp_path, ["sweep.n_jobs=0", "evaluate.class_grid=[2,2]"])
    plain = OmegaConf.to_container(cfg, resolve=True)
    assert isinstance(plain["sweep"], dict)
    assert list(iter_problems(plain)) == list(iter_problems(cfg))
    assert [p.split("=")[0] for p in iter_problems(plain)] == ["sweep.n_jobs", "evaluate.class_grid"]


def test_a_rule_that_raises_type_error_is_a_problem(tmp_path):
    cfg = OmegaConf.to_container(compose_cfg(tmp_path), resolve=True)
    cfg["sweep"]["n_components"] = None  # len(None): TypeError inside the rule
    assert next(iter_problems(cfg)) == (
        "sweep.n_components=None: must be a non-empty list of distinct positive integers"
    )


def test_seed_for_on_every_kind_of_config(tmp_path):
    cfg = compose_cfg(tmp_path, ["seed=9", "sample.seed=0"])
    assert seed_for(cfg, "sample.seed") == 0, "a pinned seed of 0 is not 'unset'"
    assert seed_for(cfg, "data.seed") == 9
    typed = OmegaConf.to_object(cfg)
    assert seed_for(typed, "sample.seed") == 0 and seed_for(typed, "evaluate.seed") == 9
    assert isinstance(seed_for(typed, "data.seed"), int)


def test_params_document_holds_experiment_values_only(tmp_path):
    doc = params_document(compose_cfg(tmp_path, ["seed=5"]), PARAMS_HEADER, "config_schema")
    assert doc.startswith(PARAMS_HEADER)
    body = yaml.safe_load(doc[len(PARAMS_HEADER) :])
    assert body["defaults"] == ["config_schema", "runtime", "_self_"]
    assert "paths" not in body and "hydra" not in body and str(tmp_path) not in doc
    assert body["seed"] == 5 and body["data"]["seed"] is None


@pytest.mark.parametrize("bad", ["2", 2.0, True])
def test_seed_types_are_strict(bad):
    assert gconfig._optional_seed(bad) is False
    assert gconfig._positive_int(bad) is False
    assert gconfig._is_num(float("inf")) is False and gconfig._is_num(True) is False and gconfig._is_num(2.5)


def test_list_values_are_checked_after_interpolation(tmp_path):
    cfg = compose_cfg(tmp_path, ["seed=4", "evaluate.class_grid=[1,'${seed}']"])
    assert [p for p in iter_problems(cfg) if p.startswith("evaluate.class_grid")] == []
    cfg = compose_cfg(tmp_path, ["seed=0", "evaluate.class_grid=[1,'${seed}']"])
    assert [p.split(":")[0] for p in iter_problems(cfg)] == ["evaluate.class_grid=[1, 0]"]


def _problems(tmp_path, *overrides):
    return [p for p in iter_problems(compose_cfg(tmp_path, list(overrides))) if p.startswith("data.n_")]


def test_split_sizes_against_known_pools(tmp_path):
    assert _problems(tmp_path, "data=digits") == []
    assert _problems(tmp_path, "data=digits", "data.n_train=null", "data.n_val=200", "data.n_test=1597") == [
        "data.n_train=None + data.n_val=200 + data.n_test=1597: needs 1798 digits, the digits pool has 1797"
    ]
    assert _problems(tmp_path, "data.source=bundled", "data.n_train=4000", "data.n_val=500", "data.n_test=501") == [
        "data.n_train=4000 + data.n_val=500 + data.n_test=501: needs 5001 digits, the bundled pool has 5000"
    ]
    assert _problems(tmp_path, "data=digits", "data.n_test=0") == [
        "data.n_test=0, evaluate.enabled=true: the evaluation reports on test digits and this source has none; "
        "give data.n_test > 0 or set evaluate.enabled=false (pipelines/run_all.py)"
    ]
    assert _problems(tmp_path, "data=digits", "data.n_test=0", "evaluate.enabled=false") == []
    no_judge = "leaves no digits to train the judge CNN (the pool has 1797); lower them or set evaluate.enabled=false"
    assert _problems(tmp_path, "data=digits", "data.n_train=null") == [
        f"data.n_train=None + data.n_val=200 + data.n_test=400: {no_judge}"
    ]
    sizes = ("data.n_val=397", "data.n_test=400")  # 1000 + 397 + 400 = 1797: the whole pool, none left
    assert _problems(tmp_path, "data=digits", "data.n_train=1000", *sizes) == [
        f"data.n_train=1000 + data.n_val=397 + data.n_test=400: {no_judge}"
    ]
    assert _problems(tmp_path, "data=digits", "data.n_train=999", *sizes) == []  # one digit left for the judge
    assert _problems(tmp_path, "data=digits", "data.n_train=1000", *sizes, "evaluate.enabled=false") == []


def test_make_run_needs_test_digits(tmp_path):
    gconfig.check_full_pipeline(compose_cfg(tmp_path))  # MNIST download: its own test set
    gconfig.check_full_pipeline(compose_cfg(tmp_path, ["data=digits", "data.n_test=5"]))
    for overrides in (["data.n_test=0"], ["data=digits", "data.n_test=null"]):
        with pytest.raises(gconfig.ConfigError) as info:
            gconfig.check_full_pipeline(compose_cfg(tmp_path, overrides))
        n_test = "0" if overrides == ["data.n_test=0"] else "None"
        assert str(info.value) == (
            f"data.n_test={n_test}: the evaluate stage reports on test digits; "
            "give data.n_test > 0, or set evaluate.enabled=false (the evaluate stage then records that it skipped)"
        )
    # without an evaluation no test digits are needed (experiment=pdsh): the two stages record that they skipped
    gconfig.check_full_pipeline(compose_cfg(tmp_path, ["data.n_test=0", "evaluate.enabled=false"]))


# ----------------------------------------------------------------------------- tracking.uri, branch by branch

_FILE_STORE = (
    ": MLflow 3's file store (file:// or a folder) is not supported: use null (SQLite at outputs/mlflow.db), "
    "sqlite:////<absolute path>.db or an http(s) tracking server"
)
_RELATIVE_SQLITE = (
    ": must name an absolute file, sqlite:////<absolute path>.db (four slashes), or be null for outputs/mlflow.db; "
    "a relative path lands in whatever folder the program starts in"
)
_UNSUPPORTED = (
    ": use null, sqlite:////<absolute path>.db, http(s)://<host>:<port> or a database "
    "(postgresql://<host>/<db>, mysql://, mssql://)"
)
URI_PROBLEMS = [
    (None, None),
    ("http://host:5000", None),
    ("HTTPS://host", None),
    ("http://user:pw@host", None),  # a credential: reported once, by the credential check
    ("http://alice@host:5000", None),  # a user name in an http URI: the same
    ("sqlite:////abs/x.db", None),
    ("", "tracking.uri='': must be null (SQLite at outputs/mlflow.db) or a URI"),
    ("  ", "tracking.uri='  ': must be null (SQLite at outputs/mlflow.db) or a URI"),
    (5, "tracking.uri='5': must be null (SQLite at outputs/mlflow.db) or a URI"),
    ("http://", "tracking.uri='http://': names no host (http://<host>:<port>)"),
    ("sqlite:///rel.db", "tracking.uri='sqlite:///rel.db'" + _RELATIVE_SQLITE),
    ("sqlite://", "tracking.uri='sqlite://'" + _RELATIVE_SQLITE),
    ("sqlite://x//abs.db", "tracking.uri='sqlite://x//abs.db'" + _RELATIVE_SQLITE),  # a host is no file
    ("file:///tmp/mlruns", "tracking.uri='file:///tmp/mlruns'" + _FILE_STORE),
    ("/tmp/mlruns", "tracking.uri='/tmp/mlruns'" + _FILE_STORE),
    ("C:/mlruns", "tracking.uri='C:/mlruns'" + _FILE_STORE),
    ("ftp://host/x", "tracking.uri='ftp://host/x': unsupported scheme 'ftp'" + _UNSUPPORTED),
    ("oracle://h/d", "tracking.uri='oracle://h/d': unsupported scheme 'oracle'" + _UNSUPPORTED),
    (
        "mysql+nosuchdriver://host/db",
        "tracking.uri='mysql+nosuchdriver://host/db': unknown mysql driver 'nosuchdriver': "
        "one of ['mysqldb', 'pymysql']",
    ),
]


@pytest.mark.parametrize(("uri", "problem"), URI_PROBLEMS, ids=[repr(u) for u, _ in URI_PROBLEMS])
def test_tracking_uri_problems_exactly(uri, problem):
    assert checks.tracking_uri_problem(uri) == problem


DRIVERS = [  # URI, dialect, module imported, package to install
    ("postgresql://h/db", "postgresql", "psycopg2", "psycopg2-binary"),
    ("postgresql+psycopg://h/db", "postgresql", "psycopg", "psycopg"),
    ("postgresql+pg8000://h/db", "postgresql", "pg8000", "pg8000"),
    ("mysql://h/db", "mysql", "MySQLdb", "mysqlclient"),
    ("MySQL+PyMySQL://h/db", "mysql", "pymysql", "PyMySQL"),
    ("mssql://h/db", "mssql", "pyodbc", "pyodbc"),
]


@pytest.mark.parametrize(("uri", "dialect", "module", "package"), DRIVERS, ids=[d[0] for d in DRIVERS])
def test_a_database_uri_needs_its_driver_and_a_database(uri, dialect, module, package):
    import importlib.util

    if importlib.util.find_spec(module) is None:
        assert checks.tracking_uri_problem(uri) == (
            f"tracking.uri={uri!r}: the {dialect} driver {module!r} is not installed in this environment: "
            f"`.venv/bin/pip install {package}`, or use another store"
        )
    else:
        assert checks.tracking_uri_problem(uri) is None
        no_db = uri.replace("/db", "/")
        assert checks.tracking_uri_problem(no_db) == (
            f"tracking.uri={no_db!r}: names no database ({dialect}://<host>/<database>)"
        )


def test_pca_count_bounds_exactly(tmp_path):
    def problems(*overrides):
        return list(iter_problems(compose_cfg(tmp_path, ["pca.variance=null", *overrides])))

    assert problems("pca.n_components=785") == [
        "pca.n_components=785: must be at most the 784 pixels of data.name='mnist'"
    ]
    assert problems("pca.n_components=784", "data.n_train=null") == []
    assert problems("data=digits", "pca.n_components=65") == [
        "pca.n_components=65: must be at most the 64 pixels of data.name='digits'"
    ]
    assert problems("data=digits", "pca.n_components=64") == []
    assert problems("data.n_train=100", "pca.n_components=101") == [
        "pca.n_components=101: must be at most data.n_train=100 (PCA keeps at most one axis per digit)"
    ]
    assert problems("data.n_train=100", "pca.n_components=100") == []


def test_a_credential_anywhere_is_named_by_its_path(tmp_path):
    """Lists are named by index, nested keys by their dotted path; the message never shows the secret."""
    how = "download the file once and list its local path, or use a source that needs no credentials"
    lead = (
        "credentials do not belong in the config (they would be written to params.yaml, logs and MLflow); remove them"
    )
    cfg = compose_cfg(tmp_path, ["data.origins=[/x/mnist.npz,'https://alice:s3cret@host/mnist.npz']"])
    assert list(iter_problems(cfg)) == [f"data.origins[1]='https://***@host/mnist.npz': {lead} and {how}"]
    cfg = compose_cfg(tmp_path, ["++data.idx_sha256.extra=https://alice:s3cret@host/x"])
    assert [p for p in iter_problems(cfg) if "credentials" in p] == [
        f"data.idx_sha256.extra='https://***@host/x': {lead} and {how}"
    ]
    db = "postgresql://mlflow:s3cret@db-host/mlflow"
    problems = list(iter_problems(compose_cfg(tmp_path, [f"tracking.uri={db}"])))
    assert len(problems) == 1 and "s3cret" not in problems[0]
    assert problems[0].startswith("tracking.uri='postgresql://") and problems[0].endswith(
        "remove them and keep only the user name in the URI and give the password through PGPASSWORD or "
        "~/.pgpass (PostgreSQL), or the driver's option file (MySQL: ~/.my.cnf)"
    )


@pytest.mark.parametrize(
    ("uri", "shown"),
    [
        ("http://alice@host:5000", "http://***@host:5000"),
        ("HTTPS://bob:pw@host", "HTTPS://***@host"),
        ('"http://o\'neil@host:5000"', "http://***@host:5000"),  # a user name the generic URI pattern misses
    ],
)
def test_a_user_in_an_http_tracking_uri_is_a_credential(tmp_path, uri, shown):
    """Even a bare user name (no password) in an http(s) URI: MLflow takes credentials from the environment."""
    assert list(iter_problems(compose_cfg(tmp_path, [f"tracking.uri={uri}"]))) == [
        f"tracking.uri={shown!r}: credentials do not belong in the config (they would be written to params.yaml, "
        "logs and MLflow); remove them and set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD (or "
        "MLFLOW_TRACKING_TOKEN) in the environment, or put them in ~/.netrc or ~/.mlflow/credentials"
    ]


# ----------------------------------------------------------------------------- the typed config and its views


def test_settle_types_the_config_once_and_fills_null_seeds_with_the_global_one(tmp_path):
    cfg = compose_cfg(tmp_path, ["seed=7", "data.seed=3"])
    typed = gconfig.settle(cfg)
    assert isinstance(typed, gconfig.Config) and isinstance(typed.data, gconfig.DataConfig)
    assert typed.data.seed == 3  # pinned: kept
    assert (typed.model.random_state, typed.sample.seed, typed.classifier.seed, typed.evaluate.seed) == (7, 7, 7, 7)
    assert typed.paths.outputs == f"{tmp_path.resolve()}/outputs"  # interpolations resolved
    assert gconfig.settle(typed) is typed  # a typed config comes back as it is
    with pytest.raises(gconfig.ConfigError, match="^the composed config is not over the gmmgen schema: its defaults"):
        gconfig.settle(OmegaConf.create({"seed": 1}))


def test_model_params_are_the_mixtures_keyword_arguments(tmp_path):
    overrides = ["seed=5", "model.n_init=2", "model.reg_covar=0.001", "model.max_iter=50", "model.tol=0.01"]
    cfg = compose_cfg(tmp_path, [*overrides, "model.init_params=random", "model.random_state=null"])
    want = {"n_init": 2, "reg_covar": 0.001, "max_iter": 50, "tol": 0.01, "init_params": "random", "random_state": 5}
    assert gconfig.model_params(cfg) == want
    assert gconfig.model_params(gconfig.settle(cfg)) == want
    assert gconfig.model_params(compose_cfg(tmp_path, ["seed=5", "model.random_state=9"]))["random_state"] == 9


def test_as_dict_resolves_interpolations_for_either_kind_of_config(tmp_path):
    cfg = compose_cfg(tmp_path, ["seed=4"])
    plain = gconfig.as_dict(cfg)
    assert plain["paths"]["outputs"] == f"{tmp_path.resolve()}/outputs"
    assert plain["paths"]["run_dir"] == plain["paths"]["outputs"]  # outside a multirun: the outputs folder
    typed = gconfig.as_dict(gconfig.settle(cfg))
    assert typed["paths"] == plain["paths"] and typed["sweep"] == plain["sweep"] and typed["model"]["random_state"] == 4
    defaults = gconfig.as_dict(gconfig.Config())  # the schema's own defaults still hold interpolations
    assert defaults["paths"]["outputs"] == defaults["paths"]["run_dir"] == f"{os.getcwd()}/outputs"


@dataclass
class OtherTracking:
    uri: str | None = None


@dataclass
class Other:
    """Another config root's schema (the tutorial's is one): what the entry points must tell from the pipeline's."""

    seed: int = 0
    tracking: OtherTracking = field(default_factory=OtherTracking)


def test_each_config_finds_its_root_by_its_schema(tmp_path, monkeypatch):
    """The pipeline's root for its Config, a plain dict or a schemaless DictConfig; another root by its schema."""
    monkeypatch.setattr(gconfig, "_ROOTS", dict(gconfig._ROOTS))  # add_root below is undone after the test
    composed = compose_cfg(tmp_path)
    assert gconfig.root_of(composed) is gconfig.PIPELINE and gconfig.PIPELINE.schema is gconfig.Config
    assert gconfig.root_of(gconfig.settle(composed)) is gconfig.PIPELINE
    assert gconfig.root_of({"seed": 0}) is gconfig.root_of(OmegaConf.create({"seed": 0})) is gconfig.PIPELINE
    assert gconfig.PIPELINE.settle is gconfig.settle and gconfig.PIPELINE.rule_problems is gconfig.rule_problems
    other = gconfig.ConfigRoot("other_schema", Other, lambda cfg: iter(["seed=0: must be other"]), lambda cfg: cfg)
    assert gconfig.root_of(Other()) is gconfig.PIPELINE  # not added yet
    gconfig.add_root(other)
    assert gconfig.root_of(OmegaConf.structured(Other)) is other and gconfig.root_of(Other()) is other
    assert gconfig.root_of(composed) is gconfig.PIPELINE
    assert list(iter_problems(OmegaConf.structured(Other))) == ["seed=0: must be other"]
