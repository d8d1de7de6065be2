"""The fitted PCA + GMM as one MLflow pyfunc model: a digit generator.

Input: a table with columns ``n`` (how many digits) and ``seed``; output: uint8
images of shape (sum of n, height, width), drawn as the generate stage draws.
"""

from __future__ import annotations

import json
from typing import Any

import mlflow.pyfunc
import numpy as np


class DigitGenerator(mlflow.pyfunc.PythonModel):
    """Draw digits from a Gaussian mixture in PCA space and map them back to pixels."""

    def load_context(self, context: Any) -> None:
        import joblib

        self.pca = joblib.load(context.artifacts["pca"])
        self.gmm = joblib.load(context.artifacts["gmm"])
        with open(context.artifacts["meta"]) as fh:
            self.shape = tuple(json.load(fh)["image_shape"])

    # No type hints on predict: MLflow would read them as a schema; the signature is logged instead.
    def predict(self, context, model_input, params=None):  # noqa: ANN001, ANN201
        from gmmgen.stages import generate_images

        rows = model_input.to_dict("records") if hasattr(model_input, "to_dict") else list(model_input)
        batches = []
        for row in rows:
            n, seed = int(row["n"]), int(row["seed"])
            if n <= 0 or n > 10_000:
                raise ValueError(f"n={n}: must be between 1 and 10000")
            if seed < 0:
                raise ValueError(f"seed={seed}: must be >= 0")
            batches.append(generate_images(self.pca, self.gmm, n, seed, self.shape)[0])
        return np.concatenate(batches)
