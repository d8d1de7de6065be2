"""The tutorial's own config root: schema, validation rules and settle (``conf/tutorial.yaml``).

The tutorial stands beside the pipeline: ``conf/tutorial.yaml`` composes this
schema (stored in Hydra's ConfigStore as ``tutorial_schema``), its configure
step writes ``pipelines/tutorial/params.yaml`` and its stages read that file;
the pipeline's config (:mod:`gmmgen.pipeline.config`) knows nothing of it. Its
root, :class:`TutorialConfig`, holds its own ``seed``, the paths, the hashes of
the MNIST test files its segmentation reads, its MLflow settings and the five
sections, each with a dataclass of its own; a section's ``seed`` left null
follows the tutorial's ``seed`` (:func:`settle`). :func:`rule_problems` yields
one ``key=value: must be ...`` line per bad value, like
:func:`gmmgen.pipeline.config.rule_problems`; importing this module adds the
root to :func:`gmmgen.pipeline.config.root_of`, so the entry points' checks
(:mod:`gmmgen.runtime.validation`, :func:`gmmgen.runtime.cli.run`) apply these
rules and this settle to a tutorial config.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from gmmgen.errors import ConfigError
from gmmgen.pipeline import config as pipeline_config
from gmmgen.pipeline.config import PathsConfig
from gmmgen.pipeline.rules import _is_int as _int
from gmmgen.pipeline.rules import _is_num as _num
from gmmgen.pipeline.rules import _positive_int as _pos_int
from gmmgen.pipeline.rules import _positive_num as _pos

SECTIONS = ("em", "clustering", "sampling", "segmentation", "anomaly")
POINT_KINDS = ("normal", "uniform")
IMAGES = ("mri", "flower", "china")


@dataclass
class EMTutorialConfig:
    """Section 1: EM by hand on three 1-D Gaussians."""

    means: list[float] = field(default_factory=lambda: [-5.0, 5.0, 0.0])
    """Means of the Gaussians the points are drawn from (one per component)."""
    variances: list[float] = field(default_factory=lambda: [1.2, 1.8, 1.6])
    """Their variances (as many as ``means``)."""
    n_per_component: int = 100
    """Points drawn from each Gaussian."""
    n_steps: int = 25
    """EM steps (an E step and an M step each)."""
    n_starts: int = 10
    """Random starts tried; the one with the highest final log-likelihood is shown."""
    plot_steps: list[int] = field(default_factory=lambda: [0, 1, 3, 25])
    """Steps drawn over the histogram (each at most ``n_steps``)."""
    seed: int | None = None
    """Seed of the points and starts (null: the global ``seed``)."""


@dataclass
class ClusteringTutorialConfig:
    """Section 2: 2-D clustering with K components; BIC/AIC over K, on the points and on blobs."""

    n_points: int = 1000
    """Two-dimensional points drawn (and the number of blob points)."""
    points: str = "normal"
    """How the points are drawn: ``normal`` (standard normal) or ``uniform`` (in [-2, 2]^2); neither has clusters."""
    n_components: int = 4
    """Components of the mixture that colours each point by its most responsible component."""
    k_grid: list[int] = field(default_factory=lambda: [1, 2, 3, 4, 5, 6, 7, 8])
    """K values scored by BIC and AIC, on the points and on the blobs (each below ``n_points``)."""
    n_init: int = 3
    """EM starts per fit; the best is kept."""
    blobs_centers: int = 4
    """Clusters of scikit-learn's ``make_blobs``: the true K the criteria should find."""
    blobs_std: float = 1.0
    """Standard deviation of each blob."""
    blobs_box: float = 10.0
    """Blob centres lie in [-box, box]^2."""
    seed: int | None = None
    """Seed of the points, blobs and fits (null: the global ``seed``)."""


@dataclass
class SamplingTutorialConfig:
    """Section 3: fit a 1-D mixture, draw from it, test the draws."""

    means: list[float] = field(default_factory=lambda: [-5.0, 5.0, 0.0])
    """Means of the Gaussians the data are drawn from."""
    variances: list[float] = field(default_factory=lambda: [1.2, 1.8, 1.6])
    """Their variances (as many as ``means``)."""
    n_points: int = 1000
    """Data points drawn."""
    n_components: int = 3
    """Components of the mixture fitted to them."""
    n_draws: int = 500
    """Draws from the fitted mixture."""
    alpha: float = 0.01
    """Significance level of the Kolmogorov-Smirnov tests."""
    seed: int | None = None
    """Seed of the data, the fit and the draws (null: the global ``seed``)."""


