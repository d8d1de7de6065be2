"""The config's validation rules, as data: each key's allowed values (:data:`RULES`) and the combinations checked.

Plain functions of a config (a DictConfig, a plain dict or a typed
:class:`gmmgen.pipeline.config.Config`: values are read by dotted key), so the
rules can run before the config is typed. :func:`rule_problems` yields one
message per invalid value; :func:`check_full_pipeline` raises
:class:`gmmgen.errors.ConfigError` for what ``make run`` needs beyond them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from gmmgen.core import compute
from gmmgen.core.choices import CORRUPTIONS, COVARIANCE_TYPES, CRITERIA, DATA_NAMES, DATA_SOURCES, INIT_PARAMS
from gmmgen.errors import ConfigError

# Training pools whose size is known before any download (name or source -> digits, no test pool).
KNOWN_POOLS = {"digits": 1797, "bundled": 5000}
# The most digits a downloaded MNIST can give, by pool: its files hold 60,000 training and 10,000 test digits
# (a config asking for more is refused before params.yaml is written, not after the download).
MNIST_POOLS = {"train": 60000, "test": 10000}


Rule = tuple[str, Callable[[Any], bool], str]


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _positive_int(v: Any) -> bool:
    return _is_int(v) and v > 0


def _optional_positive_int(v: Any) -> bool:
    return v is None or _positive_int(v)


def _optional_seed(v: Any) -> bool:
    return v is None or (_is_int(v) and 0 <= v < 2**32)


def _positive_num(v: Any) -> bool:
    return _is_num(v) and v > 0


RULES: list[Rule] = [
    ("seed", lambda v: _is_int(v) and 0 <= v < 2**32, "an integer in [0, 2**32)"),
    ("data.name", lambda v: v in DATA_NAMES, f"one of {list(DATA_NAMES)}"),
    ("data.source", lambda v: v in DATA_SOURCES, f"one of {list(DATA_SOURCES)}"),
    ("data.timeout", _positive_num, "a positive number of seconds"),
    ("data.seed", _optional_seed, "an integer in [0, 2**32), or null for the global seed"),
    ("data.n_train", _optional_positive_int, "a positive integer, or null for all"),
    (
        "data.n_val",
        lambda v: _is_int(v) and v >= 0,
        "an integer >= 0 (validation digits; 0 only with sweep.criterion bic or aic and evaluate.enabled=false)",
    ),
    (
        "data.n_test",
        lambda v: v is None or (_is_int(v) and v >= 0),
        "an integer >= 0 (0: no test set), or null for all",
    ),
    ("data.n_classifier", _optional_positive_int, "a positive integer, or null for all"),
    (
        "data.npz_sha256",
        lambda v: v is None or (len(v) == 64 and all(c in "0123456789abcdef" for c in v)),
        "null or 64 lowercase hex digits",
    ),
    (
        "pca.variance",
        lambda v: v is None or (_is_num(v) and 0 < v <= 1),
        "a fraction in (0, 1], or null when pca.n_components is set",
    ),
    ("pca.n_components", _optional_positive_int, "a positive integer, or null"),
    ("pca.svd_solver", lambda v: v in ("full", "auto", "covariance_eigh"), "full, auto or covariance_eigh"),
    ("model.n_init", _positive_int, "a positive integer"),
    ("model.reg_covar", lambda v: _is_num(v) and v >= 0, "a number >= 0"),
    ("model.max_iter", _positive_int, "a positive integer"),
    ("model.tol", _positive_num, "a positive number"),
    ("model.init_params", lambda v: v in INIT_PARAMS, f"one of {list(INIT_PARAMS)}"),
    ("model.random_state", _optional_seed, "an integer in [0, 2**32), or null for the global seed"),
    (
        "sweep.n_components",
        lambda v: len(v) > 0 and all(_positive_int(k) for k in v) and len(set(v)) == len(v),
        "a non-empty list of distinct positive integers",
    ),
    (
        "sweep.covariance_types",
        lambda v: len(v) > 0 and all(c in COVARIANCE_TYPES for c in v) and len(set(v)) == len(v),
        f"a non-empty list of distinct values from {list(COVARIANCE_TYPES)}",
    ),
    ("sweep.criterion", lambda v: v in CRITERIA, f"one of {list(CRITERIA)}"),
    ("sweep.thin_points_per_parameter", lambda v: _is_num(v) and v >= 0, "a number >= 0 (0: never thin)"),
    ("sweep.backend", lambda v: v in ("threads", "processes"), "'threads' or 'processes'"),
    ("sweep.n_jobs", lambda v: _is_int(v) and v != 0 and v >= -1, "a positive integer, or -1 for all cores"),
    ("sample.n", _positive_int, "a positive integer"),
    ("sample.seed", _optional_seed, "an integer in [0, 2**32), or null for the global seed"),
    ("sample.grid_cols", _positive_int, "a positive integer"),
    ("sample.n_real", _positive_int, "a positive integer"),
    ("classifier.epochs", _positive_int, "a positive integer"),
    ("classifier.batch_size", _positive_int, "a positive integer"),
    ("classifier.seed", _optional_seed, "an integer in [0, 2**32), or null for the global seed"),
    ("evaluate.n_samples", lambda v: _is_int(v) and v >= 10, "an integer >= 10"),
    ("evaluate.seed", _optional_seed, "an integer in [0, 2**32), or null for the global seed"),
    ("evaluate.copy_quantile", lambda v: _is_num(v) and 0 < v < 1, "a fraction in (0, 1)"),
    ("evaluate.copying_cells", lambda v: _is_int(v) and v >= 2, "an integer >= 2"),
    ("evaluate.copying_min_generated", lambda v: _is_int(v) and v >= 2, "an integer >= 2"),
    ("evaluate.copying_threshold", lambda v: _is_num(v) and v < 0, "a negative number (a z-score)"),
    ("evaluate.prdc_k", _positive_int, "a positive integer"),
    ("evaluate.ndb_bins", lambda v: _is_int(v) and v >= 2, "an integer >= 2"),
    ("evaluate.ndb_alpha", lambda v: _is_num(v) and 0 < v < 1, "a fraction in (0, 1)"),
    ("evaluate.anomaly_percentile", lambda v: _is_num(v) and 0 < v < 100, "a percentile in (0, 100)"),
    (
        "evaluate.corruptions",
        lambda v: all(c in CORRUPTIONS for c in v) and len(set(v)) == len(v),
        f"a list of distinct values from {list(CORRUPTIONS)}",
    ),
    ("evaluate.noise_std", _positive_num, "a positive number (pixels scaled to [0, 1])"),
    (
        "evaluate.class_grid",
        lambda v: len(v) > 0 and all(_positive_int(k) for k in v) and len(set(v)) == len(v),
        "a non-empty list of distinct positive integers",
    ),
    ("evaluate.class_samples", _positive_int, "a positive integer"),
    ("evaluate.n_least_likely", _positive_int, "a positive integer"),
    ("tracking.experiment", lambda v: isinstance(v, str) and v.strip() != "", "a non-empty name"),
    ("tracking.registered_model", lambda v: isinstance(v, str) and v.strip() != "", "a non-empty name"),
    (
        "tracking.alias",
        lambda v: isinstance(v, str) and v.strip() != "" and not v.isdigit(),
        "a non-empty alias name, not a number",
    ),
    (
        "tracking.challenger_alias",
        lambda v: isinstance(v, str) and v.strip() != "" and not v.isdigit(),
        "a non-empty alias name, not a number",
    ),
    ("tracking.max_digits_per_request", lambda v: _is_int(v) and 1 <= v <= 1_000_000, "an integer in [1, 1000000]"),
    ("tracking.connect_timeout", _positive_num, "a positive number of seconds"),
]


def _lookup(cfg: Any, dotted: str) -> Any:
    node = cfg
    for part in dotted.split("."):
        node = node[part] if isinstance(node, dict) else getattr(node, part)
    if isinstance(node, ListConfig | DictConfig):
        return OmegaConf.to_container(node, resolve=True)
    return node


def lookup(cfg: Any, dotted: str) -> Any:
    """``cfg``'s value at ``dotted`` (``"data.n_train"``) for a DictConfig, a plain dict or a :class:`Config`."""
    return _lookup(cfg, dotted)


