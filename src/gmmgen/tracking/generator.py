"""The fitted PCA + GMM as one MLflow pyfunc model: a digit generator.

Input: a table with integer columns ``n`` (how many digits, >= 1) and
``seed`` (>= 0); output: uint8 images of shape (sum of n, height, width), drawn
as the generate stage draws. A request asking for more than ``max_digits``
digits in total, or with a non-integer or out-of-range value, is refused with
one readable message (HTTP 400 when served), never a stack trace.
"""

from __future__ import annotations

import json
import numbers
from typing import Any

import mlflow.pyfunc
import numpy as np

MAX_SEED = 2**63 - 1
PIXEL_BLOCK = 1000  # digits mapped back to pixels at a time (row by row the same numbers as all at once)


def _bad_request(message: str) -> Exception:
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

    return MlflowException(f"gmmgen: {message}", error_code=INVALID_PARAMETER_VALUE)


def _shown(value: Any, limit: int = 40) -> str:
    """``repr(value)``, cut to ``limit`` characters: a message never echoes a long input."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _integer(value: Any, name: str, row: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or value != value or int(value) != value:
        raise _bad_request(f"row {row}: {name}={_shown(value)} must be an integer")
    return int(value)


def parse_requests(rows: list[dict[str, Any]], max_digits: int) -> list[tuple[int, int]]:
    """``(n, seed)`` per row, checked: integers, n >= 1, 0 <= seed < 2**63, sum of n <= ``max_digits``.

    Raises MlflowException (INVALID_PARAMETER_VALUE, served as HTTP 400) naming the first problem.
    """
    if not rows:
        raise _bad_request("the request has no rows; send rows of {n, seed}")
    parsed = []
    for i, row in enumerate(rows):
        if "n" not in row or "seed" not in row:
            raise _bad_request(f"row {i}: needs the columns n and seed, got {_shown(sorted(row))}")
        n, seed = _integer(row["n"], "n", i), _integer(row["seed"], "seed", i)
        if not 1 <= n <= max_digits:
            raise _bad_request(f"row {i}: n={n} must be between 1 and {max_digits}")
        if not 0 <= seed <= MAX_SEED:
            raise _bad_request(f"row {i}: seed={seed} must be between 0 and {MAX_SEED}")
        parsed.append((n, seed))
    total = sum(n for n, _ in parsed)
    if total > max_digits:
        raise _bad_request(f"the request asks for {total} digits in total; at most {max_digits} per request")
    return parsed


class DigitGenerator(mlflow.pyfunc.PythonModel):
    """Draw digits from a Gaussian mixture in PCA space and map them back to pixels."""

    def load_context(self, context: Any) -> None:
        import joblib

        self.pca = joblib.load(context.artifacts["pca"])
        self.gmm = joblib.load(context.artifacts["gmm"])
        with open(context.artifacts["meta"]) as fh:
            meta = json.load(fh)
        self.shape = tuple(meta["image_shape"])
        self.max_digits = int(meta.get("max_digits", 10_000))

    # No type hints on predict: MLflow would read them as a schema; the signature is logged instead.
    def predict(self, context, model_input, params=None):  # noqa: ANN001, ANN201
        from gmmgen.core import reduce, sampling

        rows = model_input.to_dict("records") if hasattr(model_input, "to_dict") else list(model_input)
        pairs = parse_requests(rows, self.max_digits)
        images = np.empty((sum(n for n, _ in pairs), *self.shape), np.uint8)
        start = 0
        for n, seed in pairs:
            z, _ = sampling.draw(self.gmm, n, seed)  # as gmmgen.core.sampling.generate_images draws
            # Back to pixels a block of rows at a time: the float64 temporaries stay a few MB, not 8 bytes a pixel.
            for i in range(0, n, PIXEL_BLOCK):
                block = self.pca.inverse_transform(z[i : i + PIXEL_BLOCK])
                images[start + i : start + i + len(block)] = reduce.to_images(block, self.shape)
            start += n
        return images
