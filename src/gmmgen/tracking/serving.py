"""``make serve``: the registered digit generator behind a small, bounded HTTP server (Starlette under uvicorn).

MLflow's own scoring server (``mlflow models serve``) caps the digits of one
request (the model does) but nothing across requests: eight concurrent
requests for 10,000 digits each took 1.7 GB, a 10 MB non-JSON body came back
echoed in a 400, a request without a content type got a 500, and error
messages carried a DataFrame's repr. Its options cannot bound any of that
from outside, so this module serves the same pyfunc model with the same API
(``GET /ping``, ``POST /invocations`` with ``{"dataframe_records": [...]}``,
``{"dataframe_split": ...}`` or ``{"inputs": [...]}``; answer
``{"predictions": [...]}``) and these bounds:

- **Digits in flight** across all requests at most ``max_in_flight``: a
  request that would pass it is refused at once, before any digit is drawn
  (HTTP 503, ``Retry-After: 1``). Connections at most ``max_connections``
  (uvicorn's ``limit_concurrency``: 503 past it).
- **Body size** at most ``max_body`` bytes (413), counted as it arrives.
- **Every malformed request** (any body, any or no content type) gets one
  JSON line ``{"error_code": ..., "message": "gmmgen: ..."}`` of at most
  :data:`MAX_MESSAGE` characters with a 4xx status; nothing of the body is
  echoed beyond a short quote; an unexpected error is a one-line 500 and the
  server log's one line, never a traceback to the client.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("gmmgen")

MAX_MESSAGE = 300  # characters of an error message, at most
JSON_TYPES = ("application/json",)


class Refused(Exception):
    """A request refused with ``status``, ``code`` and a one-line ``message``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code = status, code


