"""Fidelity and coverage of generated samples against real ones: precision, recall, density, coverage, NDB/JS.

Arrays in, results out; features are rows (n, f) in any space (the pipeline
passes the judge CNN's features, as for the Fréchet distance).

- **Improved precision and recall** (Kynkäänniemi et al., NeurIPS 2019): the
  real manifold is the union of balls around each real point reaching its
  k-th nearest real neighbour; precision is the share of generated points
  inside it (fidelity), recall the share of real points inside the
  generated manifold built the same way (coverage of the variety).
  **Density and coverage** (Naeem et al., ICML 2020): density counts how
  many real balls hold each generated point, divided by k (about 1 for a
  sample like the real one, more when samples crowd dense real regions);
  coverage is the share of real balls holding at least one generated point
  (robust to outliers in the generated set). All four come from the
  maintained ``prdc`` package (``compute_prdc``), with k = 5 as both papers.
- **NDB/JS** (Richardson and Weiss, NeurIPS 2018): k-means bins on the
  reference points; each generated point goes to its nearest centre; per
  bin a two-proportion z-test of the reference share against the generated
  share; NDB is the number of statistically different bins (reported also
  as NDB / K), JS the Jensen-Shannon divergence of the two bin histograms
  (base 2: 0 for equal histograms, 1 for disjoint ones). The z-test is the
  textbook pooled one, written here with numpy and scipy's normal quantile
  (no statsmodels needed).

None of these sees copying: a model that replays its training digits scores
like real digits on every one (the copying test, :mod:`gmmgen.core.copying`, is for that).
"""

from __future__ import annotations

import contextlib
import io
import math
from typing import Any

import numpy as np
from scipy.spatial.distance import jensenshannon
from scipy.stats import norm
from sklearn.cluster import KMeans

NEAREST_K = 5
"""k of the k-nearest-neighbour balls: the value both papers use."""


def prdc(real: np.ndarray, generated: np.ndarray, nearest_k: int = NEAREST_K) -> dict[str, float]:
    """Precision, recall, density and coverage of ``generated`` (m, f) against ``real`` (n, f).

    ``prdc.compute_prdc`` does the work (its progress line on stdout is
    swallowed). Both sets need more than ``nearest_k`` points. Returns
    ``{"precision", "recall", "density", "coverage", "nearest_k"}``; precision,
    recall and coverage in [0, 1], density >= 0. Raises ValueError when a set
    is too small or the feature counts differ.
    """
    from prdc import compute_prdc

    if real.ndim != 2 or generated.ndim != 2 or real.shape[1] != generated.shape[1]:
        raise ValueError(f"prdc: feature sets of shapes {real.shape} and {generated.shape} do not match")
    if min(len(real), len(generated)) <= nearest_k:
        raise ValueError(
            f"prdc: {len(real)} real and {len(generated)} generated points; both need more than k={nearest_k}"
        )
    with contextlib.redirect_stdout(io.StringIO()):  # compute_prdc prints "Num real: ... Num fake: ..."
        out = compute_prdc(real_features=real, fake_features=generated, nearest_k=nearest_k)
    return {**{k: float(v) for k, v in out.items()}, "nearest_k": int(nearest_k)}


def fit_bins(reference: np.ndarray, n_bins: int, seed: int) -> KMeans:
    """k-means with ``n_bins`` bins on the reference points (n, f), n >= n_bins; seeded, 10 starts."""
    if len(reference) < n_bins:
        raise ValueError(f"NDB: {len(reference)} reference points cannot make {n_bins} bins")
    return KMeans(n_clusters=n_bins, n_init=10, random_state=seed).fit(reference)


def two_proportion_z(k1: np.ndarray, n1: int, k2: np.ndarray, n2: int) -> np.ndarray:
    """Pooled two-proportion z statistic per bin: counts ``k1`` of ``n1`` against ``k2`` of ``n2`` -> (K,).

    ``z = (p1 - p2) / sqrt(p (1 - p) (1/n1 + 1/n2))`` with ``p = (k1 + k2) / (n1 + n2)``;
    0 where both shares are 0 or both 1 (no evidence of a difference).
    """
    k1, k2 = np.asarray(k1, float), np.asarray(k2, float)
    p1, p2, pooled = k1 / n1, k2 / n2, (k1 + k2) / (n1 + n2)
    se = np.sqrt(pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(se > 0, (p1 - p2) / np.where(se > 0, se, 1.0), 0.0)


def ndb(bins: KMeans, reference: np.ndarray, generated: np.ndarray, alpha: float = 0.05) -> dict[str, Any]:
    """NDB and JS of ``generated`` (m, f) against ``reference`` (n, f) over the k-means ``bins``.

    A bin is statistically different when the two-sided p-value of its
    two-proportion z-test is below ``alpha`` (``|z| > Phi^-1(1 - alpha / 2)``,
    1.96 for 0.05), no correction for the K tests: about ``alpha * K`` bins
    differ between two samples of one distribution, which is what the
    real-vs-real floor shows. Returns ``{"ndb", "n_bins", "ndb_share", "js",
    "alpha", "bins_different"}``. Raises ValueError on an empty set.
    """
    if len(reference) == 0 or len(generated) == 0:
        raise ValueError(f"NDB: {len(reference)} reference and {len(generated)} generated points; need both")
    k = int(bins.n_clusters)
    ref_counts = np.bincount(bins.predict(reference), minlength=k)
    gen_counts = np.bincount(bins.predict(generated), minlength=k)
    z = two_proportion_z(ref_counts, len(reference), gen_counts, len(generated))
    different = np.abs(z) > norm.ppf(1.0 - alpha / 2.0)
    js = float(jensenshannon(ref_counts / ref_counts.sum(), gen_counts / gen_counts.sum(), base=2) ** 2)
    return {
        "ndb": int(different.sum()),
        "n_bins": k,
        "ndb_share": float(different.sum() / k),
        "js": 0.0 if math.isnan(js) else js,
        "alpha": float(alpha),
        "bins_different": [int(i) for i in np.flatnonzero(different)],
    }
