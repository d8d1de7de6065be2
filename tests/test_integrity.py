"""Configured hashes and label checks hold on the path `make run` takes.

`make run` -> `dvc repro` -> pipelines/stage.py data -> ``run_data`` ->
``data.obtain``. These tests drive ``run_data`` with a config composed like
the entry point's, so a hash in ``data.idx_sha256`` or ``data.npz_sha256``
that is dropped anywhere on the way lets a wrong file through and fails here.
"""

from __future__ import annotations

import gzip
import hashlib
import json

import numpy as np
import pytest

from gmmgen.core import data
from gmmgen.core.data import DataError
from gmmgen.core.io import load_arrays
from gmmgen.pipeline.stages.data import run_data
from gmmgen.runtime.cli import EXIT_DATA
from gmmgen.runtime.validation import validate

from .conftest import REPO, closed_port, compose_cfg, idx_bytes, run_py, write_idx_folder, write_npz


def _cfg(tmp_path, *overrides):
    cfg = compose_cfg(tmp_path, list(overrides))
    validate(cfg)
    return cfg


def _digest(array: np.ndarray) -> str:
    return hashlib.sha256(idx_bytes(array)).hexdigest()


def test_configured_idx_hash_rejects_a_wrong_file_through_the_stage(tmp_path):
    """The default config's t10k hashes (the real MNIST test set) reject fake t10k files."""
    folder = tmp_path / "mirror"
    write_idx_folder(folder)
    cfg = _cfg(tmp_path, f"data.origins=[{folder}]", "data.source=download")
    assert cfg.data.idx_sha256["t10k-images-idx3-ubyte"].startswith("0fa7898d")
    with pytest.raises(DataError, match=r"t10k-images-idx3-ubyte: decompressed sha256 \w+ != expected 0fa7898d"):
        run_data(cfg)
    assert not (tmp_path / "outputs" / "data").exists(), "a rejected download left a data folder"
    assert not list((tmp_path / "outputs" / "cache").rglob("t10k-images-idx3-ubyte.gz")), "wrong file kept in cache"


def test_configured_idx_hashes_accept_the_right_files_through_the_stage(tmp_path):
    """The same path with the right hashes configured: the files pass and provenance records the hashes."""
    folder = tmp_path / "mirror"
    arrays = write_idx_folder(folder, n_train=600, n_test=20)  # room for a validation split too
    hashes = {name: _digest(a) for name, a in arrays.items()}
    cfg = _cfg(
        tmp_path,
        f"data.origins=[{folder}]",
        "data.source=download",
        "data.n_train=30",
        "data.n_test=null",
        *[f"++data.idx_sha256.{name}={h}" for name, h in hashes.items()],
    )
    out = run_data(cfg)
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["files_sha256"] == hashes and prov["source"] == "download"
    np.testing.assert_array_equal(load_arrays(out / "dataset.npz")["y_test"], arrays["t10k-labels-idx1-ubyte"])


def test_a_configured_train_hash_is_enforced_too(tmp_path):
    """Hashes are checked for every configured file, not only the test files the default config names."""
    folder = tmp_path / "mirror"
    arrays = write_idx_folder(folder)
    hashes = {name: _digest(a) for name, a in arrays.items()}
    hashes["train-labels-idx1-ubyte"] = "f" * 64
    cfg = _cfg(
        tmp_path,
        f"data.origins=[{folder}]",
        "data.source=download",
        *[f"++data.idx_sha256.{name}={h}" for name, h in hashes.items()],
    )
    with pytest.raises(DataError, match=r"train-labels-idx1-ubyte: decompressed sha256 \w+ != expected f{64}"):
        run_data(cfg)


