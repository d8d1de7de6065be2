"""Structured configuration schema and validation.

The dataclasses below are the schema Hydra composes ``conf/`` into: OmegaConf
checks types on every merge, and :func:`validate` checks ranges and choices
before any stage does work. A bad value stops the program with one line that
names the key, the value given and what is allowed.
"""

from __future__ import annotations

import math
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from gmmgen.core import compute
from gmmgen.core.choices import CORRUPTIONS, COVARIANCE_TYPES, CRITERIA, DATA_NAMES, DATA_SOURCES, INIT_PARAMS
from gmmgen.errors import ConfigError
from gmmgen_tutorial.config import TutorialConfig

# Training pools whose size is known before any download (name or source -> digits, no test pool).
KNOWN_POOLS = {"digits": 1797, "bundled": 5000}


def _register_resolvers() -> None:
    # ``gmmgen.cwd``: the folder the program was started in (DVC and make start
    # stages in the repository root), so paths are absolute wherever it runs.
    if not OmegaConf.has_resolver("gmmgen.cwd"):
        OmegaConf.register_new_resolver("gmmgen.cwd", os.getcwd, use_cache=True)
    # ``gmmgen.uid``: a short random id, resolved once per config object, that
    # keeps sweep folders of jobs started in the same second apart.
    if not OmegaConf.has_resolver("gmmgen.uid"):
        OmegaConf.register_new_resolver("gmmgen.uid", lambda: uuid.uuid4().hex[:6], use_cache=True)
    # ``gmmgen.run_dir``: a multirun job's own folder (Hydra's ``runtime.output_dir``), else the default given.
    if not OmegaConf.has_resolver("gmmgen.run_dir"):
        OmegaConf.register_new_resolver("gmmgen.run_dir", _run_dir)


