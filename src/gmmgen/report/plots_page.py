"""`make plots`: DVC's plots page with the plots whose files exist, and no "failed to load" line.

``dvc plots show`` without targets collects every dvc.yaml's plots, the
tutorial's (``pipelines/tutorial/dvc.yaml``) included; before ``make tutorial``
their files are missing and DVC ends with "failed to load some plots". DVC's
targets are regular expressions matched (``re.match``) against
``<dvc.yaml path>::<plot id>``; so this names each plot whose files all exist,
by that full id (its characters other than letters, digits and a few plain ones
matched by ``.``: DVC turns a backslash into a slash, so no escape survives).

``python -m gmmgen.report.plots_page [dvc] [extra dvc arguments]`` runs
``dvc plots show`` with those targets; with none there yet, it says so in one
line and exits 1.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

#: The pipelines' dvc.yaml files whose plots the page shows, relative to the repository root.
DVC_FILES = ("dvc.yaml", "pipelines/tutorial/dvc.yaml")


def _plot_files(plot_id: str, props: Any) -> list[str]:
    """The data files a top-level plot reads (its ``y`` files, or its id when that is the file)."""
    y = props.get("y") if isinstance(props, dict) else None
    return list(y) if isinstance(y, dict) else [plot_id]


def plots_of(root: Path, dvc_file: str) -> list[tuple[str, list[Path]]]:
    """Each plot of ``dvc_file`` (top-level and stages' plot outputs): (its full id, the files it reads)."""
    doc = yaml.safe_load((root / dvc_file).read_text()) or {}
    base = (root / dvc_file).parent
    found = []
    for entry in doc.get("plots") or []:
        plot_id, props = (entry, None) if isinstance(entry, str) else next(iter(entry.items()))
        found.append((f"{dvc_file}::{plot_id}", [base / f for f in _plot_files(plot_id, props)]))
    for stage in (doc.get("stages") or {}).values():
        wdir = base / stage.get("wdir", ".")
        for out in stage.get("plots") or []:
            path = out if isinstance(out, str) else next(iter(out))
            found.append((f"{dvc_file}::{path}", [wdir / path]))
    return found


def as_target(full_id: str) -> str:
    """A DVC plots target matching exactly ``full_id``: other characters than plain ones become ``.``, then ``$``."""
    return re.sub(r"[^A-Za-z0-9 _,/:=-]", ".", full_id) + "$"


def targets(root: Path) -> tuple[list[str], list[str]]:
    """(targets of the plots whose files all exist, the missing files of those left out, relative to ``root``)."""
    shown, missing = [], []
    for dvc_file in DVC_FILES:
        if not (root / dvc_file).is_file():
            continue
        for full_id, files in plots_of(root, dvc_file):
            absent = [str(f.resolve().relative_to(root.resolve())) for f in files if not f.exists()]
            if absent:
                missing += [f for f in absent if f not in missing]
            else:
                shown.append(as_target(full_id))
    return shown, missing


def main(argv: list[str]) -> int:
    dvc, *extra = argv or ["dvc"]
    shown, missing = targets(Path.cwd())
    if not shown:
        print("make plots: no plot's files exist yet (outputs/select/sweep.csv, ...): run `make run` first")
        return 1
    if missing:
        print(f"make plots: left out until their files exist (`make tutorial` makes its own): {', '.join(missing)}")
    return subprocess.run([dvc, "plots", "show", *extra, *shown], check=False).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
