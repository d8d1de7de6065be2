"""The compute stages wired together in-process: folders, figures, metrics, determinism, failure paths."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gmmgen.core.sweep_table import read_sweep_csv
from gmmgen.errors import UpstreamError
from gmmgen.pipeline.runner import run_all
from gmmgen.pipeline.stages.common import stage_dir
from gmmgen.pipeline.stages.reduce import run_reduce
from gmmgen.pipeline.stages.select import run_select
from gmmgen.runtime.validation import validate

from .conftest import TINY, compose_cfg


def run_stages(cfg):
    validate(cfg)
    return run_all(cfg)


def test_stages_write_complete_folders(tiny_cfg, tmp_path):
    out = run_stages(tiny_cfg)
    assert set(out) == {"data", "reduce", "select", "generate"}
    for name, files in {
        "data": ["dataset.npz", "provenance.json", "metrics.json", "train_digits.png"],
        "reduce": [
            "pca.joblib",
            "projected.npz",
            "metrics.json",
            "explained_variance.png",
            "reconstructions.png",
            "explained_variance.csv",
        ],
        "select": [
            "model.joblib",
            "sweep.csv",
            "metrics.json",
            "sweep.png",
            "by_criterion/bic.joblib",
            "by_criterion/aic.joblib",
            "by_criterion/heldout.joblib",
        ],
        "generate": ["samples.npy", "generated.png", "component_means.png", "generated_vs_real.png", "metrics.json"],
    }.items():
        for f in files:
            assert (out[name] / f).is_file(), f"{name}/{f} missing"
    leftovers = [p.name for p in (tmp_path / "outputs").iterdir() if p.name.startswith(".")]
    assert leftovers == []
    samples = np.load(out["generate"] / "samples.npy")
    assert samples.shape == (20, 8, 8) and samples.dtype == np.uint8
    rows = read_sweep_csv(out["select"] / "sweep.csv")
    assert [r["n_components"] for r in rows] == [2, 4, 8]
    metrics = json.loads((out["select"] / "metrics.json").read_text())
    best_bic = min(r["bic"] for r in rows if r["status"] != "failed")
    assert metrics["chosen"]["bic"] == best_bic and metrics["n_fits"] == 3
    reduce_metrics = json.loads((out["reduce"] / "metrics.json").read_text())
    assert reduce_metrics["variance_explained"] >= 0.85


def test_same_config_same_numbers_and_images(tmp_path):
    outs = [run_stages(compose_cfg(tmp_path / name, TINY)) for name in ("a", "b")]
    # The tables DVC hashes hold no timings: byte-identical (the times are in runtime.json).
    assert (outs[0]["select"] / "sweep.csv").read_bytes() == (outs[1]["select"] / "sweep.csv").read_bytes()
    assert "fit_seconds" not in read_sweep_csv(outs[0]["select"] / "sweep.csv")[0]
    assert (outs[0]["select"] / "metrics.json").read_bytes() == (outs[1]["select"] / "metrics.json").read_bytes()
    for f in ("samples.npy", "generated.png", "component_means.png", "generated_vs_real.png"):
        assert (outs[0]["generate"] / f).read_bytes() == (outs[1]["generate"] / f).read_bytes(), f
    for f in ("dataset.npz",):
        assert (outs[0]["data"] / f).read_bytes() == (outs[1]["data"] / f).read_bytes()
    for f in ("sweep.png", "sweep.svg"):  # figures are byte-identical too, the papers' SVG included
        assert (outs[0]["select"] / f).read_bytes() == (outs[1]["select"] / f).read_bytes(), f


def test_another_seed_draws_other_digits(tmp_path):
    a = run_stages(compose_cfg(tmp_path / "a", TINY))
    b = run_stages(compose_cfg(tmp_path / "b", [*TINY, "sample.seed=99"]))
    assert not np.array_equal(np.load(a["generate"] / "samples.npy"), np.load(b["generate"] / "samples.npy"))


def test_stage_without_its_input_names_the_missing_stage(tiny_cfg):
    with pytest.raises(UpstreamError, match="run the 'data' stage first"):
        run_reduce(tiny_cfg)


def test_failed_stage_keeps_the_previous_folder(tiny_cfg):
    run_stages(tiny_cfg)
    select_dir = stage_dir(tiny_cfg, "select")
    before = (select_dir / "sweep.csv").read_bytes()
    tiny_cfg.sweep.n_components = [5000]  # more components than points: every fit fails
    with pytest.raises(Exception, match="every fit in the sweep failed"):
        run_select(tiny_cfg)
    assert (select_dir / "sweep.csv").read_bytes() == before
    assert not [p for p in select_dir.parent.iterdir() if p.name.startswith(".select")]