def _run_dir(default: str) -> str:
    """Where the stage folders go: in a Hydra multirun job, the job's own folder; anywhere else ``default``."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN:
        job_dir = OmegaConf.select(HydraConfig.get(), "runtime.output_dir", default=None)
        if job_dir:  # unset while the multirun starts, before any job (its callbacks validate the config)
            return str(job_dir)
    return default


_register_resolvers()


@dataclass
class PathsConfig:
    """Every file-system location; all derived from ``root``."""

    root: str = "${gmmgen.cwd:}"
    outputs: str = "${.root}/outputs"
    # Where the stage folders (data/, reduce/, select/, ...) are written. A
    # multirun job writes them into its own job folder, Hydra's runtime.output_dir.
    run_dir: str = "${gmmgen.run_dir:${.outputs}}"
    cache: str = "${.outputs}/cache"
    # The headline metrics git tracks (results/metrics.json).
    results: str = "${.root}/results"


@dataclass
class DataConfig:
    """Which digits to load, from where, and how many."""

    name: str = "mnist"
    source: str = "auto"
    # Tried in order. An origin ending in ``.npz`` is Keras's mnist.npz; any
    # other origin is a folder or URL holding the four IDX gzip files.
    origins: list[str] = field(default_factory=list)
    npz_sha256: str | None = None
    # Expected sha256 of the *decompressed* IDX files, by file name (null or
    # missing: not checked; magic numbers, shapes and counts always are).
    idx_sha256: dict[str, str | None] = field(default_factory=dict)
    timeout: float = 30.0
    # From the training pool: validation first (every choice of model), then
    # training (null: all that is left), then the judge's digits from the rest.
    n_train: int | None = 2000
    n_val: int = 500
    # Test digits, only ever used to report: from the source's test pool when it
    # has one (null: all of it), else carved from the pool; 0 (or null without a
    # test pool): none.
    n_test: int | None = 1000
    # At most this many of the remaining training-pool digits train the judge CNN
    # (null: all of them): never a training, validation or test digit.
    n_classifier: int | None = 5000
    seed: int | None = None  # null: the global seed


@dataclass
class PCAConfig:
    """PCA before the mixture: keep a variance fraction or a fixed count."""

    variance: float | None = 0.85
    n_components: int | None = None
    whiten: bool = True
    svd_solver: str = "full"


@dataclass
class ModelConfig:
    """Options passed to every ``sklearn.mixture.GaussianMixture`` fit."""

    n_init: int = 1
    reg_covar: float = 1e-6
    max_iter: int = 100
    tol: float = 1e-3
    init_params: str = "kmeans"
    random_state: int | None = None  # null: the global seed


@dataclass
class SweepConfig:
    """The grid of mixtures fitted and how one is chosen."""

    n_components: list[int] = field(default_factory=lambda: [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 80, 110, 140])
    covariance_types: list[str] = field(default_factory=lambda: ["full"])
    criterion: str = "bic"
    # Degenerate fits (components with fewer effective points than they need) are
    # flagged and, unless this is true, passed over when a sound fit exists.
    allow_degenerate: bool = False
    # A component with fewer effective points than this per free covariance parameter
    # is flagged "thin" (estimable, but under-determined); thin fits can be chosen.
    thin_points_per_parameter: float = 1.0
    n_jobs: int = -1  # fits side by side (-1: every core), each with one BLAS thread
    # threads: no start-up cost, shared memory; processes: joblib's loky workers.
    backend: str = "threads"
    progress: bool = True


@dataclass
class SampleConfig:
    """How many digits to draw from the chosen mixture, and the grid shape."""

    n: int = 100
    seed: int | None = None  # null: the global seed
    grid_cols: int = 10
    n_real: int = 100


@dataclass
class ClassifierConfig:
    """The small CNN that judges generated digits (trained on data.n_classifier digits)."""

    epochs: int = 8
    batch_size: int = 64
    seed: int | None = None  # null: the global seed


@dataclass
class EvaluateConfig:
    """Sample quality, memorisation, clustering, anomaly detection, class-conditional generation."""

    # false: `pipelines/run_all.py` (multiruns) skips the classifier and evaluate stages.
    enabled: bool = True
    n_samples: int = 1000  # digits drawn from each criterion's model
    seed: int | None = None  # null: the global seed
    # A generated digit nearer its nearest training digit than this quantile of real
    # test digits' nearest-training distances counts as a near-copy.
    copy_quantile: float = 0.01
    # Digits less likely than this percentile of training digits are flagged.
    anomaly_percentile: float = 1.0
    corruptions: list[str] = field(default_factory=lambda: ["noise", "inversion", "rotation", "blank"])
    noise_std: float = 0.5
    # Component counts tried for each class's own mixture (chosen by sweep.criterion).
    class_grid: list[int] = field(default_factory=lambda: [1, 2, 3, 4, 6])
    class_samples: int = 10  # digits drawn from each class's mixture (a row of the figure)
    n_least_likely: int = 20  # least likely test digits shown


@dataclass
class TrackingConfig:
    """MLflow: where runs go and what they are called."""

    enabled: bool = True
    # null: SQLite database at <outputs>/mlflow.db with artifacts beside it.
    uri: str | None = None
    experiment: str = "gmmgen"
    run_name: str | None = None
    # The track stage (make run) registers its model; with a clean git tree at
    # the start it also moves ``alias`` to it (make serve serves the alias).
    register_model: bool = True
    registered_model: str = "gmmgen-digit-generator"
    alias: str = "champion"
    # run_all.py jobs (sweeps) log their model to their run; register it too? (never moves the alias)
    register_sweeps: bool = False
    # A nested MLflow run per sweep fit (the parent run has the sweep as stepped metrics anyway).
    child_runs: bool = False
    # The served model refuses requests asking for more digits than this in total.
    max_digits_per_request: int = 10000
    connect_timeout: float = 10.0


@dataclass
class ComputeConfig:
    """Where reduce, the sweep, sampling and likelihood scoring compute (files always get numpy)."""

    # numpy (CPU, fits side by side) | torch | cupy | array_api_strict: scikit-learn's Array API path.
    namespace: str = "numpy"
    device: str = "cpu"  # cpu | cuda
    dtype: str = "float64"  # float64 | float32


@dataclass
class Config:
    """The whole experiment."""

    seed: int = 0
    paths: PathsConfig = field(default_factory=PathsConfig)
    data: DataConfig = field(default_factory=DataConfig)
    pca: PCAConfig = field(default_factory=PCAConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    sweep: SweepConfig = field(default_factory=SweepConfig)
    sample: SampleConfig = field(default_factory=SampleConfig)
    classifier: ClassifierConfig = field(default_factory=ClassifierConfig)
    evaluate: EvaluateConfig = field(default_factory=EvaluateConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    # The tutorial's other sections (EM by hand, clustering, ...): `make tutorial`.
    tutorial: TutorialConfig = field(default_factory=TutorialConfig)
    compute: ComputeConfig = field(default_factory=ComputeConfig)


def register_configs() -> None:
    """Register the schema with Hydra's ConfigStore as ``config_schema``."""
    from hydra.core.config_store import ConfigStore

    ConfigStore.instance().store(name="config_schema", node=Config)


