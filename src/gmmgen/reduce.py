"""PCA between pixels and the mixture: fit, project, map back to images."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.decomposition import PCA


def to_features(images: np.ndarray) -> np.ndarray:
    """Flatten uint8 images (n, h, w) to float64 rows scaled to [0, 1]."""
    return images.reshape(len(images), int(np.prod(images.shape[1:]))).astype(np.float64) / 255.0


def to_images(features: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Clip pixel rows to [0, 1] and turn them into uint8 images of ``shape``."""
    clipped = np.clip(features, 0.0, 1.0)
    return np.rint(clipped * 255.0).astype(np.uint8).reshape(len(features), *shape)


def fit_pca(
    x: np.ndarray,
    variance: float | None,
    n_components: int | None,
    whiten: bool,
    svd_solver: str = "full",
    seed: int = 0,
) -> PCA:
    """Fit PCA keeping ``variance`` of the variance, or exactly ``n_components``."""
    keep: float | int = n_components if n_components is not None else variance
    if isinstance(keep, float) and keep >= 1.0:
        keep = min(x.shape)  # sklearn wants an int for "everything"
    if isinstance(keep, int) and keep > min(x.shape):
        raise ValueError(f"pca.n_components={keep}: must be at most min(n_samples, n_features) = {min(x.shape)}")
    return PCA(n_components=keep, whiten=whiten, svd_solver=svd_solver, random_state=seed).fit(x)


def summary(pca: PCA, x_train: np.ndarray, x_val: np.ndarray, x_test: np.ndarray) -> dict[str, Any]:
    """Dimensions kept, variance explained, and reconstruction error on train, validation and test.

    The test error is None when there are no test digits.
    """

    def mse(x: np.ndarray) -> float | None:
        if not len(x):
            return None
        return float(np.mean((pca.inverse_transform(pca.transform(x)) - x) ** 2))

    return {
        "n_dims_in": int(pca.n_features_in_),
        "n_dims_kept": int(pca.n_components_),
        "variance_explained": float(np.sum(pca.explained_variance_ratio_)),
        "reconstruction_mse_train": mse(x_train),
        "reconstruction_mse_val": mse(x_val),
        "reconstruction_mse_test": mse(x_test),
    }
