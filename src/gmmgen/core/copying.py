"""The data-copying test of Meehan, Chaudhuri and Dasgupta (AISTATS 2020): does a model copy its training points?

"A Non-Parametric Test to Detect Data-Copying in Generative Models" compares
three samples in one feature space: the training points T, held-out points
P_n from the same distribution that the model never saw, and the model's
generated points Q_m. An honest model's points sit as far from their nearest
training point as unseen real points do; a copying model's sit closer.

1. Cells: k-means on T partitions the space (the test is local: a model can
   copy in one region and underfit in another, and a global comparison would
   let the two cancel).
2. In each cell, each held-out and each generated point's distance to its
   nearest training point *of that cell*; the Mann-Whitney U statistic of
   the generated distances against the held-out ones, z-scored under the
   null hypothesis of equal distributions:
   ``Z_U = (U - m n / 2) / sqrt(m n (m + n + 1) / 12)``, with ``U`` the
   number of (generated, held-out) pairs whose generated distance is the
   larger (ties count 1/2), m generated and n held-out points in the cell.
   ``Z_U << 0``: generated points closer to training points than unseen ones
   (copying); ``>> 0``: farther (underfitting); about N(0, 1) otherwise.
3. ``C_T``: the average of the cells' ``Z_U`` weighted by the cell's share of
   held-out points, over the cells holding at least ``min_generated``
   generated points (the paper's Pi_tau, tau = 20 / m: a z-score of a handful
   of points means little). The share of generated and held-out points in
   the dropped cells is reported.

The paper's formula is used as written (no continuity or tie correction; the
authors' code subtracts 0.5 from the mean as a continuity correction, a
shift of 0.5 / sd, under 0.01 for cells of 20 points). Distances are
Euclidean in whatever coordinates the caller passes: arrays in, results out.

Which coordinates the pipeline uses, and why (see ``gmmgen.stages.evaluate``):
the run's whitened PCA coordinates, the space the mixture is fitted in, with
all three sets mapped there by the same PCA from uint8 images. Held-out and
generated points then differ only by what the mixture did: both lie in the
same subspace. In the judge CNN's features (FD's space) the generated digits
are PCA reconstructions (smooth) and the held-out digits are real (sharp), so
their distances to training digits differ by the blur even for a perfect
model of the PCA coordinates, and the test would measure the blur.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import mannwhitneyu
from sklearn.cluster import KMeans
from sklearn.neighbors import NearestNeighbors

from gmmgen.core.choices import COPYING, NOT_COPYING, UNTESTED  # the statuses copying_test returns

__all__ = ["COPYING", "NOT_COPYING", "UNTESTED", "CellPartition", "copying_test", "fit_cells", "z_u"]


def z_u(generated: np.ndarray, heldout: np.ndarray) -> float:
    """Z-scored Mann-Whitney U of generated (m,) against held-out (n,) distances; m, n >= 1.

    ``U`` is :func:`scipy.stats.mannwhitneyu`'s statistic of the first sample
    (pairs with the generated distance larger, ties 1/2), standardised by its
    mean ``m n / 2`` and standard deviation ``sqrt(m n (m + n + 1) / 12)`` under
    the null. Negative when the generated distances are the smaller (copying).
    Raises ValueError on an empty sample.
    """
    m, n = len(generated), len(heldout)
    if m == 0 or n == 0:
        raise ValueError(f"z_u needs points in both samples (got {m} generated, {n} held-out)")
    u = float(mannwhitneyu(generated, heldout, method="asymptotic").statistic)
    return (u - m * n / 2.0) / math.sqrt(m * n * (m + n + 1) / 12.0)


def fit_cells(train: np.ndarray, n_cells: int, seed: int) -> KMeans:
    """k-means with ``n_cells`` cells on the training points (l, d), l >= n_cells; seeded, 10 starts."""
    if len(train) < n_cells:
        raise ValueError(f"copying test: {len(train)} training points cannot make {n_cells} cells")
    return KMeans(n_clusters=n_cells, n_init=10, random_state=seed).fit(train)


@dataclass(frozen=True)
class CellPartition:
    """The cells of the training points: the fitted k-means, each training point's cell (l,) and the points (l, d)."""

    kmeans: KMeans
    train: np.ndarray
    train_cells: np.ndarray

    @classmethod
    def of(cls, train: np.ndarray, n_cells: int, seed: int) -> CellPartition:
        """Cells from :func:`fit_cells` on ``train`` (l, d)."""
        km = fit_cells(train, n_cells, seed)
        return cls(km, train, km.labels_.astype(int))

    @property
    def n_cells(self) -> int:
        return int(self.kmeans.n_clusters)

    def cell_of(self, points: np.ndarray) -> np.ndarray:
        """The cell (nearest centroid) of each point (k, d) -> (k,) ints."""
        return self.kmeans.predict(points).astype(int)