# --------------------------------------------------------------------------- validation

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
    ("data.n_val", _positive_int, "a positive integer (validation digits: every choice of model uses them)"),
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


def rule_problems(cfg: DictConfig | Config) -> Iterator[str]:
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


def known_pool(cfg: DictConfig | Config) -> int | None:
    """Size of the training pool when known before any download (8x8 digits, bundled MNIST), else None."""
    name, source = _lookup(cfg, "data.name"), _lookup(cfg, "data.source")
    return KNOWN_POOLS.get(name) if name != "mnist" else KNOWN_POOLS.get(source)


def check_full_pipeline(cfg: DictConfig | Config) -> None:
    """What ``make run`` (``dvc repro``, every stage) needs beyond :func:`validate`: test digits to report on."""
    n_test = _lookup(cfg, "data.n_test")
    if n_test == 0 or (n_test is None and known_pool(cfg) is not None):
        raise ConfigError(
            f"data.n_test={n_test!r}: `make run` always runs the evaluate stage, which reports on test digits; "
            "give data.n_test > 0, or run pipelines/run_all.py with evaluate.enabled=false"
        )


def _split_problems(cfg: DictConfig | Config) -> Iterator[str]:
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
    if evaluate and n_test_taken == 0:
        yield (
            f"data.n_test={n_test!r}, evaluate.enabled=true: the evaluation reports on test digits and this "
            "source has none; give data.n_test > 0 or set evaluate.enabled=false (pipelines/run_all.py)"
        )
    if pool is None:
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


# Image size of each data set, in pixels.
PIXELS = {"mnist": 28 * 28, "digits": 8 * 8}

PARAMS_HEADER = """\
# Generated by `make params` (pipelines/configure.py) from conf/ and any overrides:
# edit conf/ or pass overrides (make run ARGS="pca.variance=0.9"), or use
# `dvc exp run -S key=value`. DVC reads the stages' params from this file, and
# the stages compose it with Hydra (defaults below: schema and Hydra settings).
"""


def params_document(cfg: DictConfig) -> str:
    """The composed config as DVC's ``params.yaml``: experiment values, not paths.

    ``paths`` is left out (machine-specific; the schema's defaults rebuild it).
    Per-part seeds left null follow the global ``seed`` at run time (see
    :func:`settle`), so ``dvc exp run -S seed=1`` reaches all of them.
    """
    container = OmegaConf.to_container(cfg, resolve=False)
    assert isinstance(container, dict)
    container.pop("paths", None)
    container.pop("hydra", None)
    doc = OmegaConf.create({"defaults": ["config_schema", "runtime", "_self_"], **container})
    return PARAMS_HEADER + OmegaConf.to_yaml(doc)