def one_line(text: str, limit: int = MAX_MESSAGE) -> str:
    """``text`` on one line, at most ``limit`` characters (an ellipsis marks a cut)."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def error_body(code: str, message: str) -> bytes:
    text = one_line(message if message.startswith("gmmgen: ") else f"gmmgen: {message}")
    return json.dumps({"error_code": code, "message": text}).encode() + b"\n"


@dataclass(frozen=True)
class Limits:
    max_in_flight: int = 20000
    """Digits being drawn or sent at once, across every request."""
    max_body: int = 1_000_000
    """Bytes of one request body (10,000 rows of ``{"n": .., "seed": ..}`` take about 300 kB)."""
    max_connections: int = 32
    """Open connections and requests (uvicorn's ``limit_concurrency``)."""


def records_of(payload: Any) -> list[dict[str, Any]]:
    """The rows of a scoring request in any of MLflow's JSON forms; :class:`Refused` (400) for anything else."""
    if not isinstance(payload, dict):
        raise Refused(400, "BAD_REQUEST", f"the body must be a JSON object, got {type(payload).__name__}")
    if "dataframe_records" in payload or "inputs" in payload or "instances" in payload:
        key = next(k for k in ("dataframe_records", "inputs", "instances") if k in payload)
        rows = payload[key]
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise Refused(400, "BAD_REQUEST", f'{key} must be a list of objects like {{"n": 2, "seed": 0}}')
        return rows
    if "dataframe_split" in payload:
        split = payload["dataframe_split"]
        columns, data = (split.get("columns"), split.get("data")) if isinstance(split, dict) else (None, None)
        ok = isinstance(columns, list) and isinstance(data, list) and all(isinstance(c, str) for c in columns)
        if not ok or not all(isinstance(r, list) and len(r) == len(columns) for r in data):
            raise Refused(400, "BAD_REQUEST", "dataframe_split needs columns (names) and data (rows of that length)")
        return [dict(zip(columns, row, strict=True)) for row in data]
    keys = sorted(str(k)[:40] for k in payload)[:5]
    raise Refused(400, "BAD_REQUEST", f"send dataframe_records, dataframe_split or inputs; got keys {keys}")


def requested(rows: list[dict[str, Any]], max_digits: int) -> list[tuple[int, int]]:
    """``(n, seed)`` per row, checked by the model's own rules (:func:`gmmgen.tracking.generator.parse_requests`)."""
    from gmmgen.tracking.generator import parse_requests

    for i, row in enumerate(rows):
        missing = [c for c in ("n", "seed") if c not in row]
        if missing:
            raise Refused(
                400, "INVALID_PARAMETER_VALUE", f"row {i}: missing inputs {missing}; each row needs n and seed"
            )
    try:
        return parse_requests(rows, max_digits)
    except Exception as exc:  # MlflowException(INVALID_PARAMETER_VALUE) with one readable message
        raise Refused(400, "INVALID_PARAMETER_VALUE", str(getattr(exc, "message", exc))) from None


async def read_body(request: Any, limit: int) -> bytes:
    """The body, refused with 413 past ``limit`` bytes (by its Content-Length, or as it arrives)."""
    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > limit):
        raise Refused(
            413, "REQUEST_TOO_LARGE", f"the body may have at most {limit} bytes (Content-Length {length[:20]})"
        )
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise Refused(413, "REQUEST_TOO_LARGE", f"the body may have at most {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def parse_json(body: bytes, content_type: str | None) -> Any:
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind not in JSON_TYPES:
        shown = repr(kind[:40]) if kind else "none"
        raise Refused(415, "UNSUPPORTED_MEDIA_TYPE", f"send Content-Type: application/json (got {shown})")
    try:
        return json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise Refused(400, "MALFORMED_REQUEST", "the body is not UTF-8 text") from None
    except (json.JSONDecodeError, RecursionError) as exc:
        where = f" (line {exc.lineno} column {exc.colno})" if isinstance(exc, json.JSONDecodeError) else ""
        raise Refused(400, "MALFORMED_REQUEST", f"the body is not valid JSON{where}") from None


class Server:
    """The app's state: the model, its per-request cap, the limits and the digits in flight now."""

    def __init__(self, model: Any, limits: Limits) -> None:
        self.model, self.limits, self.in_flight = model, limits, 0
        python_model = model.unwrap_python_model() if hasattr(model, "unwrap_python_model") else model
        self.max_digits = int(getattr(python_model, "max_digits", 10_000))

    def predict(self, pairs: list[tuple[int, int]]) -> bytes:
        import orjson
        import pandas as pd

        frame = pd.DataFrame({"n": [n for n, _ in pairs], "seed": [s for _, s in pairs]})
        images = self.model.predict(frame)
        return orjson.dumps({"predictions": images}, option=orjson.OPT_SERIALIZE_NUMPY) + b"\n"

    async def invocations(self, request: Any) -> Any:
        from starlette.concurrency import run_in_threadpool
        from starlette.responses import Response

        try:
            body = await read_body(request, self.limits.max_body)
            pairs = requested(records_of(parse_json(body, request.headers.get("content-type"))), self.max_digits)
            digits = sum(n for n, _ in pairs)
            if self.in_flight + digits > self.limits.max_in_flight:
                raise Refused(
                    503,
                    "TEMPORARILY_UNAVAILABLE",
                    f"busy: {self.in_flight} digits in flight, this request's {digits} would pass the bound "
                    f"{self.limits.max_in_flight}; retry shortly",
                )
            self.in_flight += digits  # the event loop's thread only: no lock needed
            try:
                content = await run_in_threadpool(self.predict, pairs)
            finally:
                self.in_flight -= digits
        except Refused as refused:
            headers = {"Retry-After": "1"} if refused.status == 503 else None
            return Response(error_body(refused.code, str(refused)), refused.status, headers, "application/json")
        except Exception as exc:  # a bug: one line in the log and to the client, no traceback
            log.error("serving error: %s", one_line(f"{type(exc).__name__}: {exc}"))
            return Response(
                error_body("INTERNAL_ERROR", "internal error (see the server log)"), 500, None, "application/json"
            )
        return Response(content, 200, None, "application/json")


def app(model: Any, limits: Limits | None = None) -> Any:
    """The Starlette app serving ``model`` (a loaded pyfunc model) with ``limits``."""
    from starlette.applications import Starlette
    from starlette.responses import Response
    from starlette.routing import Route

    server = Server(model, limits or Limits())

    async def ping(request: Any) -> Any:
        return Response(b"\n", 200, None, "application/json")

    async def not_found(request: Any, exc: Exception) -> Any:
        status = getattr(exc, "status_code", 404)
        return Response(
            error_body(
                "NOT_FOUND", f"{request.method} {request.url.path[:60]}: no such endpoint; POST /invocations, GET /ping"
            ),
            status,
            None,
            "application/json",
        )

    routes = [
        Route("/ping", ping, methods=["GET"]),
        Route("/health", ping, methods=["GET"]),
        Route("/invocations", server.invocations, methods=["POST"]),
    ]
    return Starlette(routes=routes, exception_handlers={404: not_found, 405: not_found})


def save_model(folder: Any, pca: Any, gmm: Any, image_shape: tuple[int, int], max_digits: int) -> str:
    """Save a fitted PCA + GMM as the digit generator's pyfunc model in ``folder`` (for tests and bench/load.py)."""
    import tempfile
    from pathlib import Path

    import joblib
    import mlflow.pyfunc

    from gmmgen.tracking.generator import DigitGenerator

    with tempfile.TemporaryDirectory() as tmp:
        artifacts = {"pca": f"{tmp}/pca.joblib", "gmm": f"{tmp}/gmm.joblib", "meta": f"{tmp}/meta.json"}
        joblib.dump(pca, artifacts["pca"])
        joblib.dump(gmm, artifacts["gmm"])
        Path(artifacts["meta"]).write_text(json.dumps({"image_shape": list(image_shape), "max_digits": max_digits}))
        mlflow.pyfunc.save_model(str(folder), python_model=DigitGenerator(), artifacts=artifacts, pip_requirements=[])
    return str(folder)


def main(argv: list[str] | None = None) -> int:
    """``python -m gmmgen.tracking.serving --model-uri URI [--host H] [--port P] [limits]``."""
    parser = argparse.ArgumentParser(prog="python -m gmmgen.tracking.serving", description=__doc__.splitlines()[0])
    parser.add_argument("--model-uri", required=True, help="models:/<name>@<alias>, models:/<name>/<version>, a path")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5001)
    for name, default in (
        ("max-in-flight", Limits.max_in_flight),
        ("max-body", Limits.max_body),
        ("max-connections", Limits.max_connections),
    ):
        parser.add_argument(f"--{name}", type=int, default=default)
    args = parser.parse_args(argv)
    import mlflow.pyfunc
    import uvicorn

    limits = Limits(args.max_in_flight, args.max_body, args.max_connections)
    try:
        model = mlflow.pyfunc.load_model(args.model_uri)
    except Exception as exc:  # no such model, version or alias; an unreachable store
        print(f"gmmgen: tracking error: cannot load {args.model_uri}: {one_line(str(exc))}", file=sys.stderr)
        return 6
    print(
        f"serving {args.model_uri} on http://{args.host}:{args.port}/invocations "
        f"(at most {limits.max_in_flight} digits in flight, {limits.max_body} bytes a body)",
        flush=True,
    )
    uvicorn.run(
        app(model, limits),
        host=args.host,
        port=args.port,
        limit_concurrency=limits.max_connections,
        timeout_keep_alive=5,
        log_level="warning",
        access_log=False,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