@dataclass
class SegmentationTutorialConfig:
    """Section 4: segment bundled images by a GMM over pixel values (K by BIC); digits foreground/background."""

    images: list[str] = field(default_factory=lambda: ["mri", "flower"])
    """Images segmented: ``mri`` (the head slice that ships with matplotlib), ``flower`` and ``china`` (scikit-learn's
    sample photographs)."""
    k_grid: list[int] = field(default_factory=lambda: [2, 3, 4, 5, 6, 7, 8])
    """K values scored by BIC for each image."""
    n_fit_pixels: int = 10000
    """Pixels drawn (without replacement) to fit each K; every pixel is then labelled."""
    mnist_test: str = "../shared/data/mnist"
    """Folder of the real MNIST test digits (IDX files; a relative path is taken from ``paths.root``)."""
    n_fit_digits: int = 500
    """The mixture is fitted on pixels of this many bundled training digits; never on test digits."""
    digit_covariance: str = "tied"
    """``tied``: ink and background share one variance (boundary between their means); ``full``: each its own (the
    background's spike at 0 then claims only exact zeros)."""
    n_test_digits: int = 1000
    """Real MNIST test digits scored against the truth."""
    truth_threshold: int = 128
    """Ground truth: a pixel is foreground when its value (0-255) is at least this."""
    seed: int | None = None
    """Seed of the pixel and digit draws and the fits (null: the global ``seed``)."""


@dataclass
class AnomalyTutorialConfig:
    """Section 5: flag points whose mixture density is below a threshold."""

    n_points: int = 1000
    """Two-dimensional inliers drawn."""
    points: str = "normal"
    """How the inliers are drawn: ``normal`` or ``uniform`` (as in the clustering section)."""
    n_outliers: int = 20
    """Outliers injected."""
    outlier_box: float = 8.0
    """Outliers are uniform in [-box, box]^2 ..."""
    outlier_min_radius: float = 4.0
    """... and at least this far from the origin."""
    n_components: int = 4
    """Components of the mixture fitted to all points."""
    threshold_percentile: float = 2.0
    """Threshold: this percentile of the training points' densities."""
    seed: int | None = None
    """Seed of the points and the fit (null: the global ``seed``)."""


@dataclass
class TutorialDataConfig:
    """What the segmentation section checks in the MNIST test files it reads (``segmentation.mnist_test``)."""

    idx_sha256: dict[str, str | None] = field(default_factory=dict)
    """Expected sha256 of the decompressed IDX files, by file name (null or missing: not checked; magic
    numbers, shapes and counts always are). conf/tutorial.yaml sets the t10k files' hashes."""


@dataclass
class TutorialTrackingConfig:
    """MLflow: where the tutorial's runs go (the pipeline's store by default, an experiment of their own)."""

    enabled: bool = True
    """Log the tutorial's sections to MLflow."""
    uri: str | None = None
    """null: SQLite database at <outputs>/mlflow.db with artifacts beside it (the pipeline's store)."""
    experiment: str = "gmmgen-tutorial"
    """The MLflow experiment of the tutorial's runs."""
    run_name: str | None = None
    """The parent run's name (null: tutorial-<date>-<time>)."""
    connect_timeout: float = 10.0
    """Seconds to wait for the tracking store before giving up."""


@dataclass
class TutorialConfig:
    """The tutorial's whole config: its seed, paths, MNIST test hashes, tracking and five sections."""

    seed: int = 0
    """The one seed every section's random choices derive from (a section's seed may pin its own)."""
    paths: PathsConfig = field(default_factory=PathsConfig)
    """Every file-system location (the pipeline's)."""
    data: TutorialDataConfig = field(default_factory=TutorialDataConfig)
    """What the segmentation section checks in the MNIST test files."""
    em: EMTutorialConfig = field(default_factory=EMTutorialConfig)
    """Section 1: EM by hand."""
    clustering: ClusteringTutorialConfig = field(default_factory=ClusteringTutorialConfig)
    """Section 2: clustering."""
    sampling: SamplingTutorialConfig = field(default_factory=SamplingTutorialConfig)
    """Section 3: sampling."""
    segmentation: SegmentationTutorialConfig = field(default_factory=SegmentationTutorialConfig)
    """Section 4: segmentation."""
    anomaly: AnomalyTutorialConfig = field(default_factory=AnomalyTutorialConfig)
    """Section 5: anomaly detection."""
    tracking: TutorialTrackingConfig = field(default_factory=TutorialTrackingConfig)
    """MLflow: where the tutorial's runs go."""


def _seed(v: Any) -> bool:
    return v is None or _seed_required(v)


def _seed_required(v: Any) -> bool:
    return _int(v) and 0 <= v < 2**32


def _distinct_pos_ints(v: Any) -> bool:
    return len(v) > 0 and all(_pos_int(k) for k in v) and len(set(v)) == len(v)


