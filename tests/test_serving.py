"""Issue 23, item 5: the served model holds under hostile and concurrent use (a real server on loopback).

A tiny digit generator (PCA + GMM on the 8x8 digits) registered in a real
SQLite store as @champion, served by ``python -m gmmgen.tracking.serving``
(what `make serve` runs) with small bounds: 20,000 digits in flight, 100 kB a body.
"""

from __future__ import annotations

import concurrent.futures
import http.client
import json
import os
import signal
import socket
import subprocess
import time
import urllib.parse
import urllib.request

import pytest

from .conftest import PYTHON, default_signals

MODEL = "tiny-generator"
IN_FLIGHT, BODY, PER_REQUEST = 20000, 100_000, 20000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The invocations URL of a server for @champion of a tiny registered model; stops it afterwards."""
    import mlflow
    from mlflow import MlflowClient
    from sklearn.decomposition import PCA
    from sklearn.mixture import GaussianMixture

    from gmmgen.core import data, reduce
    from gmmgen.tracking.serving import save_model

    base = tmp_path_factory.mktemp("serving")
    uri = f"sqlite:///{base / 'mlflow.db'}"
    x = reduce.to_features(data.load_digits_8x8().x_train[:300])
    pca = PCA(8, whiten=True, random_state=0).fit(x)
    gmm = GaussianMixture(3, random_state=0).fit(pca.transform(x))
    saved = save_model(base / "model", pca, gmm, (8, 8), PER_REQUEST)
    client = MlflowClient(uri, registry_uri=uri)
    client.create_registered_model(MODEL)
    run = client.create_run(client.create_experiment("serving", artifact_location=str(base / "artifacts")))
    client.log_artifacts(run.info.run_id, saved, "model")
    client.set_terminated(run.info.run_id)
    source = f"{run.info.artifact_uri}/model"
    version = client.create_model_version(MODEL, source, run.info.run_id).version
    client.set_registered_model_alias(MODEL, "champion", version)
    mlflow.set_tracking_uri(None)
    port = free_port()
    cmd = [PYTHON, "-m", "gmmgen.tracking.serving", "--model-uri", f"models:/{MODEL}@champion", "--port", str(port)]
    cmd += ["--max-in-flight", str(IN_FLIGHT), "--max-body", str(BODY)]
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri}
    log = open(base / "server.log", "w")
    proc = subprocess.Popen(
        cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=default_signals
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            assert proc.poll() is None, (base / "server.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "the server did not come up"
            time.sleep(0.2)
        yield {"url": f"http://127.0.0.1:{port}/invocations", "log": base / "server.log"}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def post(url: str, body: bytes, content_type: str | None = "application/json") -> tuple[int, bytes, float]:
    """POST ``body`` with exactly that Content-Type header (None: no such header at all)."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    headers = {"Content-Type": content_type} if content_type else {}
    start = time.monotonic()
    try:
        conn.request("POST", parts.path, body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read(), time.monotonic() - start
    finally:
        conn.close()


def records(*pairs: tuple[int, int]) -> bytes:
    return json.dumps({"dataframe_records": [{"n": n, "seed": s} for n, s in pairs]}).encode()


def assert_one_line_error(status: int, body: bytes, expected_status: int, expected: str) -> None:
    assert status == expected_status, (status, body[:300])
    assert len(body) <= 400 and body.count(b"\n") == 1, body[:500]
    answer = json.loads(body)
    assert answer["message"].startswith("gmmgen: ") and expected in answer["message"], answer
    assert "Traceback" not in answer["message"] and "DataFrame" not in answer["message"]


def test_valid_requests_get_the_digits_as_drawn(served):
    status, body, _ = post(served["url"], records((3, 5), (2, 1)))
    assert status == 200, body[:300]
    images = json.loads(body)["predictions"]
    assert len(images) == 5 and len(images[0]) == 8 and len(images[0][0]) == 8
    assert all(0 <= v <= 255 for image in images for row in image for v in row)
    again = post(served["url"], json.dumps({"dataframe_split": {"columns": ["n", "seed"], "data": [[3, 5]]}}).encode())
    assert again[0] == 200 and json.loads(again[1])["predictions"] == images[:3]  # same seed, same digits


@pytest.mark.parametrize(
    ("body", "content_type", "status", "expected"),
    [
        (b"", None, 415, "send Content-Type: application/json (got none)"),
        (records((1, 1)), None, 415, "send Content-Type: application/json (got none)"),
        (b"n=1&seed=2", "application/x-www-form-urlencoded", 415, "got 'application/x-www-form-urlencoded'"),
        (b"{not json", "application/json", 400, "the body is not valid JSON (line 1 column 2)"),
        (b"\xff\xfe\x00garbage", "application/json", 400, "the body is not UTF-8 text"),
        (b"[" * 100_000 + b"]" * 0, "application/json", 400, "the body is not valid JSON"),
        (b"[1, 2]", "application/json", 400, "the body must be a JSON object, got list"),
        (b'{"rows": []}', "application/json", 400, "send dataframe_records, dataframe_split or inputs"),
        (b'{"dataframe_records": "x"}', "application/json", 400, "dataframe_records must be a list of objects"),
        (b'{"dataframe_split": {"columns": ["n"], "data": [[1, 2]]}}', "application/json", 400, "dataframe_split"),
        (b'{"dataframe_records": [{"n": 2}]}', "application/json", 400, "row 0: missing inputs ['seed']"),
        (b'{"dataframe_records": [{"n": 2.5, "seed": 1}]}', "application/json", 400, "n=2.5 must be an integer"),
        (json.dumps({"inputs": [{"n": "x" * 50_000, "seed": 1}]}).encode(), "application/json", 400, "must be an"),
        (records((PER_REQUEST, 1), (1, 2)), "application/json", 400, f"at most {PER_REQUEST} per request"),
    ],
)
def test_every_malformed_request_is_a_one_line_4xx(served, body, content_type, status, expected):
    got, answer, _ = post(served["url"], body, content_type)
    assert_one_line_error(got, answer, status, expected)


def test_an_oversized_body_is_refused_with_413_and_not_echoed(served):
    big = b"x" * (10 * 1024 * 1024)
    for content_type in ("application/json", "text/plain", None):
        status, body, _ = post(served["url"], big, content_type)
        assert_one_line_error(status, body, 413, f"at most {BODY} bytes")


def test_digits_in_flight_are_bounded_across_requests(served):
    """Eight requests for the whole bound at once: one is drawn at a time, the others are refused at once (503)."""
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda s: post(served["url"], records((PER_REQUEST, s))), range(8)))
    statuses = sorted(status for status, _, _ in results)
    assert 200 in statuses and 503 in statuses and set(statuses) <= {200, 503}, statuses
    for status, body, seconds in results:
        if status == 503:
            assert_one_line_error(status, body, 503, f"would pass the bound {IN_FLIGHT}; retry shortly")
            assert seconds < 5
    # Nothing stays counted: the bound's worth goes through again afterwards.
    assert post(served["url"], records((PER_REQUEST, 9)))[0] == 200


