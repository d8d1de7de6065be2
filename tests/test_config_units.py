"""The config module's helpers, exactly: resolvers, composition roots, lookups, seeds and params.yaml."""

from __future__ import annotations

import os
import re

import pytest
import yaml
from hydra.core.config_store import ConfigStore
from omegaconf import OmegaConf

from gmmgen import config as gconfig
from gmmgen.config import PARAMS_HEADER, PathsConfig, iter_problems, params_document, seed_for

from .conftest import compose_cfg


@pytest.fixture
def fresh_resolvers():
    """Register the resolvers anew (they are registered once, when gmmgen.config is imported)."""
    for name in ("gmmgen.cwd", "gmmgen.uid"):
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
    doc = params_document(compose_cfg(tmp_path, ["seed=5"]))
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


def test_make_run_needs_test_digits(tmp_path):
    gconfig.check_full_pipeline(compose_cfg(tmp_path))  # MNIST download: its own test set
    gconfig.check_full_pipeline(compose_cfg(tmp_path, ["data=digits", "data.n_test=5"]))
    for overrides in (["data.n_test=0"], ["data=digits", "data.n_test=null"]):
        with pytest.raises(gconfig.ConfigError, match=r"^data.n_test=(0|None): `make run` always runs the evaluate"):
            gconfig.check_full_pipeline(compose_cfg(tmp_path, overrides))