def rule_problems(cfg: Any) -> Iterator[str]:
    """Yield one message per invalid value of the experiment: ``key=value: must be <allowed>``.

    The rules (:data:`RULES`), then the combinations they cannot see (PCA,
    compute, origins, split sizes). Not redacted, and blind to credentials and
    to the tracking URI: the entry points check the whole config through
    :func:`gmmgen.runtime.validation.iter_problems`, which adds those and masks
    every message.
    """
    for key, ok, allowed in RULES:
        value = _lookup(cfg, key)
        try:
            good = bool(ok(value))
        except TypeError:
            good = False
        if not good:
            yield f"{key}={value!r}: must be {allowed}"
    variance = _lookup(cfg, "pca.variance")
    count = _lookup(cfg, "pca.n_components")
    if (variance is None) == (count is None):
        yield (f"pca.variance={variance!r}, pca.n_components={count!r}: set exactly one of them (the other null)")
    pixels = PIXELS.get(_lookup(cfg, "data.name"))
    n_train = _lookup(cfg, "data.n_train")
    if _positive_int(count) and pixels is not None and count > pixels:
        name = _lookup(cfg, "data.name")
        yield f"pca.n_components={count}: must be at most the {pixels} pixels of data.name={name!r}"
    elif _positive_int(count) and _positive_int(n_train) and count > n_train:
        yield f"pca.n_components={count}: must be at most data.n_train={n_train} (PCA keeps at most one axis per digit)"
    yield from compute.rule_problems(
        _lookup(cfg, "compute.namespace"), _lookup(cfg, "compute.device"), _lookup(cfg, "compute.dtype")
    )
    if _lookup(cfg, "data.name") == "mnist" and _lookup(cfg, "data.source") == "download":
        if not _lookup(cfg, "data.origins"):
            yield "data.origins=[]: must list at least one origin when data.source='download'"
    yield from _split_problems(cfg)
    yield from _sample_metric_problems(cfg)
    alias, challenger = _lookup(cfg, "tracking.alias"), _lookup(cfg, "tracking.challenger_alias")
    if alias == challenger:
        yield f"tracking.challenger_alias={challenger!r}: must differ from tracking.alias={alias!r}"