def test_auto_mode_does_not_take_test_digits_from_a_folder_that_fails_its_hash(tmp_path, caplog):
    """Offline default run: a wrong t10k folder is refused, the run falls back loudly and says why."""
    folder = tmp_path / "t10k-only"
    write_idx_folder(folder, n_train=10, n_test=40)
    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"):
        (folder / name).unlink()
    cfg = _cfg(tmp_path, f"data.origins=[http://127.0.0.1:{closed_port()}/mnist.npz,{folder}]")
    out = run_data(cfg)
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["source"] == "bundled" and prov["fallback"] is True
    assert prov["dataset"] == "mnist" and prov["requested_source"] == "auto"
    assert prov["test_origin"] != str(folder) and prov["pool_sizes"]["test"] == 0
    runtime = json.loads((out / "runtime.json").read_text())  # why: not in the file DVC hashes
    assert "t10k-images-idx3-ubyte: decompressed sha256" in runtime["fallback_reason"]
    assert prov["files_sha256"] == {}
    assert "!" * 78 + "\nNO MNIST ORIGIN ANSWERED: falling back to the 5,000 real training digits" in caplog.text
    assert "Results are NOT comparable with\nruns on the full MNIST download. Reason: no MNIST origin" in caplog.text


def test_configured_npz_hash_rejects_a_wrong_file_through_the_stage(tmp_path):
    folder = tmp_path / "mirror"
    write_npz(folder / "mnist.npz")
    cfg = _cfg(tmp_path, f"data.origins=[{folder / 'mnist.npz'}]", "data.source=download")
    assert cfg.data.npz_sha256.startswith("731c5ac6")
    with pytest.raises(DataError, match="mnist.npz.*hash"):
        run_data(cfg)
    assert not list((tmp_path / "outputs" / "cache").rglob("mnist.npz")), "wrong npz kept in cache"
    assert not (tmp_path / "outputs" / "data").exists()


@pytest.mark.parametrize("bad", [10, 255])
def test_labels_outside_0_to_9_are_rejected(tmp_path, bad):
    folder = tmp_path / "mirror"
    arrays = write_idx_folder(folder)
    labels = arrays["train-labels-idx1-ubyte"].copy()
    labels[3] = bad
    (folder / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(labels)))
    with pytest.raises(DataError, match=rf"IDX train: labels outside 0-9 \(0..{bad}\)"):
        data.download_mnist([str(folder)], tmp_path / "cache", None, {}, 5)


def test_labels_0_and_9_are_accepted_and_negative_labels_rejected():
    images = np.zeros((3, 2, 2), np.uint8)
    data.check_images_labels(images, np.array([0, 9, 5]), "edge")
    with pytest.raises(DataError, match=r"edge: labels outside 0-9 \(-1..9\)"):
        data.check_images_labels(images, np.array([-1, 9, 5]), "edge")
    data.check_images_labels(np.zeros((0, 2, 2), np.uint8), np.zeros(0, np.int64), "empty")


def test_images_must_be_uint8_and_three_dimensional():
    with pytest.raises(DataError, match="images must be uint8"):
        data.check_images_labels(np.zeros((3, 2, 2), np.float32), np.zeros(3, np.uint8), "x")
    with pytest.raises(DataError, match="images must be uint8"):
        data.check_images_labels(np.zeros((3, 4), np.uint8), np.zeros(3, np.uint8), "x")
    with pytest.raises(DataError, match="3 images but labels of shape"):
        data.check_images_labels(np.zeros((3, 2, 2), np.uint8), np.zeros((3, 1), np.uint8), "x")


def test_npz_labels_are_checked_too(tmp_path):
    folder = tmp_path / "mirror"
    arrays = write_npz(folder / "mnist.npz")
    arrays["y_test"][0] = 12
    np.savez(folder / "mnist.npz", **arrays)
    with pytest.raises(DataError, match=r"mnist.npz test: labels outside 0-9"):
        data.download_mnist([str(folder / "mnist.npz")], tmp_path / "cache", None, {}, 5)


@pytest.mark.slow
def test_entry_point_refuses_a_wrong_file_with_one_line(tmp_path):
    """pipelines/stage.py data itself (as DVC runs it): the data error's status, one line naming the file and hash."""
    folder = tmp_path / "mirror"
    write_idx_folder(folder)
    result = run_py(
        [
            str(REPO / "pipelines" / "stage.py"),
            "data",
            f"paths.root={tmp_path}",
            f"data.origins=[{folder}]",
            "data.source=download",
        ],
        cwd=tmp_path,
    )
    assert result.returncode == EXIT_DATA, result.stderr
    lines = [ln for ln in result.stderr.splitlines() if ln.startswith("gmmgen:")]
    assert len(lines) == 1 and "t10k-images-idx3-ubyte: decompressed sha256" in lines[0]
    assert not (tmp_path / "outputs" / "data").exists()
