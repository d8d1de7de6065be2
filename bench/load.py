"""The served digit generator under a concurrent mix of valid and hostile requests, on loopback only.

Starts ``python -m gmmgen.tracking.serving`` (what `make serve` runs) on a free
loopback port, sends a bounded number of requests (``--requests``, at most
``--seconds``) from ``--clients`` threads, and prints one markdown table:
per kind of request its count, HTTP statuses and p50/p99 latency; then
requests per second, unexpected answers (a 5xx other than the bound's 503, a
dropped connection) and the server's peak RSS (polled every 20 ms). Not a test:
nothing here asserts a number.

  make bench-load                                  # a model fitted here on the bundled 5,000 MNIST digits
  make bench-load ARGS="--model-uri models:/gmmgen-digit-generator@champion"   # (with MLFLOW_TRACKING_URI)

The mix, by request number: small valid requests (16 digits), large valid ones
(10,000 digits: the per-request cap, eight clients asking at once is what took
1.7 GB before the bound), and hostile ones: a 10 MB non-JSON body, no content
type, broken JSON, too many digits, values of the wrong type.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import psutil

BIG = b"x" * (10 * 1024 * 1024)


def _records(*pairs: tuple[int, int]) -> bytes:
    return json.dumps({"dataframe_records": [{"n": n, "seed": s} for n, s in pairs]}).encode()


# (kind, weight, body, content type)
MIX = [
    ("valid: 16 digits", 10, lambda i: _records((16, i)), "application/json"),
    ("valid: 10,000 digits", 2, lambda i: _records((10_000, i)), "application/json"),
    ("hostile: 10 MB non-JSON", 1, lambda i: BIG, "text/plain"),
    ("hostile: no content type", 1, lambda i: _records((4, i)), None),
    ("hostile: broken JSON", 2, lambda i: b'{"dataframe_records": [{"n": 4,', "application/json"),
    ("hostile: 20,000 digits", 2, lambda i: _records((10_000, i), (10_000, i + 1)), "application/json"),
    ("hostile: wrong types", 2, lambda i: b'{"dataframe_records": [{"n": "four", "seed": []}]}', "application/json"),
]


def build_model(folder: Path) -> str:
    """A 28x28 digit generator fitted here: PCA (90% variance) + full GMM K=10 on the bundled MNIST digits."""
    from sklearn.decomposition import PCA
    from sklearn.mixture import GaussianMixture

    from gmmgen.core import data, reduce
    from gmmgen.tracking.serving import save_model

    x = reduce.to_features(data.load_bundled().x_train)
    pca = PCA(0.9, whiten=True, random_state=0).fit(x)
    gmm = GaussianMixture(10, covariance_type="full", random_state=0, max_iter=50).fit(pca.transform(x))
    return save_model(folder / "model", pca, gmm, (28, 28), 10_000)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(port: int, body: bytes, content_type: str | None) -> tuple[int | str, float]:
    start = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        conn.request("POST", "/invocations", body=body, headers={"Content-Type": content_type} if content_type else {})
        resp = conn.getresponse()
        resp.read()
        return resp.status, time.perf_counter() - start
    except OSError as exc:
        return type(exc).__name__, time.perf_counter() - start
    finally:
        conn.close()


def start_server(model_uri: str, port: int, extra: list[str]) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "gmmgen.tracking.serving", "--model-uri", model_uri, "--port", str(port), *extra]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/ping")
            if conn.getresponse().status == 200:
                return proc
        except OSError:
            time.sleep(0.2)
        if proc.poll() is not None:
            raise SystemExit(f"the server did not start: {proc.stderr.read().decode()[-2000:]}")
    proc.kill()
    raise SystemExit("the server did not come up in 180 s")


class Peak(threading.Thread):
    """Polls a process's RSS every 20 ms; ``peak`` in bytes."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.proc, self.peak, self.stop = psutil.Process(pid), 0, threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self.peak = max(self.peak, self.proc.memory_info().rss)
            except psutil.Error:
                return
            time.sleep(0.02)


def run_load(port: int, requests: int, seconds: float, clients: int) -> tuple[dict, float]:
    schedule = [kind for kind in MIX for _ in range(kind[1])]
    counter, lock = itertools.count(), threading.Lock()
    results: dict[str, list[tuple[int | str, float]]] = {kind[0]: [] for kind in MIX}
    deadline = time.monotonic() + seconds

    def client() -> None:
        while time.monotonic() < deadline:
            with lock:
                i = next(counter)
            if i >= requests:
                return
            name, _, body, content_type = schedule[i % len(schedule)]
            outcome = post(port, body(i), content_type)
            with lock:
                results[name].append(outcome)

    start = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results, time.perf_counter() - start


def table(results: dict, elapsed: float, rss: dict[str, float], args: argparse.Namespace) -> str:
    lines = ["| request | sent | answers | p50 ms | p99 ms |", "|---|---:|---|---:|---:|"]
    total, unexpected = 0, 0
    for name, outcomes in results.items():
        if not outcomes:
            continue
        total += len(outcomes)
        statuses: dict[str, int] = {}
        for status, _ in outcomes:
            statuses[str(status)] = statuses.get(str(status), 0) + 1
            if not isinstance(status, int) or (status >= 500 and status != 503):
                unexpected += 1
        ms = np.array([s for _, s in outcomes]) * 1000
        shown = ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items()))
        p50, p99 = np.percentile(ms, 50), np.percentile(ms, 99)
        lines.append(f"| {name} | {len(outcomes)} | {shown} | {p50:.0f} | {p99:.0f} |")
    lines += [
        "",
        f"{total} requests in {elapsed:.1f} s from {args.clients} clients: {total / elapsed:.1f} requests/s; "
        f"unexpected answers (5xx other than the bound's 503, dropped connections): {unexpected}",
        f"server RSS: {rss['idle']:.0f} MB idle after loading the model, peak {rss['peak']:.0f} MB under load, "
        f"{rss['after']:.0f} MB after (bound: {args.max_in_flight} digits in flight)",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-uri", help="a pyfunc digit generator (default: one fitted here on bundled MNIST)")
    parser.add_argument("--requests", type=int, default=400, help="requests in all (default 400)")
    parser.add_argument("--seconds", type=float, default=120, help="stop sending after this long (default 120)")
    parser.add_argument("--clients", type=int, default=16, help="concurrent client threads (default 16)")
    parser.add_argument("--max-in-flight", type=int, default=20000, help="the server's bound on digits in flight")
    parser.add_argument("--out", type=Path, help="also write the table here (markdown)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        model_uri = args.model_uri or build_model(Path(tmp))
        port = free_port()
        proc = start_server(model_uri, port, ["--max-in-flight", str(args.max_in_flight)])
        try:
            post(port, _records((16, 0)), "application/json")  # warm: the first prediction loads lazily
            mb = 1024 * 1024
            idle = psutil.Process(proc.pid).memory_info().rss / mb
            peak = Peak(proc.pid)
            peak.start()
            results, elapsed = run_load(port, args.requests, args.seconds, args.clients)
            peak.stop.set()
            peak.join()
            after = psutil.Process(proc.pid).memory_info().rss / mb
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    text = table(results, elapsed, {"idle": idle, "peak": max(peak.peak / mb, after), "after": after}, args)
    text += f"\n\nmachine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end"
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
