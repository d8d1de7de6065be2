"""One run per checkout: a lock that keeps two runs from mixing one params.yaml and one set of stage folders.

A run composes its config into ``params.yaml`` and then DVC's stages read it
and write ``outputs/<stage>/``; two runs at once would mix both. So ``make
run`` (through ``python -m gmmgen.runtime.runlock``), ``pipelines/configure.py``,
single runs of ``pipelines/run_all.py`` and every stage entry point take an
exclusive lock on ``<root>/outputs/.run.lock`` before they compose or write
anything, and hold it to the end. A process whose ancestor holds the lock
(``make run``'s configure step, DVC's stages under it) shares that hold. A
second run fails at once with one line (exit status 7) and changes nothing,
or, with ``GMMGEN_WAIT=1`` (``make run WAIT=1``), waits its turn. Multiruns
need no lock: each job writes its own folder.

The lock is ``flock(2)`` on an open file: the kernel releases it when the
holder exits, however it ends (SIGKILL included), so it is never stale.

    python -m gmmgen.runtime.runlock [--wait] -- CMD [ARGS...] [-- CMD [ARGS...] ...]

runs the commands in turn under the lock, stops at the first that fails and
exits with its status (a stage's own status when DVC ran it, see
:data:`gmmgen.runtime.cli.STATUS_FILE_ENV`).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from gmmgen.errors import CheckoutBusy

LOCK_FILE = Path("outputs") / ".run.lock"
WAIT_ENV = "GMMGEN_WAIT"


def lock_path(root: str | os.PathLike[str]) -> Path:
    """The lock file of the checkout at ``root``."""
    return Path(root).expanduser().resolve() / LOCK_FILE


def _holder(fd: int) -> dict[str, Any]:
    try:
        raw = os.pread(fd, 4096, 0)
        info = json.loads(raw.decode()) if raw.strip() else {}
        return info if isinstance(info, dict) else {}
    except (OSError, ValueError):
        return {}


def _describe(info: dict[str, Any]) -> str:
    if not info:
        return "another run"
    since = time.strftime("%H:%M:%S", time.localtime(info.get("started", 0)))
    return f"pid {info.get('pid')} on {info.get('host')} since {since}: {info.get('command', '?')}"


def _ancestors() -> set[int]:
    import psutil

    try:
        return {p.pid for p in psutil.Process().parents()}
    except psutil.Error:
        return set()


def _command_line() -> str:
    from gmmgen.redact import redact

    return redact(shlex.join([Path(sys.argv[0]).name, *sys.argv[1:]]))[:300]


@contextlib.contextmanager
def hold(root: str | os.PathLike[str], wait: bool | None = None) -> Iterator[None]:
    """Hold the run lock of the checkout at ``root`` for the ``with`` block.

    Shares the hold of an ancestor process. Otherwise raises
    :class:`~gmmgen.errors.CheckoutBusy` at once when another run holds it,
    or waits when ``wait`` (default: the ``GMMGEN_WAIT`` environment
    variable is ``1``).
    """
    if wait is None:
        wait = os.environ.get(WAIT_ENV) == "1"
    path = lock_path(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            info = _holder(fd)
            if info.get("pid") in _ancestors():
                yield  # started by the holder: its hold covers us
                return
            if not wait:
                raise CheckoutBusy(
                    f"this checkout is in use by {_describe(info)}; wait for it to end, or wait in line "
                    f"with `make run WAIT=1` ({WAIT_ENV}=1 for the scripts)"
                ) from None
            print(f"gmmgen: waiting for {_describe(info)}", file=sys.stderr, flush=True)
            fcntl.flock(fd, fcntl.LOCK_EX)
        record = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time(), "command": _command_line()}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(record).encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
    finally:
        os.close(fd)  # releases the lock


@contextlib.contextmanager
def dvc_idle(root: str | os.PathLike[str]) -> Iterator[None]:
    """Hold DVC's own repository lock for the block: CheckoutBusy when a DVC command is running.

    Guards ``params.yaml`` against a bare ``dvc repro`` (which does not go
    through :func:`hold`) that is reading it right now.
    """
    tmp = Path(root) / ".dvc" / "tmp"
    if not tmp.is_dir():
        yield
        return
    import zc.lockfile

    try:
        lock = zc.lockfile.LockFile(str(tmp / "lock"))
    except zc.lockfile.LockError:
        raise CheckoutBusy(
            "a DVC command is running in this checkout (.dvc/tmp/lock is held); wait for it to end"
        ) from None
    try:
        yield
    finally:
        lock.close()


# --------------------------------------------------------------------------- command line


def _run(cmd: list[str], env: dict[str, str]) -> int:
    """Run ``cmd``; Ctrl-C and SIGHUP reach it from the terminal, SIGTERM is passed on. Returns its status.

    Ignoring the terminal's signals here keeps the lock held until ``cmd`` has ended.
    """
    proc = subprocess.Popen(cmd, env=env)

    def forward(signum: int, frame: Any) -> None:
        proc.send_signal(signum)

    previous = (
        signal.signal(signal.SIGTERM, forward),
        signal.signal(signal.SIGINT, signal.SIG_IGN),
        signal.signal(signal.SIGHUP, signal.SIG_IGN),
    )
    try:
        code = proc.wait()
    finally:
        signal.signal(signal.SIGTERM, previous[0])
        signal.signal(signal.SIGINT, previous[1])
        signal.signal(signal.SIGHUP, previous[2])
    return 128 - code if code < 0 else code


def _name(cmd: list[str]) -> str:
    """A command's short name: its script (``configure.py``), its ``-m`` module, else its program."""
    for i, arg in enumerate(cmd):
        if arg.endswith(".py"):
            return Path(arg).name
        if arg == "-m" and i + 1 < len(cmd):
            return cmd[i + 1]
    return Path(cmd[0]).name