def copying_test(
    cells: CellPartition,
    heldout: np.ndarray,
    generated: np.ndarray,
    min_generated: int = 20,
    threshold: float = -3.0,
    n_driving: int = 3,
) -> dict[str, Any]:
    """``C_T`` of ``generated`` (m, d) against ``heldout`` (n, d) and the training points of ``cells``.

    Cells with fewer than ``min_generated`` generated points, or with no
    held-out point (no null sample to compare with; weight 0 anyway), are
    dropped. Returns a JSON-ready dict:

    - ``c_t``: the statistic (NaN when no cell qualifies), ``status``:
      :data:`COPYING` when ``c_t < threshold``, :data:`NOT_COPYING` when not,
      :data:`UNTESTED` when NaN; ``threshold``;
    - ``n_cells``, ``cells_used``, ``generated_share_dropped`` and
      ``heldout_share_dropped`` (the share of each set in dropped cells);
    - ``driving_cells``: the ``n_driving`` used cells with the most negative
      ``Z_U``, each ``{"cell", "z_u", "n_generated", "n_heldout", "n_train", "weight"}``;
    - ``cells``: that record for every cell (``z_u`` None when dropped).

    Raises ValueError when the sets' dimensions differ from the cells'.
    """
    d = cells.train.shape[1]
    for name, arr in (("held-out", heldout), ("generated", generated)):
        if arr.ndim != 2 or arr.shape[1] != d:
            raise ValueError(f"copying test: {name} points have shape {arr.shape}, the cells are in {d} dimensions")
    h_cells, g_cells = cells.cell_of(heldout), cells.cell_of(generated)
    n, m = len(heldout), len(generated)
    records, z_used, w_used = [], [], []
    for c in range(cells.n_cells):
        t_c = cells.train[cells.train_cells == c]
        h_c, g_c = heldout[h_cells == c], generated[g_cells == c]
        rec: dict[str, Any] = {
            "cell": c,
            "n_train": len(t_c),
            "n_heldout": len(h_c),
            "n_generated": len(g_c),
            "weight": len(h_c) / n if n else 0.0,
            "z_u": None,
        }
        if len(g_c) >= min_generated and len(h_c) > 0 and len(t_c) > 0:
            nn = NearestNeighbors(n_neighbors=1).fit(t_c)
            g_d = nn.kneighbors(g_c)[0][:, 0]
            h_d = nn.kneighbors(h_c)[0][:, 0]
            rec["z_u"] = z_u(g_d, h_d)
            z_used.append(rec["z_u"])
            w_used.append(rec["weight"])
        records.append(rec)
    used = [r for r in records if r["z_u"] is not None]
    c_t = float(np.dot(w_used, z_used) / np.sum(w_used)) if used else math.nan
    status = UNTESTED if math.isnan(c_t) else COPYING if c_t < threshold else NOT_COPYING
    driving = sorted(used, key=lambda r: r["z_u"])[:n_driving]
    return {
        "c_t": c_t,
        "status": status,
        "threshold": float(threshold),
        "n_cells": cells.n_cells,
        "cells_used": len(used),
        "min_generated": int(min_generated),
        "generated_share_dropped": 1.0 - sum(r["n_generated"] for r in used) / m if m else 1.0,
        "heldout_share_dropped": 1.0 - sum(r["n_heldout"] for r in used) / n if n else 1.0,
        "driving_cells": [dict(r) for r in driving],
        "cells": records,
    }