def test_no_traceback_in_the_server_log(served):
    post(served["url"], b"{", None)
    post(served["url"], b"{", "application/json")
    text = served["log"].read_text()
    assert "Traceback" not in text and "Exception" not in text, text[-3000:]


def test_the_model_maps_digits_back_in_blocks_with_the_same_pixels_as_all_at_once():
    """The generator bounds its float64 temporaries (blocks of rows); the digits are those of one pass."""
    import numpy as np
    import pandas as pd
    from sklearn.decomposition import PCA
    from sklearn.mixture import GaussianMixture

    from gmmgen.core import data, reduce, sampling
    from gmmgen.tracking import generator

    x = reduce.to_features(data.load_digits_8x8().x_train[:300])
    pca = PCA(8, whiten=True, random_state=0).fit(x)
    gmm = GaussianMixture(3, random_state=0).fit(pca.transform(x))
    model = generator.DigitGenerator()
    model.pca, model.gmm, model.shape, model.max_digits = pca, gmm, (8, 8), 10_000
    n = 2 * generator.PIXEL_BLOCK + 17
    got = model.predict(None, pd.DataFrame({"n": [n, 3], "seed": [1, 2]}))
    draws = (sampling.draw(gmm, k, s)[0] for k, s in ((n, 1), (3, 2)))
    expected = [reduce.to_images(pca.inverse_transform(z), (8, 8)) for z in draws]
    np.testing.assert_array_equal(got, np.concatenate(expected))


def test_drawing_the_per_request_cap_takes_tens_of_mb_not_hundreds():
    """10,000 digits from a full-covariance mixture in 87 dimensions: a factor per digit took 600 MB at once."""
    import tracemalloc

    import numpy as np
    from sklearn.mixture import GaussianMixture

    from gmmgen.core import sampling

    x = np.random.default_rng(0).standard_normal((400, 87))
    gmm = GaussianMixture(3, covariance_type="full", random_state=0, max_iter=5).fit(x)
    tracemalloc.start()
    try:
        z, labels = sampling.draw(gmm, 10_000, 0)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert z.shape == (10_000, 87) and labels.shape == (10_000,)
    assert peak < 60 * 2**20, f"peak {peak / 2**20:.0f} MB"  # z and offsets: 7 MB each; blocks of factors: 30 MB


def test_a_model_that_is_not_there_is_one_line_and_the_tracking_status(tmp_path):
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}"}
    cmd = [PYTHON, "-m", "gmmgen.tracking.serving", "--model-uri", "models:/nope@champion", "--port", "1"]
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 6, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("gmmgen:")]
    assert lines == [
        "gmmgen: tracking error: cannot load models:/nope@champion: Registered Model with name=nope not found"
    ]
