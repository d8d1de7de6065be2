"""How good one set of digits is against real ones: judge-feature scores, memorisation and the copying test.

A :class:`RealReference` holds what every set is scored against (the test
digits' judge features and the NDB bins on them, the training digits' cells
and the validation digits in whitened PCA coordinates). :func:`sample_verdicts`
gives precision, recall, density, coverage, NDB/JS and the data-copying test
(C_T) of one set; :func:`sample_quality` adds the Fréchet distance, the
Inception Score, label coverage and near-copies. Arrays and plain values in,
plain values out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from gmmgen.core import classifier, reduce
from gmmgen.core import copying as cp
from gmmgen.core import coverage as cv
from gmmgen.core import metrics as ev
from gmmgen.errors import DataError

N_SPLITS = 10  # Inception Score splits, the usual protocol


@dataclass
class RealReference:
    """What every set of digits is scored against: the test digits' judge features and the k-means bins on
    them (NDB), the validation digits in PCA coordinates (held-out) and the training digits' cells (copying)."""

    features: np.ndarray  # (n_test, 128) judge features of the test digits
    bins: Any  # k-means bins on ``features``
    cells: cp.CellPartition  # k-means cells on the training digits in whitened PCA coordinates
    z_val: np.ndarray  # (n_val, d) validation digits in whitened PCA coordinates

    @classmethod
    def of(
        cls, features: np.ndarray, z_train: np.ndarray, z_val: np.ndarray, ndb_bins: int, copying_cells: int, seed: int
    ) -> RealReference:
        """The reference: ``ndb_bins`` k-means bins on ``features``, ``copying_cells`` cells on ``z_train``
        (both seeded with ``seed``); DataError when there are too few digits for them."""
        try:
            bins = cv.fit_bins(features, ndb_bins, seed)
            cells = cp.CellPartition.of(z_train, copying_cells, seed)
        except ValueError as exc:
            raise DataError(f"evaluate: {exc}") from None
        return cls(features=features, bins=bins, cells=cells, z_val=z_val)


@dataclass(frozen=True)
class VerdictSettings:
    """The tests' settings: PRDC's k, NDB's significance level, the copying test's minimum and threshold."""

    prdc_k: int
    ndb_alpha: float
    copying_min_generated: int
    copying_threshold: float


def sample_verdicts(feats: np.ndarray, z: np.ndarray, real: RealReference, settings: VerdictSettings) -> dict[str, Any]:
    """Precision, recall, density, coverage, NDB/JS (judge features ``feats`` (n, 128)) and the copying test
    (whitened PCA coordinates ``z`` (n, d)) of one set of digits; DataError when the sets are too small."""
    s = settings
    try:
        pr = cv.prdc(real.features, feats, s.prdc_k)
        nd = cv.ndb(real.bins, real.features, feats, s.ndb_alpha)
        copy = cp.copying_test(real.cells, real.z_val, z, s.copying_min_generated, s.copying_threshold)
    except ValueError as exc:
        raise DataError(f"evaluate: {exc}") from None
    return {
        **{k: pr[k] for k in ("precision", "recall", "density", "coverage")},
        "ndb": nd["ndb"],
        "ndb_share": nd["ndb_share"],
        "js": nd["js"],
        "copying_c_t": copy["c_t"],
        "copying_status": copy["status"],
        "ndb_detail": nd,
        "copying": copy,
    }


def sample_quality(
    images: np.ndarray,
    judge: Any,
    real: RealReference,
    pca: Any,
    x_test: np.ndarray,
    x_train: np.ndarray,
    copy_quantile: float,
    settings: VerdictSettings,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Every sample-quality number of generated ``images`` (n, h, w), and the memorisation record behind them."""
    probs, feats = classifier.predict(judge, images)
    mem = ev.memorisation(images, x_test, x_train, copy_quantile)
    score = ev.inception_score_splits(probs, min(N_SPLITS, len(probs)))
    quality = {
        "frechet_distance": ev.frechet_distance(feats, real.features),
        "inception_score": score["mean"],
        "inception_score_std": score["std"],
        **ev.label_coverage(probs),
        **{k: v for k, v in mem.items() if not k.startswith("_")},
        **sample_verdicts(feats, pca.transform(reduce.to_features(images)), real, settings),
    }
    return quality, mem


def reference_floors(
    judge: Any,
    pca: Any,
    real: RealReference,
    real_probs: np.ndarray,
    floor_set: np.ndarray,
    unseen: np.ndarray,
    settings: VerdictSettings,
) -> dict[str, Any]:
    """What real digits score against the reference: the floors every generated set is read against.

    ``floor_set``: real digits the judge never saw, as many as a generated set;
    ``unseen``: real digits neither the mixture nor any choice saw, in place of
    generated ones in the copying test (C_T about 0); ``real_probs``: the
    judge's probabilities on the reference digits (Inception Score, label
    coverage of real digits).
    """
    real_is = ev.inception_score_splits(real_probs, min(N_SPLITS, len(real_probs)))
    floor_feats = classifier.predict(judge, floor_set)[1]
    floor = sample_verdicts(floor_feats, pca.transform(reduce.to_features(floor_set)), real, settings)
    unseen_copy = cp.copying_test(
        real.cells,
        real.z_val,
        pca.transform(reduce.to_features(unseen)),
        settings.copying_min_generated,
        settings.copying_threshold,
    )
    return {
        "frechet_floor": ev.frechet_distance(floor_feats, real.features),
        **{f"{k}_floor": floor[k] for k in ("precision", "recall", "density", "coverage", "ndb", "ndb_share", "js")},
        "copying_c_t_floor": unseen_copy["c_t"],
        "inception_score_real": real_is["mean"],
        "inception_score_real_std": real_is["std"],
        "inception_score_splits": real_is["n_splits"],
        **{f"real_{k}": v for k, v in ev.label_coverage(real_probs).items() if k != "class_counts"},
    }