def main(argv: list[str] | None = None) -> int:
    """``python -m gmmgen.runtime.runlock [--wait] -- CMD ... [-- CMD ...]``: run the commands under the lock."""
    from gmmgen.errors import SIGNAL_STATUS, SIGNAL_WHAT, STATUS_FILE_ENV, late_signal
    from gmmgen.redact import redact
    from gmmgen.runtime.exits import exit_status, fail

    args = list(sys.argv[1:] if argv is None else argv)
    wait = None
    if args[:1] == ["--wait"]:
        wait, args = True, args[1:]
    if args[:1] != ["--"] or len(args) < 2:
        print(
            "usage: python -m gmmgen.runtime.runlock [--wait] -- CMD [ARGS...] [-- CMD [ARGS...] ...]", file=sys.stderr
        )
        return 2
    commands: list[list[str]] = [[]]
    for arg in args[1:]:
        if arg == "--":
            commands.append([])
        else:
            commands[-1].append(arg)
    root = Path.cwd()
    try:
        with hold(root, wait):
            status_file = lock_path(root).with_name(f".run.status-{os.getpid()}")
            env = {**os.environ, STATUS_FILE_ENV: str(status_file)}
            try:
                for cmd in filter(None, commands):
                    print(redact(shlex.join(cmd)), flush=True)
                    code = _run(cmd, env)
                    if code != 0:
                        if status_file.exists():
                            code = int(status_file.read_text().strip() or code)
                        return code
                    signum = late_signal(str(status_file))
                    if signum in SIGNAL_STATUS:  # it finished its work, then the signal came: stop here
                        print(
                            f"gmmgen: {SIGNAL_WHAT[signum]} once {_name(cmd)} had done its work: stopping there",
                            file=sys.stderr,
                            flush=True,
                        )
                        return SIGNAL_STATUS[signum]
            finally:
                status_file.unlink(missing_ok=True)
                Path(f"{status_file}.signal").unlink(missing_ok=True)
    except CheckoutBusy as exc:
        fail(f"busy: {exc}", exit_status(exc) or 7)
    return 0


if __name__ == "__main__":
    sys.exit(main())
