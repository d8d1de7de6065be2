"""Shared fixtures: Hydra composition, a scratch project root, small digit files, a local HTTP server."""

from __future__ import annotations

import gzip
import http.server
import io
import os
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from omegaconf import DictConfig

from gmmgen.pipeline import config as gconfig

REPO = Path(__file__).resolve().parents[1]
SHARED_MNIST = Path(os.environ.get("GMMGEN_SHARED_MNIST", REPO.parent / "shared" / "data" / "mnist"))
PYTHON = sys.executable


def compose_cfg(root: Path, overrides: list[str] | None = None) -> DictConfig:
    """Compose conf/config.yaml like the entry points do, with all paths under ``root``."""
    return gconfig.compose(overrides, root=root)


@pytest.fixture(scope="session", autouse=True)
def _one_blas_thread():
    """Numeric work in this process uses one BLAS thread (subprocesses keep their own default).

    On 2 cores shared with the subprocesses of other tests, a multi-threaded
    OpenBLAS thrashes: a 1,500 x 784 PCA took 15-30 s instead of under one.
    Results are compared with tolerances or between runs of this same process.
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield


# What the session started with: a test's own setting and one leaked by a module-scoped fixture
# (set up before a test's function-scoped fixtures run) are both undone after each test.
_MLFLOW_ENV_AT_START = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}


@pytest.fixture(autouse=True)
def _mlflow_uris_restored():
    """Undo what a test's MLflow calls set process-wide (tracking and registry URIs, and their env vars).

    ``tracking._client`` sets both for MLflow's fluent API; left set, a later
    test's ``MlflowClient(uri)`` would read another test's registry.
    """
    yield
    if "mlflow" not in sys.modules:
        return
    from mlflow.tracking._model_registry import utils as registry_utils
    from mlflow.tracking._tracking_service import utils as tracking_utils

    tracking_utils._tracking_uri = None
    registry_utils._registry_uri = None
    for key, value in _MLFLOW_ENV_AT_START.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


# Real (bundled) MNIST digits and a sweep that keeps the select stage busy for minutes:
# for tests that interrupt a run or start a second one while the first works.
BUSY_SELECT = [
    "data.source=bundled",
    "data.n_train=2000",
    "data.n_test=300",
    "sweep.n_components=[40,60,80,100,120]",
    "sweep.n_jobs=1",
    "sweep.progress=false",
    "model.n_init=3",
]

# A tiny, fast configuration on the 8x8 digits.
TINY = [
    "data=digits",
    "data.n_train=600",
    "data.n_test=300",
    "sweep.n_components=[2,4,8]",
    "sweep.n_jobs=1",
    "sweep.progress=false",
    "sample.n=20",
    "sample.n_real=20",
    "evaluate.enabled=false",
    "classifier.epochs=3",
]


# The tutorial's sections, small (conf/tutorial.yaml overrides): seconds each.
TUTORIAL_SMALL = [
    "em.n_starts=3",
    "em.n_steps=10",
    "em.plot_steps=[0,1,10]",
    "clustering.n_points=300",
    "clustering.k_grid=[1,2,3,4,5]",
    "clustering.n_init=1",
    "sampling.n_points=300",
    "sampling.n_draws=100",
    "segmentation.images=[mri]",
    "segmentation.k_grid=[2,3]",
    "segmentation.n_fit_pixels=2000",
    "segmentation.n_fit_digits=50",
    "segmentation.n_test_digits=100",
    f"segmentation.mnist_test={SHARED_MNIST}",
    "anomaly.n_points=300",
]


@pytest.fixture
def tiny_cfg(tmp_path: Path) -> DictConfig:
    return compose_cfg(tmp_path, TINY)


def default_signals() -> None:
    """``preexec_fn`` of a child the tests signal: Ctrl-C, SIGTERM and SIGHUP as a terminal leaves them.

    A test run under ``nohup`` or as a background job inherits SIGINT or SIGHUP
    ignored, and a child would keep it so; the tests set what they rely on.
    """
    import signal

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_DFL)


def run_py(args: list[str], cwd: Path, timeout: float = 300, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run ``python <args>`` in ``cwd`` and capture its output."""
    full_env = {**os.environ, "PYTHONHASHSEED": "0", **(env or {})}
    return subprocess.run([PYTHON, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=full_env)


# ----------------------------------------------------------------------------- IDX / npz fixtures


def idx_bytes(array: np.ndarray) -> bytes:
    """Encode a uint8 array in the IDX format (big-endian header)."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def fake_digits(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), rng.integers(0, 10, n).astype(np.uint8)


def write_idx_folder(folder: Path, n_train: int = 50, n_test: int = 30) -> dict[str, np.ndarray]:
    """The four gzipped IDX files of a small fake MNIST; returns the arrays."""
    folder.mkdir(parents=True, exist_ok=True)
    xtr, ytr = fake_digits(n_train, 1)
    xte, yte = fake_digits(n_test, 2)
    arrays = {
        "train-images-idx3-ubyte": xtr,
        "train-labels-idx1-ubyte": ytr,
        "t10k-images-idx3-ubyte": xte,
        "t10k-labels-idx1-ubyte": yte,
    }
    for name, arr in arrays.items():
        (folder / f"{name}.gz").write_bytes(gzip.compress(idx_bytes(arr), mtime=0))
    return arrays


def write_npz(path: Path, n_train: int = 50, n_test: int = 30) -> dict[str, np.ndarray]:
    """A small fake mnist.npz with Keras's keys; returns the arrays."""
    path.parent.mkdir(parents=True, exist_ok=True)
    xtr, ytr = fake_digits(n_train, 3)
    xte, yte = fake_digits(n_test, 4)
    arrays = {"x_train": xtr, "y_train": ytr, "x_test": xte, "y_test": yte}
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    path.write_bytes(buf.getvalue())
    return arrays


@pytest.fixture
def http_server(tmp_path: Path):
    """Serve ``tmp_path/www`` on 127.0.0.1; yields (base_url, folder)."""
    root = tmp_path / "www"
    root.mkdir()
    handler = lambda *a, **kw: http.server.SimpleHTTPRequestHandler(*a, directory=str(root), **kw)  # noqa: E731
    http.server.SimpleHTTPRequestHandler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root
    finally:
        server.shutdown()
        server.server_close()


def closed_port() -> int:
    """A loopback port nothing listens on (connections are refused at once)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ----------------------------------------------------------------------------- project copies


def link_venv(project: Path) -> None:
    """Give a project copy this checkout's .venv (git-ignored), as `make install` would have."""
    if not (project / ".venv").exists():
        (project / ".venv").symlink_to(REPO / ".venv")


def clone_project(src: Path, dest: Path) -> Path:
    """``git clone`` of a project copy at another path, with the .venv linked (a fresh clone: no outputs)."""
    subprocess.run(["git", "clone", "-q", str(src), str(dest)], check=True)
    link_venv(dest)
    return dest


def copy_project(dest: Path) -> Path:
    """A git clone-like copy of the project's tracked files (for DVC end-to-end runs), with the .venv linked."""
    files = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for rel in filter(None, files):
        src = REPO / rel.decode()
        if src.is_file():
            (dest / rel.decode()).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel.decode())
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]
    subprocess.run(["git", "init", "-q"], cwd=dest, check=True)
    subprocess.run(["git", "add", "-A"], cwd=dest, check=True)
    subprocess.run([*git, "commit", "-qm", "copy"], cwd=dest, check=True)
    link_venv(dest)
    return dest


