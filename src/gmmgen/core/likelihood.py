"""The exact log-likelihood of pixels under PCA + Gaussian mixture + isotropic residual noise.

One yardstick for any two runs, whatever their PCA setting: a true density on
the D pixel values (probabilistic PCA with a mixture in the kept directions).
A pixel row ``x`` (D values, pixels scaled to [0, 1] as ``pixel / 255``) splits
into its PCA coordinates and the part PCA discards:

- ``z = S^-1 W (x - mu)``: the q kept coordinates (``W`` the q x D orthonormal
  components, ``S = diag(sqrt(lambda))`` when whitened, the identity if not),
  scored by the mixture;
- ``r = (I - W^T W)(x - mu)``: the residual in the other D - q directions,
  scored as isotropic Gaussian noise N(0, sigma^2) per direction.

Because ``[W; U]`` (U any orthonormal basis of the discarded directions) is a
rotation, the change of variables costs only the whitening Jacobian::

    log p(x) = log p_mix(z) - sum_j log S_jj
               - (D - q)/2 * log(2 pi sigma^2) - |r|^2 / (2 sigma^2)

``sigma^2`` is the maximum-likelihood value of probabilistic PCA, the mean of
the D - q discarded eigenvalues of the training covariance, floored at
:data:`SIGMA2_FLOOR` (the variance of uniform quantisation noise of one 8-bit
level, ``1 / (12 * 255^2)``): no residual can honestly be sharper than the
pixels' own quantisation. Equivalently the density is the mixture of D-dim
Gaussians ``N(mu + W^T S m_k, W^T S C_k S W + sigma^2 (I - W^T W))``.

For 8-bit images the reported number uses the convention of density models of
images: uniform dequantization (``v = pixel + u``, ``u ~ U[0, 1)``, 256 levels)
and ``-log p(v)`` in nats per image, or divided by ``D ln 2`` in bits per
pixel. That is a bound on the negative log-probability of the discrete image
(lower is better), defined for any PCA setting, component count and
covariance type as long as the images are the same. It is dominated by the
residual term (:func:`nll_split`): K and the covariance type move only the
mixture term, and across PCA settings the residual moves far more than the
mixture, so there it ranks the residual model. :mod:`gmmgen.core.baselines`
places it beside an independent-pixel histogram and the single Gaussian.

Plain array code (arrays in, arrays out), with parameters held in a
:class:`PixelDensity`; :func:`from_sklearn` builds one from a fitted
``sklearn.decomposition.PCA`` and ``sklearn.mixture.GaussianMixture``. The
arithmetic runs in the namespace of the arrays it is given: numpy's own
functions on numpy arrays (float64, as always), the Array API standard on any
other namespace (PyTorch or CuPy on a GPU, ``array_api_strict`` in tests),
where results stay, in the estimators' dtype, until the caller takes them to
numpy (:func:`gmmgen.core.compute.to_numpy`). Only :func:`dequantize` draws on
numpy's seeded generator, and :func:`nll_8bit` moves its rows to the density's
namespace.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from gmmgen.core.compute import like, xp_of

#: Floor of the residual variance, in squared [0, 1]-pixel units: one 8-bit level's uniform noise.
SIGMA2_FLOOR = 1.0 / (12.0 * 255.0**2)
#: Pixel levels of 8-bit images (uniform dequantization over 256 levels).
LEVELS = 256
#: Feature scale: a pixel value p is the feature p / PIXEL_SCALE.
PIXEL_SCALE = 255.0


@dataclass(frozen=True)
class PixelDensity:
    """Parameters of the pixel density: PCA, the mixture in its coordinates, the residual noise.

    Attributes
    ----------
    The arrays all belong to one namespace (numpy float64 from numpy estimators).

    mean : (D,) pixel mean ``mu``.
    components : (q, D) orthonormal PCA directions ``W``.
    scale : (q,) ``S_jj``: sqrt of the kept eigenvalues when whitened, ones if not.
    sigma2 : residual variance per discarded direction (squared pixel units, [0, 1] scale);
        unused when q == D.
    weights : (K,) mixture weights.
    means : (K, q) component means in PCA coordinates.
    precisions_cholesky : Cholesky factors of the precisions, by ``covariance_type``:
        full (K, q, q), tied (q, q), diag (K, q), spherical (K,) (scikit-learn's layout).
    covariance_type : 'full', 'tied', 'diag' or 'spherical'.
    """

    mean: Any
    components: Any
    scale: Any
    sigma2: float
    weights: Any
    means: Any
    precisions_cholesky: Any
    covariance_type: str

    @property
    def n_features(self) -> int:
        """D, the number of pixels."""
        return int(self.components.shape[1])

    @property
    def n_kept(self) -> int:
        """q, the PCA coordinates the mixture lives in."""
        return int(self.components.shape[0])


def residual_variance(explained_variance: Any, total_variance: float, n_features: int) -> float:
    """Probabilistic PCA's sigma^2: mean discarded eigenvalue over D - q directions, floored.

    Parameters
    ----------
    explained_variance : (q,) kept eigenvalues of the training covariance (any namespace).
    total_variance : trace of the training covariance (sum of all D eigenvalues).
    n_features : D.

    Returns
    -------
    ``max((total - sum(kept)) / (D - q), SIGMA2_FLOOR)``, or SIGMA2_FLOOR when q == D.
    """
    q = int(explained_variance.shape[0])
    if q >= n_features:
        return SIGMA2_FLOOR
    xp = xp_of(explained_variance)
    rest = (float(total_variance) - float(xp.sum(explained_variance))) / (n_features - q)
    return max(rest, SIGMA2_FLOOR)


def from_sklearn(pca: Any, gmm: Any) -> PixelDensity:
    """A :class:`PixelDensity` from a fitted scikit-learn PCA and GaussianMixture (fitted on ``pca.transform``).

    The total variance comes from ``explained_variance_ / explained_variance_ratio_``,
    so sigma^2 averages over all D - q discarded directions (also when there
    were fewer training rows than pixels). Numpy estimators give float64 numpy
    arrays; estimators moved to another namespace (:meth:`gmmgen.core.compute.Compute.estimator`)
    keep their arrays there, in their dtype; both must be in the same one.
    """
    on_numpy = xp_of(pca.components_, gmm.means_) is np

    def arr(a: Any) -> Any:
        return np.asarray(a, dtype=np.float64) if on_numpy else a

    ev, ratio = arr(pca.explained_variance_), arr(pca.explained_variance_ratio_)
    xp = xp_of(ev)
    total = float(ev[0] / ratio[0]) if float(ratio[0]) > 0 else float(xp.sum(ev))
    d = int(pca.n_features_in_)
    scale = xp.sqrt(ev) if pca.whiten else xp.ones_like(ev)
    return PixelDensity(
        mean=arr(pca.mean_),
        components=arr(pca.components_),
        scale=scale,
        sigma2=residual_variance(ev, total, d),
        weights=arr(gmm.weights_),
        means=arr(gmm.means_),
        precisions_cholesky=arr(gmm.precisions_cholesky_),
        covariance_type=str(gmm.covariance_type),
    )


def _logsumexp(xp: Any, a: Any, axis: int) -> Any:
    top = xp.max(a, axis=axis, keepdims=True)
    top = xp.where(xp.isfinite(top), top, xp.zeros_like(top))
    return xp.squeeze(top, axis=axis) + xp.log(xp.sum(xp.exp(a - top), axis=axis))


def _diagonal(xp: Any, a: Any) -> Any:
    return np.diagonal(a) if xp is np else xp.linalg.diagonal(a)


def mixture_log_density(density: PixelDensity, z: Any) -> Any:
    """Log density of the mixture at PCA coordinates ``z``, in the namespace of ``z`` and the density.

    Parameters
    ----------
    z : (n, q) coordinates (whitened if the PCA was).

    Returns
    -------
    (n,) log densities in nats, with respect to Lebesgue measure on the q coordinates.

    Raises
    ------
    ValueError : the density's covariance type is none of full, tied, diag, spherical.
    """
    xp = xp_of(z, density.means)
    q = z.shape[1]
    kind, chol = density.covariance_type, density.precisions_cholesky
    k = density.weights.shape[0]
    columns = []
    for j in range(k):
        diff = z - density.means[j, ...]
        if kind == "full":
            y, log_det = diff @ chol[j, ...], xp.sum(xp.log(_diagonal(xp, chol[j, ...])))
        elif kind == "tied":
            y, log_det = diff @ chol, xp.sum(xp.log(_diagonal(xp, chol)))
        elif kind == "diag":
            y, log_det = diff * chol[j, ...], xp.sum(xp.log(chol[j, ...]))
        elif kind == "spherical":
            y, log_det = diff * chol[j], q * xp.log(chol[j])
        else:
            raise ValueError(f"covariance_type={kind!r}: must be full, tied, diag or spherical")
        columns.append(-0.5 * (q * math.log(2 * math.pi) + xp.sum(y * y, axis=1)) + log_det)
    log_prob = xp.stack(columns, axis=1)
    return _logsumexp(xp, log_prob + xp.log(density.weights), axis=1)


def project(density: PixelDensity, x: Any) -> tuple[Any, Any]:
    """PCA coordinates and the squared residual norm of pixel rows (in the namespace of ``x``).

    Parameters
    ----------
    x : (n, D) pixel rows on the [0, 1] scale, in the density's namespace.

    Returns
    -------
    z : (n, q) coordinates (divided by ``scale``).
    residual_sq : (n,) ``|(I - W^T W)(x - mu)|^2`` in squared pixel units.
    """
    xp = xp_of(x, density.mean)
    centred = x - density.mean
    coords = centred @ density.components.T
    rest = centred - coords @ density.components
    return coords / density.scale, xp.sum(rest * rest, axis=1)


def pixel_offset(density: PixelDensity, residual_sq: Any) -> Any:
    """What turns the mixture's log density in PCA coordinates into one on pixels.

    ``-sum(log scale) - (D - q)/2 log(2 pi sigma^2) - residual_sq / (2 sigma^2)``, per row (n,), in nats.
    It does not depend on the mixture, so it can be added to any mixture's
    ``score_samples`` on the same coordinates.
    """
    xp = xp_of(residual_sq, density.scale)
    rest_dims = density.n_features - density.n_kept
    out = -xp.sum(xp.log(density.scale)) * xp.ones_like(residual_sq)
    if rest_dims > 0:
        out = out - 0.5 * rest_dims * math.log(2 * math.pi * density.sigma2) - residual_sq / (2 * density.sigma2)
    return out


def pixel_terms(density: PixelDensity, residual_sq: Any) -> tuple[Any, Any]:
    """The two mixture-free parts of the 8-bit NLL, in nats per image: the whitening Jacobian and the residual term.

    With pixels in 8-bit levels (``v = 255 x``) the NLL of a dequantized digit splits exactly as
    ``-log p_mix(z) + jacobian + residual`` (:func:`nll_split`):

    - ``jacobian = sum_j log(255 S_jj)``: the change of variables from levels to the (whitened) coordinates, a
      scalar (q log 255 when not whitened);
    - ``residual = (D - q)/2 log(2 pi sigma^2 255^2) + residual_sq / (2 sigma^2)``: the isotropic Gaussian's NLL
      of the discarded part, in levels, per row (n,) (zeros when q == D).

    Returns ``(jacobian, residual)`` in the namespace of ``residual_sq``.
    """
    xp = xp_of(residual_sq, density.scale)
    jacobian = xp.sum(xp.log(PIXEL_SCALE * density.scale))
    rest_dims = density.n_features - density.n_kept
    if rest_dims <= 0:
        return jacobian, xp.zeros_like(residual_sq)
    const = 0.5 * rest_dims * math.log(2 * math.pi * density.sigma2 * PIXEL_SCALE**2)
    return jacobian, const + residual_sq / (2 * density.sigma2)


def nll_split(density: PixelDensity, x: Any) -> dict[str, Any]:
    """The negative log-likelihood of dequantized 8-bit rows split into its three terms, per row, in nats.

    ``x`` (n, D): rows on the [0, 1] scale (:func:`dequantize`). Returns ``{"mixture": (n,), "jacobian": (n,),
    "residual": (n,), "total": (n,)}`` with ``mixture + jacobian + residual == total ==
    -discrete_log_likelihood(log_density(density, x), D)`` (to rounding). The mixture term is the only one K,
    the covariance type or the mixture's fit change; the other two depend on the PCA alone (:func:`pixel_terms`).
    """
    z, residual_sq = project(density, x)
    xp = xp_of(residual_sq)
    jacobian, residual = pixel_terms(density, residual_sq)
    mixture = -mixture_log_density(density, z)
    jacobian = jacobian * xp.ones_like(residual_sq)
    return {"mixture": mixture, "jacobian": jacobian, "residual": residual, "total": mixture + jacobian + residual}


def log_density(density: PixelDensity, x: Any) -> Any:
    """Exact log density of pixel rows ``x`` (n, D) on the [0, 1] scale: (n,) nats per row.

    Runs in the namespace of ``x`` and the density (they must agree) and returns there.
    """
    z, residual_sq = project(density, x)
    return mixture_log_density(density, z) + pixel_offset(density, residual_sq)


def dequantize(images: np.ndarray, seed: int) -> np.ndarray:
    """Uniformly dequantized pixel rows: ``(pixel + u) / 255`` with ``u ~ U[0, 1)``, seeded.

    Parameters
    ----------
    images : (n, h, w) uint8 images.
    seed : seed of the uniform noise (the same seed gives the same rows).

    Returns
    -------
    (n, h*w) float64 rows on the model's [0, 1] feature scale (up to 256/255).
    """
    flat = images.reshape(len(images), int(np.prod(images.shape[1:]))).astype(np.float64)
    u = np.random.default_rng(seed).random(flat.shape)
    return (flat + u) / PIXEL_SCALE


def discrete_log_likelihood(log_density_feature: Any, n_pixels: int) -> Any:
    """Log-likelihood (nats per image) of the dequantized 8-bit image from the feature-scale density.

    The density of ``v = pixel + u`` is ``p(v / 255) / 255^D``, so
    ``log p(v) = log p_feature - D log 255`` (n,). Its negative is the usual
    "nats per image" of density models on 8-bit images.
    """
    return log_density_feature - n_pixels * math.log(PIXEL_SCALE)


def bits_per_pixel(nats_per_image: np.ndarray | float, n_pixels: int) -> np.ndarray | float:
    """Nats per image to bits per pixel: divide by ``D ln 2``."""
    return nats_per_image / (n_pixels * math.log(2.0))


def nll_8bit(density: PixelDensity, images: np.ndarray, seed: int) -> dict[str, float]:
    """Mean negative log-likelihood of 8-bit images under uniform dequantization.

    Parameters
    ----------
    images : (n, h, w) uint8 images (n >= 1), numpy.
    seed : seed of the dequantization noise (drawn by numpy, then moved to the density's namespace).

    Returns
    -------
    ``{"nats_per_image": ..., "bits_per_pixel": ...}`` (lower is better), Python floats.
    """
    d = density.n_features
    x = like(dequantize(images, seed), density.mean)
    ll = discrete_log_likelihood(log_density(density, x), d)
    xp = xp_of(ll)
    nats = float(-xp.mean(ll))
    return {"nats_per_image": nats, "bits_per_pixel": float(bits_per_pixel(nats, d))}
