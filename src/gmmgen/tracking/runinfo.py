"""What a pipeline run records about itself before its stages start: git state and start time.

``make run`` calls ``python -m gmmgen.tracking.runinfo start`` after writing params.yaml
and before ``dvc repro``: the stages rewrite ``dvc.lock`` and
``results/metrics.json``, so git cleanliness taken later would always read
dirty. The ``track`` stage reads the record (the run's real start, and whether
the code and config were committed) and ``make run`` deletes it afterwards. The
file lives under ``outputs/`` and DVC does not hash it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

START_FILE = "run_start.json"


def git_state(root: Path) -> dict[str, Any]:
    """``{"commit": sha or "unknown", "dirty": bool or None}`` of the repository at ``root``.

    Dirty means a tracked file differs from the commit (untracked files do not count).
    """

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=root, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        return {"commit": "unknown", "dirty": None}
    return {"commit": commit, "dirty": dirty}


def write_start(root: Path, outputs: Path, kind: str = "run") -> dict[str, Any]:
    """Record the git state of ``root``, the time now (ms) and ``kind`` (run or exp) in ``outputs/run_start.json``.

    ``make exp`` writes ``kind: exp``: its run spans the pipeline too, but a DVC
    experiment's model version never competes for the champion alias.
    """
    record = {"start_ms": int(time.time() * 1000), "kind": kind, **git_state(root)}
    outputs.mkdir(parents=True, exist_ok=True)
    (outputs / START_FILE).write_text(json.dumps(record) + "\n")
    return record


def read_start(outputs: Path) -> dict[str, Any] | None:
    """The record of the ``make run`` in progress, or None (``dvc repro`` or ``dvc exp run`` on their own)."""
    try:
        record = json.loads((outputs / START_FILE).read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and "start_ms" in record else None


if __name__ == "__main__":  # python -m gmmgen.tracking.runinfo start [--exp] [root]
    args = sys.argv[1:]
    if args[:1] != ["start"]:
        sys.exit("usage: python -m gmmgen.tracking.runinfo start [--exp] [root]")
    kind = "exp" if "--exp" in args else "run"
    rest = [a for a in args[1:] if a != "--exp"]
    root = Path(rest[0] if rest else ".").resolve()
    rec = write_start(root, root / "outputs", kind)
    print(f"run start recorded: commit {rec['commit'][:12]}, {'dirty' if rec['dirty'] else 'clean'} tree")