# ----------------------------------------------------------------------------- the team tracking server


class TrackingServer:
    """The real MLflow + PostgreSQL server of ``make server``, in a folder of its own."""

    def __init__(self, folder: Path, port: int) -> None:
        self.folder, self.port = folder, port
        self.url = f"http://127.0.0.1:{port}"

    def make(self, target: str, check: bool = True) -> subprocess.CompletedProcess:
        """``make <target>`` with this server's folder and port, exactly as the README runs it."""
        cmd = ["make", "-C", str(REPO), "--no-print-directory", target]
        cmd += [f"SERVER_DIR={self.folder}", f"SERVER_PORT={self.port}"]
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        if check:
            assert result.returncode == 0, f"make {target} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        return result


@pytest.fixture(scope="session")
def tracking_server():
    """One server for the session: ``make server`` on a free port, ``make server-stop`` at the end.

    Its folder is under /tmp rather than pytest's tmp_path: as root, PostgreSQL
    runs as an unprivileged user, who cannot enter pytest's private folders.
    """
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="gmmgen-server-"))
    folder.chmod(0o755)
    server = TrackingServer(folder, closed_port())
    try:
        server.make("server")
        yield server
    finally:
        server.make("server-stop", check=False)
        shutil.rmtree(folder, ignore_errors=True)
