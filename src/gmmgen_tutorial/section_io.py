"""What every tutorial section's stage shares: its folder, derived seeds, one BLAS thread, CSV, rounding."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np


def section_dir(cfg: Any, section: str) -> Path:
    """The folder a tutorial section writes: ``<paths.run_dir>/tutorial/<section>``."""
    return Path(cfg.paths.run_dir) / "tutorial" / section


def seeds(seed: int, n: int) -> list[int]:
    """``n`` independent integer seeds derived from one (so data and draws never share a stream)."""
    return [int(s.generate_state(1)[0]) for s in np.random.SeedSequence(seed).spawn(n)]


@contextmanager
def one_thread() -> Iterator[None]:
    """One BLAS thread inside."""
    # Small problems: BLAS threads cost more than they give, and a shared machine gets slower with them.
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        yield


def write_csv(path: Path, header: list[str], rows: list[list[Any]]) -> None:
    """A CSV file: the header, then the rows."""
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)


def rounded(v: float, digits: int = 10) -> float:
    """``v`` as a Python float rounded to ``digits`` decimals (stable across machines in the files)."""
    return float(round(float(v), digits))
