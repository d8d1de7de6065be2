"""Finding every process of a cluster: by the marker in its environment, its descendants, its pid files."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from gmmgen.tracking.cluster_common import MARKER_ENV
from gmmgen.tracking.procs import alive

PIDFILES = {
    "munged": "munge/munged.pid",
    "mariadbd": "mysql/mysqld.pid",
    "slurmdbd": "slurmdbd.pid",
    "slurmctld": "slurmctld.pid",
    "slurmd": "slurmd.pid",
}


def _marked(folder: Path) -> list[int]:
    """Every process whose environment names this cluster (daemons, slurmstepd, job steps)."""
    mark = f"{MARKER_ENV}={folder}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            if mark in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
    return found


def _descendants(roots: set[int]) -> set[int]:
    """Every process below ``roots`` (children, grandchildren...), from /proc."""
    parent = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                parent[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[-1].split()[1])
    found, frontier = set(), set(roots)
    while frontier:
        frontier = {pid for pid, ppid in parent.items() if ppid in frontier} - found
        found |= frontier
    return found


def leftovers(folder: Path) -> list[int]:
    """Processes of the cluster in ``folder`` still alive: its daemons, job steps and everything they started.

    Found by :data:`MARKER_ENV` in their environment, never by a pid file alone
    (a stale pid may belong to another process by now).
    """
    marked = set(_marked(folder.resolve()))
    return sorted(pid for pid in marked | _descendants(marked) if alive(pid))


def pidfile(folder: Path, name: str) -> int | None:
    """The pid a daemon wrote to its pid file, or None."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        return int((folder / PIDFILES[name]).read_text().split()[0])
    return None
