"""PCA between pixels and the mixture: fit, project, map back to images.

Features may live in any Array API namespace (see :mod:`gmmgen.core.compute`):
the PCA is then fitted and applied there by scikit-learn's own Array API
path, and comes back with attributes in that namespace.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.decomposition import PCA

from gmmgen.core.compute import dispatch_for, to_float, to_numpy, xp_of
from gmmgen.errors import ConfigError


def to_features(images: np.ndarray) -> np.ndarray:
    """Flatten uint8 images (n, h, w) to float64 rows scaled to [0, 1]."""
    return images.reshape(len(images), int(np.prod(images.shape[1:]))).astype(np.float64) / 255.0


def to_images(features: Any, shape: tuple[int, int]) -> np.ndarray:
    """Clip pixel rows (n, h*w) of any namespace to [0, 1]; numpy uint8 images (n, *shape)."""
    if isinstance(features, np.ndarray):
        clipped = np.clip(features, 0.0, 1.0)
        return np.rint(clipped * 255.0).astype(np.uint8).reshape(len(features), *shape)
    xp = xp_of(features)
    scaled = xp.round(xp.clip(features, 0.0, 1.0) * 255.0)  # round half to even, as np.rint
    return to_numpy(scaled).astype(np.uint8).reshape(int(features.shape[0]), *shape)


def fit_pca(
    x: Any,
    variance: float | None,
    n_components: int | None,
    whiten: bool,
    svd_solver: str = "full",
    seed: int = 0,
) -> PCA:
    """Fit PCA on rows ``x`` (n, p) keeping ``variance`` of the variance, or exactly ``n_components``.

    Raises
    ------
    ConfigError
        ``n_components`` exceeds min(n, p) (the message names the argument).
    """
    keep: float | int = n_components if n_components is not None else variance
    n_min = min(int(s) for s in x.shape)
    if isinstance(keep, float) and keep >= 1.0:
        keep = n_min  # sklearn wants an int for "everything"
    if isinstance(keep, int) and keep > n_min:
        raise ConfigError(f"n_components={keep}: must be at most min(n_samples, n_features) = {n_min}")
    with dispatch_for(x):
        return PCA(n_components=keep, whiten=whiten, svd_solver=svd_solver, random_state=seed).fit(x)


def project(pca: PCA, x: Any) -> Any:
    """``pca.transform(x)``, also of no rows: (0, q) zeros in ``x``'s namespace (scikit-learn refuses 0 rows)."""
    if int(x.shape[0]):
        return pca.transform(x)
    xp = xp_of(x)
    return xp.zeros((0, int(to_numpy(pca.n_components_))), dtype=x.dtype)


def summary(pca: PCA, x_train: Any, x_val: Any, x_test: Any) -> dict[str, Any]:
    """Dimensions kept, variance explained, and reconstruction error (mean squared, pixels in [0, 1])
    on train, validation and test, in the arrays' namespace.

    The test error is None when there are no test digits.
    """
    xp = xp_of(x_train)

    def mse(x: Any) -> float | None:
        if not int(x.shape[0]):
            return None
        with dispatch_for(x):
            return to_float(xp.mean((pca.inverse_transform(pca.transform(x)) - x) ** 2))

    return {
        "n_dims_in": int(pca.n_features_in_),
        "n_dims_kept": int(to_numpy(pca.n_components_)),
        "variance_explained": to_float(xp.sum(pca.explained_variance_ratio_)),
        "reconstruction_mse_train": mse(x_train),
        "reconstruction_mse_val": mse(x_val),
        "reconstruction_mse_test": mse(x_test),
    }
