"""The evaluate stage's criteria table (``criteria.csv``): one row per criterion's model, side by side.

Its columns are :data:`CRITERIA_FIELDS`: the choice, its pixel-space
likelihoods, its sample quality (each beside its floor where one exists), the
copying test and clustering scores.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path
from typing import Any

CRITERIA_FIELDS = (
    "criterion",
    "covariance_type",
    "n_components",
    "status",
    "val_nll_nats",
    "val_bpp",
    "test_nll_nats",
    "test_bpp",
    "frechet_distance",
    "frechet_floor",
    "inception_score",
    "inception_score_std",
    "label_entropy_share",
    "mean_confidence",
    "precision",
    "recall",
    "density",
    "coverage",
    "ndb",
    "ndb_share",
    "js",
    "copying_c_t",
    "copying_status",
    "nn_distance_ratio",
    "ari",
    "nmi",
    "purity",
)


def write_criteria_csv(rows: Iterable[dict[str, Any]], path: Path) -> None:
    """Write the table's rows (dicts holding at least :data:`CRITERIA_FIELDS`) to ``path``."""
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(CRITERIA_FIELDS))
        w.writeheader()
        w.writerows({k: r[k] for k in CRITERIA_FIELDS} for r in rows)
