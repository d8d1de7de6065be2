"""Issue 11, case 2: a downloaded file that fails any check leaves the cache, so a fixed mirror works next time."""

from __future__ import annotations

import gzip
import subprocess

import numpy as np
import pytest

from gmmgen.core import data
from gmmgen.core.data import DataError

from .conftest import REPO, fake_digits, idx_bytes, write_idx_folder, write_npz


def _zero_bytes(folder):
    (folder / "t10k-images-idx3-ubyte.gz").write_bytes(b"")
    return "t10k-images-idx3-ubyte.gz", "too short"


def _wrong_magic(folder):
    raw = bytearray(gzip.decompress((folder / "t10k-labels-idx1-ubyte.gz").read_bytes()))
    raw[2] = 0x07  # no such IDX element type
    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(bytes(raw), mtime=0))
    return "t10k-labels-idx1-ubyte.gz", "bad IDX magic"


def _count_mismatch(folder):
    _, labels = fake_digits(7, 9)
    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(labels), mtime=0))
    return "t10k-labels-idx1-ubyte.gz", "30 images but labels"


@pytest.mark.parametrize("spoil", [_zero_bytes, _wrong_magic, _count_mismatch])
def test_idx_file_failing_a_check_is_not_reused_after_the_mirror_is_fixed(tmp_path, spoil):
    mirror, cache = tmp_path / "mirror", tmp_path / "cache"
    arrays = write_idx_folder(mirror)
    good = {p.name: p.read_bytes() for p in mirror.iterdir()}
    name, message = spoil(mirror)
    with pytest.raises(DataError, match=message) as info:
        data.download_mnist([str(mirror)], cache, None, {}, 5)
    assert "deleted from the download cache" in str(info.value)
    assert not list(cache.rglob(name)), f"the bad {name} stayed in the cache"
    (mirror / name).write_bytes(good[name])  # the mirror is fixed
    digits, _ = data.download_mnist([str(mirror)], cache, None, {}, 5)
    np.testing.assert_array_equal(digits.y_test, arrays["t10k-labels-idx1-ubyte"])
    assert digits.x_test.shape == (30, 28, 28)


def test_unreadable_npz_without_a_hash_is_not_reused_after_the_mirror_is_fixed(tmp_path):
    mirror, cache = tmp_path / "mirror", tmp_path / "cache"
    arrays = write_npz(mirror / "mnist.npz")
    good = (mirror / "mnist.npz").read_bytes()
    (mirror / "mnist.npz").write_bytes(good[: len(good) // 2])
    with pytest.raises(DataError, match="not a readable mnist.npz"):
        data.download_mnist([str(mirror / "mnist.npz")], cache, None, {}, 5)
    assert not list(cache.rglob("mnist.npz"))
    (mirror / "mnist.npz").write_bytes(good)
    digits, _ = data.download_mnist([str(mirror / "mnist.npz")], cache, None, {}, 5)
    np.testing.assert_array_equal(digits.x_train, arrays["x_train"])


def test_make_clean_says_what_it_keeps_and_clean_cache_clears_only_downloads(tmp_path):
    (tmp_path / "Makefile").write_bytes((REPO / "Makefile").read_bytes())
    (tmp_path / "src").symlink_to(REPO / "src")  # make clean reads the file map, src/gmmgen/pipeline/files.py
    out = tmp_path / "outputs"
    kept = ["mlflow.db", "mlartifacts/1/x.png", "cache/datasets/abc/mnist.npz", "cache/classifier/k/model.keras"]
    removed = ["data/dataset.npz", "select/model.joblib", "logs/data/data.log", "multirun/x/0/a.txt"]
    for rel in kept + removed:
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_text("x")
    clean = subprocess.run(["make", "clean"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert clean.returncode == 0, clean.stderr
    assert all((out / rel).exists() for rel in kept) and not any((out / rel).exists() for rel in removed)
    said = clean.stdout
    assert "kept" in said and "mlflow.db" in said and "cache/datasets" in said and "make clean-cache" in said
    cache = subprocess.run(["make", "clean-cache"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert cache.returncode == 0, cache.stderr
    assert not (out / "cache" / "datasets").exists()
    assert (out / "cache" / "classifier" / "k" / "model.keras").exists() and (out / "mlflow.db").exists()
