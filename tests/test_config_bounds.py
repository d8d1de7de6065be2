"""Every validation rule at its boundaries: the last valid values pass, the first invalid ones are named.

test_config.py shows that a bad value stops the program with the right message;
this file pins where each rule's line lies, so that a rule that rejects a valid
value (``0 <`` for ``0 <=``, ``2*32`` for ``2**32``, ``any`` for ``all``) fails a test.
The config is composed once and edited per case: fast enough to list every rule.
"""

from __future__ import annotations

import copy
import re

import pytest
from omegaconf import OmegaConf

from gmmgen.pipeline.config import RULES, ConfigError
from gmmgen.runtime.validation import iter_problems, validate

from .conftest import compose_cfg

SEEDS = ([None, 0, 2**32 - 1], [-1, 2**32])
POSITIVE = ([1, 7], [0, -1])
NAME = (["a", " gmmgen "], ["", "   "])

# key: (valid values at or next to the boundary, invalid values just past it)
BOUNDS: dict[str, tuple[list, list]] = {
    "seed": ([0, 2**32 - 1], [-1, 2**32]),
    "data.name": (["mnist", "digits"], ["MNIST", "cifar"]),
    "data.source": (["auto", "download", "bundled"], ["Auto", ""]),
    "data.timeout": ([1e-9, 30.0], [0.0, -1.0, float("inf"), float("nan")]),
    "data.seed": SEEDS,
    "data.n_train": ([None, 1], [0, -1]),
    "data.n_val": ([0, 1, 7], [-1, -7]),  # 0: only when nothing needs them (a cross-check, not the rule)
    "data.n_test": ([None, 0, 1], [-1, -7]),
    "data.n_classifier": ([None, 1], [0, -1]),
    "data.npz_sha256": ([None, "0" * 64, "0123456789abcdef" * 4], ["A" * 64, "0" * 63, "0" * 65, "g" * 64]),
    "pca.variance": ([None, 1e-9, 0.5, 1.0], [0.0, 1.0000001, -0.5, float("nan")]),
    "pca.n_components": ([None, 1], [0, -1]),
    "pca.svd_solver": (["full", "auto", "covariance_eigh"], ["arpack", "Full"]),
    "model.n_init": POSITIVE,
    "model.reg_covar": ([0.0, 1e-6], [-1e-12, float("inf")]),
    "model.max_iter": POSITIVE,
    "model.tol": ([1e-12, 0.5], [0.0, -1e-3]),
    "model.init_params": (["kmeans", "k-means++", "random", "random_from_data"], ["k-means", "best"]),
    "model.random_state": SEEDS,
    "sweep.n_components": ([[1], [1, 2, 140]], [[], [0], [-1, 2], [2, 2], [3, 1, 3]]),
    "sweep.covariance_types": (
        [["full"], ["tied"], ["diag"], ["spherical"], ["full", "tied", "diag", "spherical"]],
        [[], ["full", "full"], ["Full"], ["full", "round"]],
    ),
    "sweep.criterion": (["bic", "aic", "heldout"], ["BIC", "mdl"]),
    "sweep.backend": (["threads", "processes"], ["loky", "Threads"]),
    "sweep.n_jobs": ([-1, 1, 64], [0, -2]),
    "sweep.thin_points_per_parameter": ([0, 0.0, 1.0, 5], [-1e-9, -1, float("nan"), float("inf")]),
    "sample.n": POSITIVE,
    "sample.seed": SEEDS,
    "sample.grid_cols": POSITIVE,
    "sample.n_real": POSITIVE,
    "classifier.epochs": POSITIVE,
    "classifier.batch_size": POSITIVE,
    "classifier.seed": SEEDS,
    "evaluate.n_samples": ([10, 1000], [9, 0]),
    "evaluate.seed": SEEDS,
    "evaluate.copy_quantile": ([1e-9, 0.999999], [0.0, 1.0, float("nan")]),
    "evaluate.copying_cells": ([2, 2000], [1, 0]),  # 2000: the default data.n_train
    "evaluate.copying_min_generated": ([2, 1000], [1, 0]),  # 1000: the default evaluate.n_samples
    "evaluate.copying_threshold": ([-1e-9, -3.0], [0.0, 1.0, float("nan")]),
    "evaluate.prdc_k": POSITIVE,
    "evaluate.ndb_bins": ([2, 1000], [1, 0]),  # 1000: the default data.n_test
    "evaluate.ndb_alpha": ([1e-9, 0.999999], [0.0, 1.0, float("nan")]),
    "evaluate.anomaly_percentile": ([1e-9, 99.9999], [0.0, 100.0, -1.0]),
    "evaluate.corruptions": (
        [[], ["noise"], ["inversion"], ["rotation"], ["blank"], ["noise", "inversion", "rotation", "blank"]],
        [["noise", "noise"], ["smudge"], ["noise", "smudge"]],
    ),
    "evaluate.noise_std": ([1e-9, 2.0], [0.0, -0.5, float("inf")]),
    "evaluate.class_grid": ([[1], [1, 2, 3]], [[], [0], [2, 2], [1, -3]]),
    "evaluate.class_samples": POSITIVE,
    "evaluate.n_least_likely": POSITIVE,
    "tracking.experiment": NAME,
    "tracking.registered_model": NAME,
    "tracking.alias": (["champion", "a1"], ["", "   ", "3"]),
    "tracking.challenger_alias": (["challenger", "c1"], ["", "   ", "3"]),
    "tracking.max_digits_per_request": ([1, 10000, 1_000_000], [0, -1, 1_000_001]),
    "tracking.connect_timeout": ([1e-9, 10.0], [0.0, -1.0]),
}