def known_pool(cfg: Any) -> int | None:
    """Size of the training pool when known before any download (8x8 digits, bundled MNIST), else None."""
    name, source = _lookup(cfg, "data.name"), _lookup(cfg, "data.source")
    return KNOWN_POOLS.get(name) if name != "mnist" else KNOWN_POOLS.get(source)


def check_full_pipeline(cfg: Any) -> None:
    """What ``make run`` (``dvc repro``, every stage) needs beyond :func:`validate`: test digits to report on."""
    n_test = _lookup(cfg, "data.n_test")
    if not _lookup(cfg, "evaluate.enabled"):
        return  # the classifier and evaluate stages write a record that they were skipped
    if n_test == 0 or (n_test is None and known_pool(cfg) is not None):
        raise ConfigError(
            f"data.n_test={n_test!r}: the evaluate stage reports on test digits; "
            "give data.n_test > 0, or set evaluate.enabled=false (the evaluate stage then records that it skipped)"
        )


def _split_problems(cfg: Any) -> Iterator[str]:
    """Split sizes that cannot work: too many digits for a known pool, no test or judge digits to evaluate."""
    try:
        n_train, n_val, n_test, n_clf = (
            _lookup(cfg, f"data.{k}") for k in ("n_train", "n_val", "n_test", "n_classifier")
        )
        name, source, evaluate = (
            _lookup(cfg, "data.name"),
            _lookup(cfg, "data.source"),
            _lookup(cfg, "evaluate.enabled"),
        )
    except (AttributeError, KeyError):
        return
    if not all(v is None or _is_int(v) for v in (n_train, n_val, n_test, n_clf)):
        return  # already reported by the rules
    pool = known_pool(cfg)
    n_test_taken = (n_test or 0) if pool is not None else n_test  # downloads carry their own test set
    if n_val == 0 and (evaluate or _lookup(cfg, "sweep.criterion") == "heldout"):
        needs = "sweep.criterion=heldout" if _lookup(cfg, "sweep.criterion") == "heldout" else "the evaluation"
        yield (
            f"data.n_val=0: {needs} chooses on validation digits; give data.n_val > 0, or use sweep.criterion bic "
            "or aic with evaluate.enabled=false"
        )
    if evaluate and n_test_taken == 0:
        yield (
            f"data.n_test={n_test!r}, evaluate.enabled=true: the evaluation reports on test digits and this "
            "source has none; give data.n_test > 0 or set evaluate.enabled=false (pipelines/run_all.py)"
        )
    if pool is None:
        if name == "mnist":
            yield from _mnist_pool_problems(n_train, n_val, n_test, source)
        return
    used = (n_test_taken or 0) + (n_val or 0) + (n_train or 0)
    label = f"data.n_train={n_train!r} + data.n_val={n_val!r} + data.n_test={n_test!r}"
    if used + (1 if n_train is None else 0) > pool:
        where = name if name != "mnist" else source
        yield f"{label}: needs {used + (1 if n_train is None else 0)} digits, the {where} pool has {pool}"
    elif evaluate and (n_train is None or pool - used == 0 or n_clf == 0):
        yield (
            f"{label}: leaves no digits to train the judge CNN (the pool has {pool}); "
            "lower them or set evaluate.enabled=false"
        )


