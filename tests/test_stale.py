"""Issue 23, item 6: after a failure nothing points at or holds something stale or empty.

- A failed or corrupt download leaves no file and no empty folder in the download cache.
- A `track` that fails (or is interrupted) leaves no ``track/run.json`` naming the previous run.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gmmgen.core import data
from gmmgen.errors import DataError, TrackingError
from gmmgen.pipeline import files as F
from gmmgen.runtime.validation import validate
from gmmgen.tracking.stage import run_track

from .conftest import TINY, closed_port, compose_cfg, write_npz


def leftovers(cache: Path) -> list[str]:
    return sorted(str(p.relative_to(cache)) for p in cache.rglob("*")) if cache.exists() else []


def test_failed_downloads_leave_no_empty_folder_in_the_cache(tmp_path, http_server):
    url, www = http_server
    write_npz(www / "good" / "mnist.npz")
    raw = (www / "good" / "mnist.npz").read_bytes()
    (www / "bad").mkdir()
    (www / "bad" / "mnist.npz").write_bytes(raw[: len(raw) // 2])  # truncated
    (www / "idx").mkdir()  # an IDX folder without its files
    cache = tmp_path / "cache"
    origins = [
        f"http://127.0.0.1:{closed_port()}/mnist.npz",  # refused
        f"{url}/bad/mnist.npz",  # downloaded, then fails its checks
        f"{url}/good/mnist.npz?wrong-hash",  # fails the hash
        f"{url}/idx",  # missing files
    ]
    with pytest.raises(DataError, match="no MNIST origin could be used"):
        data.download_mnist(origins, cache, "0" * 64, {}, 5)
    assert leftovers(cache) == []
    # A good origin after them: only its own file and folder stay.
    digits, attempts = data.download_mnist([*origins[:2], f"{url}/good/mnist.npz"], cache, None, {}, 5)
    assert len(attempts) == 2 and digits.x_train is not None
    kept = leftovers(cache)
    assert len(kept) == 3 and kept[0] == "datasets" and kept[2].endswith("/mnist.npz"), kept


def test_a_failed_track_leaves_no_run_json_of_the_previous_run(tmp_path):
    cfg = compose_cfg(tmp_path, [*TINY, f"tracking.uri=http://127.0.0.1:{closed_port()}"])
    validate(cfg)
    run_json = F.TRACK.folder(Path(cfg.paths.run_dir)) / F.TRACK.run
    run_json.parent.mkdir(parents=True)
    run_json.write_text(json.dumps({"run_id": "0123456789abcdef", "experiment": "gmmgen"}))  # the previous run's
    with pytest.raises(TrackingError):
        run_track(cfg)
    assert not run_json.exists()
