"""The sweep's table on disk: one CSV row per fit, floats written exactly, read back typed.

The columns are :data:`gmmgen.core.mixture.FIELDS` less ``fit_seconds``: the table
DVC hashes holds only what the data, params and code determine; the fits'
wall-clock times go to the select stage's ``runtime.json``. After them, :data:`SPLIT_FIELDS`: the validation
NLL (``val_nll_nats``) split into the mixture term, the whitening Jacobian and the residual term
(:func:`gmmgen.core.likelihood.nll_split`), nats per image, filled in by the select stage.
"""

from __future__ import annotations

import csv
import dataclasses
import math
from pathlib import Path
from typing import Any

from gmmgen.core import mixture

# Column types from the row's dataclass (annotations are strings under postponed evaluation).
_TYPES = {f.name: str(f.type) for f in dataclasses.fields(mixture.SweepRow)}
#: The validation NLL's three terms (nats per image): they sum to ``val_nll_nats``.
SPLIT_FIELDS = ("val_nll_mixture", "val_nll_jacobian", "val_nll_residual")
_TYPES.update(dict.fromkeys(SPLIT_FIELDS, "float"))
CSV_FIELDS = tuple(f for f in mixture.FIELDS if f != "fit_seconds") + SPLIT_FIELDS
_FLOATS = tuple(name for name in CSV_FIELDS if _TYPES[name] == "float")
_INTS = tuple(name for name in CSV_FIELDS if _TYPES[name] == "int")


def _fmt(v: Any) -> Any:
    if isinstance(v, float):
        return "nan" if math.isnan(v) else repr(v)
    return v


def write_sweep_csv(rows: list[dict[str, Any]], path: Path) -> None:
    """Write the sweep table to ``path``: one row per fit, :data:`CSV_FIELDS`, floats exactly (repr).

    ``rows`` are :class:`gmmgen.core.mixture.SweepRow` dicts (a missing split field is NaN); ``fit_seconds`` is
    not written (no timings in files DVC hashes). Raises OSError when ``path`` cannot be written.
    """
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(CSV_FIELDS))
        w.writeheader()
        for row in rows:
            w.writerow({k: _fmt(row.get(k, math.nan) if k in SPLIT_FIELDS else row[k]) for k in CSV_FIELDS})


def read_sweep_csv(path: Path) -> list[dict[str, Any]]:
    """Read a table written by :func:`write_sweep_csv` back into typed rows (``fit_seconds`` is not in it).

    Column types come from :class:`gmmgen.core.mixture.SweepRow`; empty or ``nan`` floats read as NaN.
    Raises OSError when ``path`` cannot be read, KeyError or ValueError when it is not such a table.
    """
    rows = []
    with open(path, newline="") as fh:
        for raw in csv.DictReader(fh):
            row: dict[str, Any] = dict(raw)
            for k in _FLOATS:
                row[k] = float(row[k]) if row.get(k) not in ("", "nan", None) else math.nan
            for k in _INTS:
                row[k] = int(row[k])
            row["converged"] = row["converged"] == "True"
            rows.append(row)
    return rows
