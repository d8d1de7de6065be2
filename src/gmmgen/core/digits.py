"""What every digit source returns (:class:`Digits`) and the check its images and labels pass."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from gmmgen.errors import DataError


@dataclass
class Digits:
    """A train pool and a test pool of uint8 digit images with labels."""

    x_train: np.ndarray | None
    y_train: np.ndarray | None
    x_test: np.ndarray | None
    y_test: np.ndarray | None
    source: str
    origin: str
    files: dict[str, str] = field(default_factory=dict)
    note: str = ""
    test_origin: str = ""


def check_images_labels(images: np.ndarray, labels: np.ndarray, what: str) -> None:
    """Check that images are (n, h, w) uint8 and labels are n digits 0-9."""
    if images.ndim != 3 or images.dtype != np.uint8:
        raise DataError(f"{what}: images must be uint8 (n, h, w), got {images.dtype} {images.shape}")
    if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
        raise DataError(f"{what}: {images.shape[0]} images but labels of shape {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise DataError(f"{what}: labels outside 0-9 ({labels.min()}..{labels.max()})")