def _gaussians(section: str) -> list[tuple[str, Any, str]]:
    return [
        (f"{section}.means", lambda v: len(v) > 0 and all(_num(m) for m in v), "a non-empty list of numbers"),
        (f"{section}.variances", lambda v: len(v) > 0 and all(_pos(s) for s in v), "a non-empty list of numbers > 0"),
    ]


RULES: list[tuple[str, Any, str]] = [
    ("seed", _seed_required, "an integer in [0, 2**32)"),
    *_gaussians("em"),
    ("em.n_per_component", lambda v: _int(v) and v >= 2, "an integer >= 2"),
    ("em.n_steps", _pos_int, "a positive integer"),
    ("em.n_starts", _pos_int, "a positive integer"),
    ("em.plot_steps", lambda v: 0 < len(v) <= 6 and all(_int(s) and s >= 0 for s in v), "1 to 6 integers >= 0"),
    ("em.seed", _seed, "an integer in [0, 2**32), or null for the tutorial's seed"),
    ("clustering.n_points", lambda v: _int(v) and v >= 10, "an integer >= 10"),
    ("clustering.points", lambda v: v in POINT_KINDS, f"one of {list(POINT_KINDS)}"),
    ("clustering.n_components", _pos_int, "a positive integer"),
    ("clustering.k_grid", _distinct_pos_ints, "a non-empty list of distinct positive integers"),
    ("clustering.n_init", _pos_int, "a positive integer"),
    ("clustering.blobs_centers", _pos_int, "a positive integer"),
    ("clustering.blobs_std", _pos, "a number > 0"),
    ("clustering.blobs_box", _pos, "a number > 0"),
    ("clustering.seed", _seed, "an integer in [0, 2**32), or null for the tutorial's seed"),
    *_gaussians("sampling"),
    ("sampling.n_points", lambda v: _int(v) and v >= 10, "an integer >= 10"),
    ("sampling.n_components", _pos_int, "a positive integer"),
    ("sampling.n_draws", lambda v: _int(v) and v >= 10, "an integer >= 10"),
    ("sampling.alpha", lambda v: _num(v) and 0 < v < 1, "a level in (0, 1)"),
    ("sampling.seed", _seed, "an integer in [0, 2**32), or null for the tutorial's seed"),
    (
        "segmentation.images",
        lambda v: all(i in IMAGES for i in v) and len(set(v)) == len(v),
        f"a list of distinct values from {list(IMAGES)}",
    ),
    ("segmentation.k_grid", _distinct_pos_ints, "a non-empty list of distinct positive integers"),
    ("segmentation.n_fit_pixels", lambda v: _int(v) and v >= 100, "an integer >= 100"),
    (
        "segmentation.mnist_test",
        lambda v: isinstance(v, str) and v.strip() != "",
        "a folder holding the t10k IDX files",
    ),
    ("segmentation.n_fit_digits", _pos_int, "a positive integer"),
    ("segmentation.n_test_digits", _pos_int, "a positive integer"),
    ("segmentation.digit_covariance", lambda v: v in ("tied", "full"), "'tied' or 'full'"),
    ("segmentation.truth_threshold", lambda v: _int(v) and 1 <= v <= 255, "an integer in [1, 255]"),
    ("segmentation.seed", _seed, "an integer in [0, 2**32), or null for the tutorial's seed"),
    ("anomaly.n_points", lambda v: _int(v) and v >= 10, "an integer >= 10"),
    ("anomaly.points", lambda v: v in POINT_KINDS, f"one of {list(POINT_KINDS)}"),
    ("anomaly.n_outliers", _pos_int, "a positive integer"),
    ("anomaly.outlier_box", _pos, "a number > 0"),
    ("anomaly.outlier_min_radius", lambda v: _num(v) and v >= 0, "a number >= 0"),
    ("anomaly.n_components", _pos_int, "a positive integer"),
    ("anomaly.threshold_percentile", lambda v: _num(v) and 0 < v < 100, "a percentile in (0, 100)"),
    ("anomaly.seed", _seed, "an integer in [0, 2**32), or null for the tutorial's seed"),
    ("tracking.experiment", lambda v: isinstance(v, str) and v.strip() != "", "a non-empty name"),
    ("tracking.connect_timeout", _pos, "a positive number of seconds"),
]


def _get(cfg: Any, dotted: str) -> Any:
    """``cfg``'s value at ``dotted``, for a DictConfig, a plain dict or the dataclasses; lists as plain lists."""
    node = cfg
    for part in dotted.split("."):
        node = node[part] if isinstance(node, dict | DictConfig) else getattr(node, part)
    if isinstance(node, ListConfig | DictConfig):
        return OmegaConf.to_container(node, resolve=True)
    return node