def seed_for(cfg: Any, key: str) -> int:
    """The seed of one part of the pipeline (``data.seed``, ``model.random_state``, ...), or the global ``seed``.

    Parts default to null, meaning "follow ``seed``", so one value drives every
    random choice and a part can still be pinned on its own (the classic
    experiment pins ``model.random_state: 2``).
    """
    value = OmegaConf.select(cfg, key) if isinstance(cfg, DictConfig) else _lookup(cfg, key)
    return int(cfg.seed if value is None else value)


def model_params(cfg: Any) -> dict[str, Any]:
    """Keyword arguments for every ``GaussianMixture`` fit, from ``cfg.model`` (the seed resolved)."""
    m = cfg.model
    return {
        "n_init": int(m.n_init),
        "reg_covar": float(m.reg_covar),
        "max_iter": int(m.max_iter),
        "tol": float(m.tol),
        "init_params": str(m.init_params),
        "random_state": seed_for(cfg, "model.random_state"),
    }


#: The per-part seeds: (section, key); null means "follow the global seed".
PART_SEEDS = (
    ("data", "seed"),
    ("model", "random_state"),
    ("sample", "seed"),
    ("classifier", "seed"),
    ("evaluate", "seed"),
)


def settle(cfg: DictConfig | Config) -> Config:
    """The typed configuration, made once at the entry point (:func:`gmmgen.runtime.cli.run`).

    ``OmegaConf.to_object`` turns the composed config into the dataclasses
    above: interpolations resolved, lists and dicts plain, values of the
    schema's types. Each per-part seed left null (:data:`PART_SEEDS`) becomes
    the global ``seed`` here, once, so code reads ``cfg.data.seed`` and never
    looks a seed up by name. A settled :class:`Config` comes back as it is (a
    hand-made one is settled like a composed one), so stage functions called
    directly (tests, notebooks) may be given either.

    Raises
    ------
    ConfigError
        ``cfg`` was not composed over the schema (``config_schema`` missing
        from its defaults list).
    """
    if isinstance(cfg, Config):
        if _settled(cfg):
            return cfg
        cfg = OmegaConf.structured(cfg)  # a Config built by hand: its interpolations and null seeds too
    typed = OmegaConf.to_object(cfg)
    if not isinstance(typed, Config):
        raise ConfigError(
            "the composed config is not over the gmmgen schema: its defaults list must start with config_schema"
        )
    for section, key in PART_SEEDS:
        part = getattr(typed, section)
        if getattr(part, key) is None:
            setattr(part, key, typed.seed)
    return typed


def _settled(cfg: Config) -> bool:
    """Whether ``cfg`` is already settled: every per-part seed set and no interpolation left in the paths."""
    seeds = all(getattr(getattr(cfg, section), key) is not None for section, key in PART_SEEDS)
    return seeds and not any("${" in str(v) for v in vars(cfg.paths).values())


def as_dict(cfg: DictConfig | Config) -> dict[str, Any]:
    """``cfg`` as plain nested dicts and lists, interpolations resolved (for logging and files)."""
    if isinstance(cfg, DictConfig):
        tree = OmegaConf.to_container(cfg, resolve=True)
    else:
        tree = OmegaConf.to_container(OmegaConf.structured(cfg), resolve=True)
    assert isinstance(tree, dict)
    return tree


def compose(overrides: list[str] | None = None, root: str | os.PathLike[str] | None = None) -> DictConfig:
    """Compose ``conf/`` as the entry points do (for notebooks, benchmarks and tests).

    ``root`` sets ``paths.root`` (default: the current folder); ``overrides``
    use Hydra's command-line syntax. The result is not validated: call
    :func:`validate`.
    """
    from pathlib import Path

    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    register_configs()
    conf = Path(__file__).resolve().parents[3] / "conf"
    extra = [f"paths.root={Path(root).resolve()}"] if root is not None else []
    with initialize_config_dir(config_dir=str(conf), version_base="1.3"):
        return hydra_compose("config", overrides=[*extra, *(overrides or [])])
