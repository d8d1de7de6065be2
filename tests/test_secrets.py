"""Issue 11, case 4: credentials are taken as MLflow takes them and never printed, logged or written.

A planted password is looked for in everything a run prints, every file it
wrote (Hydra's saved configs and logs included) and every MLflow param and tag.
"""

from __future__ import annotations

import base64
import http.server
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from gmmgen.redact import credentials_in, redact
from gmmgen.runtime.cli import EXIT_CONFIG, EXIT_TRACKING

from .conftest import PYTHON, REPO, TINY, run_py

PASSWORD = "S3cr3t-pl4nted-pw"
RUN_ALL = str(REPO / "pipelines" / "run_all.py")
CONFIGURE = str(REPO / "pipelines" / "configure.py")


def files_holding(root: Path, secret: str) -> list[str]:
    found = []
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink() and secret.encode() in path.read_bytes():
            found.append(str(path.relative_to(root)))
    return found


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (f"http://alice:{PASSWORD}@host:5000", "http://alice:***@host:5000"),
        (f"https://{PASSWORD}@host/x", "https://***@host/x"),
        (f"postgresql://mlflow:{PASSWORD}@db/mlflow", "postgresql://mlflow:***@db/mlflow"),
        (f"postgresql://mlflow:p@ss{PASSWORD}@db/mlflow", "postgresql://mlflow:***@db/mlflow"),
        (
            f"postgresql://db/mlflow?password={PASSWORD}&sslmode=require",
            "postgresql://db/mlflow?password=***&sslmode=require",
        ),
        (f"see https://host/mnist.npz?token={PASSWORD} now", "see https://host/mnist.npz?token=*** now"),
        ("postgresql://mlflow@db/mlflow", "postgresql://mlflow@db/mlflow"),  # a user name alone is no secret
        ("http://127.0.0.1:5000", "http://127.0.0.1:5000"),
    ],
)
def test_redact_masks_every_credential_in_a_uri(text, shown):
    assert redact(text) == shown
    assert credentials_in(text) == (text != shown)


@pytest.mark.parametrize(
    ("script", "override", "how"),
    [
        (RUN_ALL, f"tracking.uri=http://alice:{PASSWORD}@127.0.0.1:1", "MLFLOW_TRACKING_USERNAME"),
        pytest.param(
            CONFIGURE,
            f"tracking.uri=postgresql://mlflow:{PASSWORD}@db-host/mlflow",
            "PGPASSWORD",
            marks=pytest.mark.slow,
        ),
        pytest.param(
            RUN_ALL, f"data.origins=['https://mirror/mnist.npz?token={PASSWORD}']", "local path", marks=pytest.mark.slow
        ),
    ],
)
def test_a_credential_in_the_config_is_refused_before_anything_is_written(tmp_path, script, override, how):
    result = run_py([script, *TINY, override], cwd=tmp_path)
    assert result.returncode == EXIT_CONFIG, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("gmmgen: config error: "), result.stderr
    assert "credentials do not belong in the config" in lines[0] and how in lines[0]
    assert PASSWORD not in result.stdout + result.stderr
    assert files_holding(tmp_path, PASSWORD) == [] and not (tmp_path / "params.yaml").exists()
    assert not (tmp_path / "outputs" / "logs").exists(), "Hydra saved the config before the check"


@pytest.mark.slow
def test_a_credential_in_a_sweep_override_is_refused_before_hydra_saves_the_multirun(tmp_path):
    uris = ",".join(f"http://alice:{PASSWORD}@h{i}:5000" for i in (1, 2))
    result = run_py([RUN_ALL, "-m", *TINY, f"tracking.uri={uris}"], cwd=tmp_path)
    assert result.returncode == EXIT_CONFIG, result.stderr
    assert PASSWORD not in result.stdout + result.stderr and "alice:***@h1" in result.stderr
    assert files_holding(tmp_path, PASSWORD) == [] and not (tmp_path / "outputs" / "multirun").exists()