def rule_problems(cfg: Any) -> Iterator[str]:
    """Yield ``<key>=<value>: must be <allowed>`` for every bad value of the tutorial's config ``cfg``.

    ``cfg`` is a DictConfig composed from ``conf/tutorial.yaml``, a plain dict or a :class:`TutorialConfig`.
    Not redacted and blind to credentials and the tracking URI: the entry points check the whole config
    through :func:`gmmgen.runtime.validation.iter_problems`, which adds those and masks every message.
    """
    for key, ok, allowed in RULES:
        value = _get(cfg, key)
        try:
            good = bool(ok(value))
        except TypeError:
            good = False
        if not good:
            yield f"{key}={value!r}: must be {allowed}"
    for section in ("em", "sampling"):
        means, variances = _get(cfg, f"{section}.means"), _get(cfg, f"{section}.variances")
        if len(means) != len(variances):
            yield f"{section}.means={means!r}, {section}.variances={variances!r}: same length needed"
    n, k = _get(cfg, "em.n_per_component"), len(_get(cfg, "em.means"))
    if _int(n) and n * k < k + 1:
        yield f"em.n_per_component={n!r}: too few points for {k} components"
    steps, n_steps = _get(cfg, "em.plot_steps"), _get(cfg, "em.n_steps")
    if _int(n_steps) and any(_int(s) and s > n_steps for s in steps):
        yield f"em.plot_steps={steps!r}: every step must be <= em.n_steps={n_steps}"
    for section, kmax in (
        ("clustering", _get(cfg, "clustering.n_points")),
        ("sampling", _get(cfg, "sampling.n_points")),
        ("anomaly", _get(cfg, "anomaly.n_points")),
    ):
        k = _get(cfg, f"{section}.n_components")
        if _int(k) and _int(kmax) and k >= kmax:
            yield f"{section}.n_components={k!r}: must be below {section}.n_points={kmax}"
    grid = _get(cfg, "clustering.k_grid")
    if _int(_get(cfg, "clustering.n_points")) and any(_int(k) and k >= _get(cfg, "clustering.n_points") for k in grid):
        yield f"clustering.k_grid={grid!r}: every K must be below clustering.n_points"


def settle(cfg: DictConfig | TutorialConfig) -> TutorialConfig:
    """The typed config, made once at the entry point: dataclasses, and every section's null seed the global one.

    A settled :class:`TutorialConfig` comes back as it is (a hand-made one is settled like a composed one),
    so the stages may be given either.

    Raises
    ------
    ConfigError
        ``cfg`` was not composed over the tutorial's schema (``tutorial_schema`` missing from its defaults).
    """
    if isinstance(cfg, TutorialConfig):
        if _settled(cfg):
            return cfg
        cfg = OmegaConf.structured(cfg)  # a TutorialConfig built by hand: its interpolations and null seeds too
    typed = OmegaConf.to_object(cfg)
    if not isinstance(typed, TutorialConfig):
        raise ConfigError(
            "the composed config is not over the tutorial's schema: its defaults list must start with tutorial_schema"
        )
    for section in SECTIONS:
        part = getattr(typed, section)
        if part.seed is None:
            part.seed = typed.seed
    return typed


def _settled(cfg: TutorialConfig) -> bool:
    """Whether ``cfg`` is already settled: every section's seed set and no interpolation left in the paths."""
    seeds = all(getattr(cfg, section).seed is not None for section in SECTIONS)
    return seeds and not any("${" in str(v) for v in vars(cfg.paths).values())


#: The tutorial's root: the entry points find its rules and settle by its schema (TutorialConfig).
ROOT = pipeline_config.ConfigRoot("tutorial_schema", TutorialConfig, rule_problems, settle)
pipeline_config.add_root(ROOT)


def register_configs() -> None:
    """Register the schema with Hydra's ConfigStore as ``tutorial_schema`` (``conf/tutorial.yaml`` starts from it)."""
    from hydra.core.config_store import ConfigStore

    ConfigStore.instance().store(name=ROOT.name, node=TutorialConfig)


def compose(overrides: list[str] | None = None, root: str | None = None) -> DictConfig:
    """Compose ``conf/tutorial.yaml`` as the entry points do (for notebooks and tests); not validated.

    ``root`` sets ``paths.root`` (default: the current folder); ``overrides`` use Hydra's command-line syntax.
    """
    from pathlib import Path

    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    register_configs()
    conf = Path(__file__).resolve().parents[2] / "conf"
    extra = [f"paths.root={Path(root).resolve()}"] if root is not None else []
    with initialize_config_dir(config_dir=str(conf), version_base="1.3"):
        return hydra_compose("tutorial", overrides=[*extra, *(overrides or [])])
