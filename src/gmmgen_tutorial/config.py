"""Schema and validation rules of the ``tutorial`` config group (``conf/tutorial/<section>/``).

Each section has its own dataclass; a ``seed`` left null follows the global
``seed``. :func:`iter_problems` yields one ``key=value: must be ...`` line per
bad value, like :func:`gmmgen.pipeline.config.rule_problems`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

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
class TutorialConfig:
    """The tutorial's sections; logged to MLflow in their own experiment."""

    experiment: str = "gmmgen-tutorial"
    """The MLflow experiment of the tutorial's runs."""
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


def _int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _pos_int(v: Any) -> bool:
    return _int(v) and v > 0


def _pos(v: Any) -> bool:
    return _num(v) and v > 0


def _seed(v: Any) -> bool:
    return v is None or (_int(v) and 0 <= v < 2**32)


def _distinct_pos_ints(v: Any) -> bool:
    return len(v) > 0 and all(_pos_int(k) for k in v) and len(set(v)) == len(v)


def _gaussians(section: str) -> list[tuple[str, Any, str]]:
    return [
        (f"{section}.means", lambda v: len(v) > 0 and all(_num(m) for m in v), "a non-empty list of numbers"),
        (f"{section}.variances", lambda v: len(v) > 0 and all(_pos(s) for s in v), "a non-empty list of numbers > 0"),
    ]


RULES: list[tuple[str, Any, str]] = [
    ("experiment", lambda v: isinstance(v, str) and v.strip() != "", "a non-empty name"),
    *_gaussians("em"),
    ("em.n_per_component", lambda v: _int(v) and v >= 2, "an integer >= 2"),
    ("em.n_steps", _pos_int, "a positive integer"),
    ("em.n_starts", _pos_int, "a positive integer"),
    ("em.plot_steps", lambda v: 0 < len(v) <= 6 and all(_int(s) and s >= 0 for s in v), "1 to 6 integers >= 0"),
    ("em.seed", _seed, "an integer in [0, 2**32), or null for the global seed"),
    ("clustering.n_points", lambda v: _int(v) and v >= 10, "an integer >= 10"),
    ("clustering.points", lambda v: v in POINT_KINDS, f"one of {list(POINT_KINDS)}"),
    ("clustering.n_components", _pos_int, "a positive integer"),
    ("clustering.k_grid", _distinct_pos_ints, "a non-empty list of distinct positive integers"),
    ("clustering.n_init", _pos_int, "a positive integer"),
    ("clustering.blobs_centers", _pos_int, "a positive integer"),
    ("clustering.blobs_std", _pos, "a number > 0"),
    ("clustering.blobs_box", _pos, "a number > 0"),
    ("clustering.seed", _seed, "an integer in [0, 2**32), or null for the global seed"),
    *_gaussians("sampling"),
    ("sampling.n_points", lambda v: _int(v) and v >= 10, "an integer >= 10"),
    ("sampling.n_components", _pos_int, "a positive integer"),
    ("sampling.n_draws", lambda v: _int(v) and v >= 10, "an integer >= 10"),
    ("sampling.alpha", lambda v: _num(v) and 0 < v < 1, "a level in (0, 1)"),
    ("sampling.seed", _seed, "an integer in [0, 2**32), or null for the global seed"),
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
    ("segmentation.seed", _seed, "an integer in [0, 2**32), or null for the global seed"),
    ("anomaly.n_points", lambda v: _int(v) and v >= 10, "an integer >= 10"),
    ("anomaly.points", lambda v: v in POINT_KINDS, f"one of {list(POINT_KINDS)}"),
    ("anomaly.n_outliers", _pos_int, "a positive integer"),
    ("anomaly.outlier_box", _pos, "a number > 0"),
    ("anomaly.outlier_min_radius", lambda v: _num(v) and v >= 0, "a number >= 0"),
    ("anomaly.n_components", _pos_int, "a positive integer"),
    ("anomaly.threshold_percentile", lambda v: _num(v) and 0 < v < 100, "a percentile in (0, 100)"),
    ("anomaly.seed", _seed, "an integer in [0, 2**32), or null for the global seed"),
]


def _get(cfg: Any, dotted: str) -> Any:
    """``cfg``'s value at ``dotted``, for a DictConfig, a plain dict or the dataclasses; lists as plain lists."""
    node = cfg
    for part in dotted.split("."):
        node = node[part] if isinstance(node, dict | DictConfig) else getattr(node, part)
    if isinstance(node, ListConfig | DictConfig):
        return OmegaConf.to_container(node, resolve=True)
    return node


def iter_problems(cfg: Any) -> Iterator[str]:
    """Yield ``tutorial.<key>=<value>: must be <allowed>`` for every bad value of the ``tutorial`` node ``cfg``.

    ``cfg`` is that node as a DictConfig, a plain dict or a :class:`TutorialConfig`.
    """
    for key, ok, allowed in RULES:
        value = _get(cfg, key)
        try:
            good = bool(ok(value))
        except TypeError:
            good = False
        if not good:
            yield f"tutorial.{key}={value!r}: must be {allowed}"
    for section in ("em", "sampling"):
        means, variances = _get(cfg, f"{section}.means"), _get(cfg, f"{section}.variances")
        if len(means) != len(variances):
            yield f"tutorial.{section}.means={means!r}, tutorial.{section}.variances={variances!r}: same length needed"
    n, k = _get(cfg, "em.n_per_component"), len(_get(cfg, "em.means"))
    if _int(n) and n * k < k + 1:
        yield f"tutorial.em.n_per_component={n!r}: too few points for {k} components"
    steps, n_steps = _get(cfg, "em.plot_steps"), _get(cfg, "em.n_steps")
    if _int(n_steps) and any(_int(s) and s > n_steps for s in steps):
        yield f"tutorial.em.plot_steps={steps!r}: every step must be <= tutorial.em.n_steps={n_steps}"
    for section, kmax in (
        ("clustering", _get(cfg, "clustering.n_points")),
        ("sampling", _get(cfg, "sampling.n_points")),
        ("anomaly", _get(cfg, "anomaly.n_points")),
    ):
        k = _get(cfg, f"{section}.n_components")
        if _int(k) and _int(kmax) and k >= kmax:
            yield f"tutorial.{section}.n_components={k!r}: must be below tutorial.{section}.n_points={kmax}"
    grid = _get(cfg, "clustering.k_grid")
    if _int(_get(cfg, "clustering.n_points")) and any(_int(k) and k >= _get(cfg, "clustering.n_points") for k in grid):
        yield f"tutorial.clustering.k_grid={grid!r}: every K must be below tutorial.clustering.n_points"