def _mnist_pool_problems(n_train: int | None, n_val: int | None, n_test: int | None, source: str) -> Iterator[str]:
    """More digits than a downloaded MNIST's training or test pool holds (:data:`MNIST_POOLS`)."""
    train_pool, test_pool = MNIST_POOLS["train"], MNIST_POOLS["test"]
    needed = (n_val or 0) + (n_train if n_train is not None else 1)
    if needed > train_pool:
        yield (
            f"data.n_train={n_train!r} + data.n_val={n_val!r}: needs {needed} training digits, "
            f"MNIST's training pool has {train_pool} (data.source={source})"
        )
    if n_test is not None and n_test > test_pool:
        yield f"data.n_test={n_test}: MNIST's test pool has {test_pool} digits (data.source={source})"


def _sample_metric_problems(cfg: Any) -> Iterator[str]:
    """Sample-metric sizes the digits cannot fill: more cells than training digits, bins than test digits, ..."""
    try:
        keys = ("data.n_train", "data.n_test", "evaluate.n_samples", "evaluate.copying_cells")
        n_train, n_test, n_samples, cells = (_lookup(cfg, k) for k in keys)
        min_gen, k, bins = (_lookup(cfg, f"evaluate.{k}") for k in ("copying_min_generated", "prdc_k", "ndb_bins"))
    except (AttributeError, KeyError):
        return
    if not all(v is None or _is_int(v) for v in (n_train, n_test, n_samples, cells, min_gen, k, bins)):
        return  # already reported by the rules
    if _is_int(n_train) and _is_int(cells) and cells > n_train:
        yield f"evaluate.copying_cells={cells}: must be at most data.n_train={n_train} (k-means cells of the digits)"
    if _is_int(n_samples) and _is_int(min_gen) and min_gen > n_samples:
        yield f"evaluate.copying_min_generated={min_gen}: must be at most evaluate.n_samples={n_samples}"
    if _is_int(n_samples) and _is_int(k) and k >= n_samples:
        yield f"evaluate.prdc_k={k}: must be below evaluate.n_samples={n_samples} (k nearest neighbours of a sample)"
    if _is_int(n_test) and n_test > 0:
        if _is_int(k) and k >= n_test:
            yield f"evaluate.prdc_k={k}: must be below data.n_test={n_test} (k nearest neighbours of the test digits)"
        if _is_int(bins) and bins > n_test:
            yield f"evaluate.ndb_bins={bins}: must be at most data.n_test={n_test} (k-means bins of the test digits)"


# Image size of each data set, in pixels.
PIXELS = {"mnist": 28 * 28, "digits": 8 * 8}

#: The first lines of params.yaml (gmmgen.runtime.params_file.params_document writes it in DVC's format).
