"""The data module's small parts, exactly: IDX dtypes and headers, origin URLs, the download cache's layout,
and failed attempts."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import socket
from pathlib import Path

import numpy as np
import pytest

from gmmgen.core import data
from gmmgen.core.data import DataError, parse_idx

from .conftest import closed_port, idx_bytes, write_idx_folder, write_npz

# ----------------------------------------------------------------------------- IDX


def _idx(code: int, array: np.ndarray) -> bytes:
    header = bytes([0, 0, code, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.tobytes()


@pytest.mark.parametrize(
    ("code", "dtype", "values"),
    [
        (0x09, ">i1", [-128, -1, 0, 127]),
        (0x0B, ">i2", [-300, 1, 2, 30000]),
        (0x0C, ">i4", [-(2**31), 7, 70000, 2**31 - 1]),
        (0x0D, ">f4", [-1.5, 0.25, 3.0, 1e6]),
        (0x0E, ">f8", [-1e-300, 0.1, 2.5, 1e300]),
    ],
)
def test_idx_dtypes_are_read_big_endian_into_native_arrays(code, dtype, values):
    array = np.array(values, dtype=dtype).reshape(2, 2)
    got = parse_idx(_idx(code, array))
    np.testing.assert_array_equal(got, np.array(values).reshape(2, 2))
    assert got.dtype.isnative and got.dtype.itemsize == np.dtype(dtype).itemsize


@pytest.mark.parametrize(
    "raw",
    [
        b"\x00\x01\x08\x01" + (3).to_bytes(4, "big") + b"abc",  # second magic byte not zero
        b"\x00\x00\x08\x00" + b"abc",  # zero dimensions
    ],
)
def test_more_bad_magic_numbers(raw):
    with pytest.raises(DataError, match=f"IDX data: bad IDX magic number {raw[:4].hex()}"):
        parse_idx(raw)


def test_idx_error_messages_name_the_file_and_the_sizes():
    with pytest.raises(DataError, match=r"^labels: 3 bytes is too short for an IDX header$"):
        parse_idx(b"\x00\x00\x08", "labels")
    with pytest.raises(DataError, match=r"^labels: truncated IDX header$"):
        parse_idx(b"\x00\x00\x08\x02" + (2).to_bytes(4, "big"), "labels")
    with pytest.raises(DataError, match=r"^labels: shape \(4,\) needs 12 bytes, file has 11 \(truncated or corrupt\)$"):
        parse_idx(b"\x00\x00\x08\x01" + (4).to_bytes(4, "big") + b"abc", "labels")
    three_d = parse_idx(idx_bytes(np.zeros((2, 3, 5), np.uint8)))
    assert three_d.shape == (2, 3, 5)


# ----------------------------------------------------------------------------- origins and the cache


def test_origin_urls(tmp_path):
    for url in ("http://h/x.npz", "https://h/d", "ftp://h/f", "file:///abs/d"):
        assert data._origin_url(url, tmp_path) == url
    assert data._origin_url("rel/dir", tmp_path) == (tmp_path / "rel" / "dir").as_uri()
    assert data._origin_url("/abs/dir", tmp_path) == "file:///abs/dir"
    assert data._origin_url("~/m", tmp_path) == (Path.home() / "m").as_uri()
    assert data._origin_url("a/../b", None) == (Path.cwd() / "b").as_uri()
    assert data._join("http://h/d/", "f.gz") == data._join("http://h/d", "f.gz") == "http://h/d/f.gz"


def test_relative_origins_are_taken_from_root(tmp_path, monkeypatch):
    arrays = write_idx_folder(tmp_path / "project" / "mirror")
    monkeypatch.chdir(tmp_path)  # elsewhere: the origin only resolves under root
    digits, attempts = data.download_mnist(["mirror"], tmp_path / "cache", None, {}, 5, root=tmp_path / "project")
    assert attempts == [] and digits.origin == "mirror"
    np.testing.assert_array_equal(digits.y_train, arrays["train-labels-idx1-ubyte"])


def test_downloads_are_cached_under_a_folder_per_url(tmp_path, monkeypatch):
    folder = tmp_path / "mirror"
    write_npz(folder / "mnist.npz")
    url = (folder / "mnist.npz").as_uri()
    before = socket.getdefaulttimeout()
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    path = data.fetch(url, "mnist.npz", tmp_path / "cache", None, 5)
    assert int(os.environ["TF_CPP_MIN_LOG_LEVEL"]) >= 2, "TensorFlow's start-up messages are not silenced"
    assert socket.getdefaulttimeout() == before, "fetch left its timeout as the process default"
    assert path == tmp_path / "cache" / "datasets" / hashlib.sha256(url.encode()).hexdigest()[:12] / "mnist.npz"
    assert path.read_bytes() == (folder / "mnist.npz").read_bytes()
    other = data.fetch((folder / ".." / "mirror" / "mnist.npz").as_uri(), "mnist.npz", tmp_path / "cache", None, 5)
    assert other.parent != path.parent


def test_a_refused_connection_names_the_url_once(tmp_path):
    url = f"http://127.0.0.1:{closed_port()}/mnist.npz"
    with pytest.raises(DataError) as info:
        data.fetch(url, "mnist.npz", tmp_path / "cache", None, 5)
    assert str(info.value).count(url) == 1
    assert not list((tmp_path / "cache").rglob("mnist.npz"))


def test_no_origins_configured(tmp_path):
    with pytest.raises(data.NoOriginError, match=r"^no MNIST origin could be used \(no origins configured\)$") as info:
        data.download_mnist([], tmp_path / "cache", None, {}, 5)
    assert info.value.test_only is None


def test_the_first_test_only_origin_is_kept(tmp_path):
    firsts = []
    for name in ("one", "two"):
        folder = tmp_path / name
        firsts.append(write_idx_folder(folder, n_train=5, n_test=7 if name == "one" else 9))
        for f in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"):
            (folder / f).unlink()
    with pytest.raises(data.NoOriginError) as info:
        data.download_mnist([str(tmp_path / "one"), str(tmp_path / "two")], tmp_path / "cache", None, {}, 5)
    kept = info.value.test_only
    assert kept.origin == str(tmp_path / "one") and len(kept.x_test) == 7 and kept.x_train is None
    assert set(kept.files) == {"t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"}
    assert "train-images-idx3-ubyte.gz" in kept.note
    assert str(info.value).count("test set only") == 2


def test_a_broken_gzip_is_deleted_from_the_cache(tmp_path):
    folder = tmp_path / "idx"
    write_idx_folder(folder)
    gz = folder / "t10k-images-idx3-ubyte.gz"
    gz.write_bytes(gz.read_bytes()[:30])
    with pytest.raises(DataError, match=r"t10k-images-idx3-ubyte.gz: not a complete gzip file .*; deleted"):
        data.download_mnist([str(folder)], tmp_path / "cache", None, {}, 5)
    assert not list((tmp_path / "cache").rglob("t10k-images-idx3-ubyte.gz"))


def test_unreadable_npz_is_named(tmp_path):
    folder = tmp_path / "mirror"
    write_npz(folder / "mnist.npz")
    raw = (folder / "mnist.npz").read_bytes()
    (folder / "mnist.npz").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(DataError, match=r"mnist.npz: not a readable mnist.npz"):
        data.download_mnist([str(folder / "mnist.npz")], tmp_path / "cache", None, {}, 5)


def test_pickled_npz_is_refused_not_unpickled(tmp_path):
    folder = tmp_path / "mirror"
    folder.mkdir()
    objects = np.empty(3, dtype=object)
    objects[:] = [np.zeros((28, 28), np.uint8)] * 3
    buf = io.BytesIO()
    np.savez(buf, x_train=objects, y_train=np.zeros(3, np.uint8), x_test=objects, y_test=np.zeros(3, np.uint8))
    (folder / "mnist.npz").write_bytes(buf.getvalue())
    with pytest.raises(DataError, match=r"mnist.npz: not a readable mnist.npz \(.*pickle"):
        data.download_mnist([str(folder / "mnist.npz")], tmp_path / "cache", None, {}, 5)


def test_npz_provenance_is_the_files_hash(tmp_path):
    folder = tmp_path / "mirror"
    write_npz(folder / "mnist.npz")
    digits, _ = data.download_mnist([str(folder / "mnist.npz")], tmp_path / "cache", None, {}, 5)
    assert digits.files == {"mnist.npz": hashlib.sha256((folder / "mnist.npz").read_bytes()).hexdigest()}
    assert digits.source == "download" and digits.origin == str(folder / "mnist.npz")


def test_idx_files_are_checked_after_decompression(tmp_path):
    """The hash is of the decompressed bytes: the same digits gzipped differently still verify."""
    folder = tmp_path / "idx"
    arrays = write_idx_folder(folder)
    hashes = {n: hashlib.sha256(idx_bytes(a)).hexdigest() for n, a in arrays.items()}
    for name, array in arrays.items():
        (folder / f"{name}.gz").write_bytes(gzip.compress(idx_bytes(array), compresslevel=1, mtime=12345))
    digits, _ = data.download_mnist([str(folder)], tmp_path / "cache", None, hashes, 5)
    assert digits.files == hashes


def test_class_counts():
    assert data.class_counts(np.array([3, 1, 3, 3], np.uint8)) == {"1": 1, "3": 3}


def test_idx_dimensions_are_read_as_four_byte_integers():
    raw = b"\x00\x00\x08\x01" + (2**24 + 1).to_bytes(4, "big") + b"ab"
    with pytest.raises(DataError, match=r"shape \(16777217,\) needs 16777225 bytes, file has 10"):
        parse_idx(raw)


def test_each_failed_or_partial_origin_is_logged(tmp_path, caplog):
    partial = tmp_path / "t10k-only"
    write_idx_folder(partial)
    for f in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"):
        (partial / f).unlink()
    missing = str(tmp_path / "nowhere")
    with caplog.at_level("WARNING", logger="gmmgen.core.data"), pytest.raises(data.NoOriginError):
        data.download_mnist([missing, str(partial)], tmp_path / "cache", None, {}, 5)
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2
    assert messages[0].startswith(f"origin {missing} failed: ") and "t10k-images-idx3-ubyte.gz" in messages[0]
    assert messages[1].startswith(f"origin {partial} has the test set only (") and messages[1].endswith(")")


@pytest.mark.parametrize(("split", "what"), [("train", "mnist.npz train"), ("test", "mnist.npz test")])
def test_an_npz_with_bad_labels_names_its_split_and_is_deleted(tmp_path, split, what):
    folder = tmp_path / "mirror"
    arrays = write_npz(folder / "mnist.npz")
    arrays[f"y_{split}"][4] = 10
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    (folder / "mnist.npz").write_bytes(buf.getvalue())
    with pytest.raises(data.NoOriginError) as info:
        data.download_mnist([str(folder / "mnist.npz")], tmp_path / "cache", None, {}, 5)
    assert f"{what}: labels outside 0-9 (0..10); deleted from the download cache" in str(info.value)
    assert not list((tmp_path / "cache").rglob("mnist.npz"))


def test_a_stalled_train_download_times_out_and_leaves_the_test_set(tmp_path):
    """The origin's t10k files arrive, its train files never do: the configured timeout ends the wait."""
    import http.server
    import threading

    write_idx_folder(tmp_path / "www")
    release = threading.Event()

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(tmp_path / "www"), **kwargs)

        def do_GET(self):  # noqa: N802 (the standard library's name)
            if "train-" in self.path:
                release.wait(60)  # never answers while the test runs
                return
            super().do_GET()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        with pytest.raises(data.NoOriginError) as info:
            data.download_mnist([url], tmp_path / "cache", None, {}, 0.5)
    finally:
        release.set()
        server.shutdown()
        server.server_close()
    kept = info.value.test_only
    assert kept is not None and kept.x_train is None and len(kept.x_test) == 30
    assert "train-images-idx3-ubyte.gz" in kept.note and "timed out" in kept.note


def test_a_dropped_connection_names_the_url_once(tmp_path):
    """An error whose own message does not name the URL (the server hangs up without answering) gets it added."""
    import threading

    listener = socket.create_server(("127.0.0.1", 0))

    def hang_up():
        for _ in range(3):  # Keras may retry
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            conn.recv(4096)
            conn.close()

    threading.Thread(target=hang_up, daemon=True).start()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/mnist.npz"
    try:
        with pytest.raises(DataError) as info:
            data.fetch(url, "mnist.npz", tmp_path / "cache", None, 5)
    finally:
        listener.close()
    assert str(info.value).startswith(f"{url}: ") and str(info.value).count(url) == 1
    assert not list((tmp_path / "cache").rglob("mnist.npz"))


def test_the_8x8_digits_name_their_origin():
    from gmmgen.core import data

    digits = data.load_digits_8x8()
    assert (digits.source, digits.origin) == ("embedded", "sklearn.datasets.load_digits")
