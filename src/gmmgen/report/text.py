"""Reading a stage's files forgivingly, and numbers and tables as the console summaries show them.

Used by :mod:`gmmgen.report.summary` (the end of ``make run``) and
:mod:`gmmgen.report.multirun` (the end of ``make sweep``): a missing or
unreadable file reads as empty, a missing number prints as '-'.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def read_json(path: Path) -> dict[str, Any]:
    """The JSON object in ``path``; {} when it is missing or unreadable."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def read_csv(path: Path) -> list[dict[str, str]]:
    """The rows of the CSV file ``path``; [] when it is missing."""
    try:
        with open(path, newline="") as fh:
            return list(csv.DictReader(fh))
    except OSError:
        return []


def number(value: Any) -> float:
    """``value`` as a float; NaN when it is none."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def fmt(value: Any, kind: str = "") -> str:
    """A number as the summary shows it: thousands separated, percentages, '-' for missing."""
    v = number(value)
    if math.isnan(v):
        return "-"
    if kind == "%":
        return f"{100 * v:.1f}%"
    if kind == "bpp":
        return f"{v:.4f}"
    if abs(v) >= 1e6:
        return f"{v:.3g}"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def ndb(different: Any, bins: Any) -> str:
    """NDB as 'different/K' (statistically different bins of K), '-' when missing."""
    d, k = number(different), number(bins)
    return "-" if math.isnan(d) else f"{d:.0f}/{k:.0f}" if not math.isnan(k) else f"{d:.0f}"


def table(header: Sequence[str], rows: Sequence[Sequence[str]], indent: str = "  ") -> str:
    """Columns padded to their widest cell; the first column left-aligned, the others right-aligned."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        parts = [
            str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return (indent + "  ".join(parts)).rstrip()

    return "\n".join([line(header), *(line(r) for r in rows)])