class AuthProxy(http.server.BaseHTTPRequestHandler):
    """A tracking endpoint behind HTTP basic auth: it answers /health, and forwards the rest to ``backend``."""

    expected = "Basic " + base64.b64encode(f"alice:{PASSWORD}".encode()).decode()
    backend: str | None = None
    seen: list[tuple[str, bool]] = []

    def _handle(self) -> None:
        ok = self.headers.get("Authorization") == self.expected
        self.seen.append((self.path, ok))
        if not ok:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="mlflow"')
            self.end_headers()
            return
        if self.path == "/health" or self.backend is None:
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"OK")
            return
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)) or None
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "authorization")}
        request = urllib.request.Request(self.backend + self.path, data=body, method=self.command, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=60) as resp:
                status, payload, ctype = resp.status, resp.read(), resp.headers.get("Content-Type", "")
        except urllib.error.HTTPError as exc:
            status, payload, ctype = exc.code, exc.read(), exc.headers.get("Content-Type", "")
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def auth_proxy():
    AuthProxy.seen, AuthProxy.backend = [], None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), AuthProxy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.slow
def test_server_credentials_come_from_the_environment_or_netrc(tmp_path, auth_proxy):
    uri = f"http://127.0.0.1:{auth_proxy.server_address[1]}"
    args = [CONFIGURE, *TINY, f"tracking.uri={uri}"]
    refused = run_py(args, cwd=tmp_path, env={"HOME": str(tmp_path), "NETRC": str(tmp_path / "none")})
    assert refused.returncode == EXIT_TRACKING, refused.stderr
    assert "answered HTTP 401 on /health (check MLFLOW_TRACKING_USERNAME" in refused.stderr
    by_env = {"MLFLOW_TRACKING_USERNAME": "alice", "MLFLOW_TRACKING_PASSWORD": PASSWORD, "HOME": str(tmp_path)}
    accepted = run_py(args, cwd=tmp_path, env=by_env)
    assert accepted.returncode == 0, accepted.stderr
    netrc = tmp_path / "netrc"
    netrc.write_text(f"machine 127.0.0.1 login alice password {PASSWORD}\n")
    netrc.chmod(0o600)
    by_netrc = run_py(args, cwd=tmp_path, env={"NETRC": str(netrc), "HOME": str(tmp_path)})
    assert by_netrc.returncode == 0, by_netrc.stderr
    assert [ok for path, ok in AuthProxy.seen] == [False, True, True]
    for result in (refused, accepted, by_netrc):
        assert PASSWORD not in result.stdout + result.stderr
    assert files_holding(tmp_path, PASSWORD) == ["netrc"]


@pytest.mark.slow
def test_a_whole_run_against_a_password_protected_server_leaks_nothing(tmp_path, auth_proxy):
    """A real MLflow server behind basic auth; the password only in the environment; then grep everything."""
    from mlflow import MlflowClient

    from .conftest import closed_port

    port = closed_port()
    server = subprocess.Popen(
        [
            str(Path(PYTHON).parent / "mlflow"),
            "server",
            "--backend-store-uri",
            f"sqlite:///{tmp_path}/server.db",
            "--artifacts-destination",
            str(tmp_path / "server-artifacts"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        backend = f"http://127.0.0.1:{port}"
        deadline = time.time() + 120
        while True:
            try:
                urllib.request.urlopen(backend + "/health", timeout=2).close()
                break
            except OSError:
                assert time.time() < deadline and server.poll() is None, "the MLflow server did not start"
                time.sleep(0.5)
        AuthProxy.backend = backend
        uri = f"http://127.0.0.1:{auth_proxy.server_address[1]}"
        work = tmp_path / "work"
        work.mkdir()
        env = {"MLFLOW_TRACKING_USERNAME": "alice", "MLFLOW_TRACKING_PASSWORD": PASSWORD, "PGPASSWORD": PASSWORD}
        result = run_py([RUN_ALL, *TINY, f"tracking.uri={uri}"], cwd=work, env=env, timeout=600)
        assert result.returncode == 0, result.stderr[-3000:]
        assert AuthProxy.seen and all(ok for _, ok in AuthProxy.seen), "a request went without the credentials"
        assert PASSWORD not in result.stdout + result.stderr
        assert files_holding(tmp_path, PASSWORD) == []
        client = MlflowClient(backend)
        runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
        assert runs
        for run in runs:
            for key, value in {**run.data.params, **run.data.tags}.items():
                assert PASSWORD not in key + value, (run.info.run_name, key)
    finally:
        server.terminate()
        server.wait(timeout=30)