CASES = [(key, value, True) for key, (good, _) in BOUNDS.items() for value in good] + [
    (key, value, False) for key, (_, bad) in BOUNDS.items() for value in bad
]


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    cfg = compose_cfg(tmp_path_factory.mktemp("bounds"))
    validate(cfg)
    return cfg


def _rule_problems(cfg, key: str) -> list[str]:
    """Messages of the rule for ``key`` (not the cross-key checks, which say 'set exactly one' etc.)."""
    return [p for p in iter_problems(cfg) if p.split("=", 1)[0] == key and ": must be " in p]


def test_every_rule_has_boundary_cases():
    missing = [key for key, _, _ in RULES if key not in BOUNDS]
    assert missing == [], f"add valid and invalid boundary values for {missing} to BOUNDS in {__file__}"
    assert all(good and bad for good, bad in BOUNDS.values())


@pytest.mark.parametrize(("key", "value", "valid"), CASES, ids=[f"{k}={v!r}" for k, v, _ in CASES])
def test_rule_boundary(base, key, value, valid):
    cfg = copy.deepcopy(base)
    OmegaConf.update(cfg, key, value, merge=False)
    problems = _rule_problems(cfg, key)
    if valid:
        assert problems == [], f"{key}={value!r} is valid but was rejected: {problems}"
    else:
        assert len(problems) == 1, f"{key}={value!r} is invalid but was accepted"
        allowed = next(a for k, _, a in RULES if k == key)
        assert problems[0].endswith(f": must be {allowed}")
        with pytest.raises(ConfigError):
            validate(cfg)


@pytest.mark.parametrize(
    ("key", "value", "says"),
    [
        ("evaluate.copying_cells", 2001, "must be at most data.n_train=2000 (k-means cells of the digits)"),
        ("evaluate.copying_min_generated", 1001, "must be at most evaluate.n_samples=1000"),
        ("evaluate.prdc_k", 1000, "must be below evaluate.n_samples=1000"),
        ("evaluate.ndb_bins", 1001, "must be at most data.n_test=1000 (k-means bins of the test digits)"),
    ],
)
def test_sample_metric_sizes_the_digits_cannot_fill(base, key, value, says):
    cfg = copy.deepcopy(base)
    OmegaConf.update(cfg, key, value, merge=False)
    with pytest.raises(ConfigError, match=rf"^{re.escape(f'{key}={value}: {says}')}"):
        validate(cfg)


def test_only_the_bad_key_is_reported(base):
    cfg = copy.deepcopy(base)
    OmegaConf.update(cfg, "sweep.n_jobs", 0, merge=False)
    OmegaConf.update(cfg, "tracking.connect_timeout", 0, merge=False)
    assert [p.split("=", 1)[0] for p in iter_problems(cfg)] == ["sweep.n_jobs", "tracking.connect_timeout"]
    with pytest.raises(ConfigError, match=r"^sweep.n_jobs=0: must be "):
        validate(cfg)


@pytest.mark.parametrize(
    ("variance", "count", "ok"),
    [(0.85, None, True), (None, 20, True), (None, None, False), (0.85, 20, False)],
)
def test_exactly_one_of_variance_and_count(base, variance, count, ok):
    cfg = copy.deepcopy(base)
    OmegaConf.update(cfg, "pca.variance", variance, merge=False)
    OmegaConf.update(cfg, "pca.n_components", count, merge=False)
    problems = [p for p in iter_problems(cfg) if "set exactly one" in p]
    assert (problems == []) is ok
    if not ok:
        assert problems == [
            f"pca.variance={variance!r}, pca.n_components={count!r}: set exactly one of them (the other null)"
        ]


@pytest.mark.parametrize(
    ("name", "source", "origins", "ok"),
    [
        ("mnist", "download", [], False),
        ("mnist", "download", ["a.npz"], True),
        ("mnist", "auto", [], True),
        ("mnist", "bundled", [], True),
        ("digits", "download", [], True),
    ],
)
def test_download_needs_an_origin_only_for_mnist_downloads(base, name, source, origins, ok):
    cfg = copy.deepcopy(base)
    for key, value in (("data.name", name), ("data.source", source), ("data.origins", origins)):
        OmegaConf.update(cfg, key, value, merge=False)
    problems = [p for p in iter_problems(cfg) if p.startswith("data.origins=")]
    assert (problems == []) is ok
    if not ok:
        assert problems == ["data.origins=[]: must list at least one origin when data.source='download'"]


def test_typed_config_objects_validate_like_the_dict_config(base):
    cfg = copy.deepcopy(base)
    OmegaConf.update(cfg, "evaluate.class_grid", [2, 2], merge=False)
    OmegaConf.update(cfg, "seed", 2**32, merge=False)
    typed = OmegaConf.to_object(cfg)
    assert list(iter_problems(typed)) == list(iter_problems(cfg))
    assert [p.split("=", 1)[0] for p in iter_problems(typed)] == ["seed", "evaluate.class_grid"]


def test_the_challenger_alias_differs_from_the_champion_alias(base):
    cfg = copy.deepcopy(base)
    OmegaConf.update(cfg, "tracking.challenger_alias", "champion", merge=False)
    expected = "tracking.challenger_alias='champion': must differ from tracking.alias='champion'"
    assert [p for p in iter_problems(cfg) if p.startswith("tracking.")] == [expected]
    with pytest.raises(ConfigError, match="must differ from tracking.alias"):
        validate(cfg)
