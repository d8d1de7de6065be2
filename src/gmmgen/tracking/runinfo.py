"""What a pipeline run records about itself before its stages start: git state and start time.

``make run`` calls ``python -m gmmgen.tracking.runinfo start`` after writing params.yaml
and before ``dvc repro``: the stages rewrite ``dvc.lock`` and
``results/metrics.json``, so git cleanliness taken later would always read
dirty. The ``track`` stage reads the record (the run's real start, and whether
the code and config were committed) and ``make run`` deletes it afterwards. The
file lives under ``outputs/`` and DVC does not hash it. A bare ``dvc repro`` or
``dvc exp run`` gets its record from the data stage (:func:`note_dvc_start`,
called by ``pipelines/stage.py``, not a code dep of the stage).
"""

from __future__ import annotations

import json
import os
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


def dvc_process() -> int | None:
    """The id of the ``dvc`` process (repro, exp run) this process runs under, or None (not run by DVC; not Linux).

    DVC runs a stage's command through a shell and ``pipelines/python``; the
    process ids are read up the chain from ``/proc`` (a few levels).
    """
    pid = os.getppid()
    for _ in range(5):
        try:
            args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[:2]
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return None
        if any(Path(a.decode(errors="replace")).name == "dvc" for a in args):
            return pid
        pid = int(stat.rsplit(")", 1)[1].split()[1])  # the parent's id (the name may hold spaces)
        if pid <= 1:
            return None
    return None


def write_start(root: Path, outputs: Path, kind: str = "run") -> dict[str, Any]:
    """Record the git state of ``root``, the time now (ms) and ``kind`` in ``outputs/run_start.json``.

    ``make exp`` writes ``kind: exp``: its run spans the pipeline too, but a DVC
    experiment's model version never competes for the champion alias. The data
    stage run by a bare ``dvc repro`` or ``dvc exp run`` writes ``kind: dvc`` with
    that DVC process's id (:func:`note_dvc_start`): it never competes either.
    """
    record = {"start_ms": int(time.time() * 1000), "kind": kind, **git_state(root)}
    if kind == "dvc":
        record["dvc_pid"] = dvc_process()
    outputs.mkdir(parents=True, exist_ok=True)
    (outputs / START_FILE).write_text(json.dumps(record) + "\n")
    return record


def read_start(outputs: Path) -> dict[str, Any] | None:
    """The record of the run in progress (``make run``, ``make exp``, or the DVC process that ran the data stage),
    or None: none, or a ``kind: dvc`` record left by another DVC process (a stage of this one was cached)."""
    try:
        record = json.loads((outputs / START_FILE).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or "start_ms" not in record:
        return None
    if record.get("kind") == "dvc" and record.get("dvc_pid") != dvc_process():
        return None
    return record


def note_dvc_start(root: Path, outputs: Path) -> dict[str, Any] | None:
    """At the data stage: record the start of a bare ``dvc repro`` / ``dvc exp run`` (kind dvc), so its MLflow run
    spans the pipeline; nothing when ``make run`` or ``make exp`` recorded it, or when DVC does not run this."""
    if dvc_process() is None or read_start(outputs) is not None:
        return None
    return write_start(root, outputs, "dvc")


if __name__ == "__main__":  # python -m gmmgen.tracking.runinfo start [--exp] [root]
    args = sys.argv[1:]
    if args[:1] != ["start"]:
        sys.exit("usage: python -m gmmgen.tracking.runinfo start [--exp] [root]")
    kind = "exp" if "--exp" in args else "run"
    rest = [a for a in args[1:] if a != "--exp"]
    root = Path(rest[0] if rest else ".").resolve()
    rec = write_start(root, root / "outputs", kind)
    print(f"run start recorded: commit {rec['commit'][:12]}, {'dirty' if rec['dirty'] else 'clean'} tree")
