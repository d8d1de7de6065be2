"""Processes and ports of the daemons this package starts (tracking server, SLURM cluster).

Standard library only: whether a process is alive, free ports, and stopping
processes (SIGTERM, then SIGKILL after a grace period).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import time
from pathlib import Path

HOST = "127.0.0.1"


def free_port(host: str = HOST) -> int:
    """A TCP port on ``host`` that nothing listens on right now."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def port_free(port: int, host: str = HOST) -> bool:
    """True when a daemon could listen on ``port`` (connections in TIME_WAIT do not count)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def listening(port: int, host: str = HOST) -> bool:
    """True when something accepts connections on ``host:port``."""
    with socket.socket() as s:
        s.settimeout(1.0)
        return s.connect_ex((host, port)) == 0


def alive(pid: int) -> bool:
    """True when process ``pid`` exists and is not a zombie (a zombie child of ours counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError):
        if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0] == "Z":
            return False
    return True


def terminate(pids: list[int], grace: float = 10.0, group: bool = False) -> None:
    """SIGTERM ``pids``, then SIGKILL whatever is still alive after ``grace`` seconds.

    ``group``: signal the process group each pid leads (a server and its workers).
    """
    kill = os.killpg if group else os.kill
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                kill(pid, sig)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            for pid in pids:
                with contextlib.suppress(ChildProcessError, OSError):
                    os.waitpid(pid, os.WNOHANG)
            if not any(alive(pid) for pid in pids):
                return
            time.sleep(0.1)
