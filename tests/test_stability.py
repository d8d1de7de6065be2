"""Stability of the choices across seeds: known answers of the distribution and the bootstrap, and a tiny real run."""

from __future__ import annotations

import numpy as np
import pytest

from gmmgen.core import stability as st


def test_identical_seeds_give_share_one():
    d = st.choice_distribution([("full", 8)] * 10)
    assert d["share_mode"] == 1.0 and d["mode"] == "full K=8" and (d["k_min"], d["k_max"]) == (8, 8)
    assert d["counts"] == {"full K=8": 10} and d["n_seeds"] == 10


def test_distribution_by_hand():
    chosen = [("full", 3)] * 4 + [("full", 8)] * 4 + [("full", 16)] * 2
    d = st.choice_distribution(chosen)
    assert d["mode"] == "full K=3"  # a tie: the smaller K
    assert d["share_mode"] == 0.4 and (d["k_min"], d["k_max"]) == (3, 16)
    assert list(d["counts"]) == ["full K=3", "full K=8", "full K=16"]
    assert st.runner_up(chosen, [None] * 10) == ("full", 8)
    with pytest.raises(ValueError, match="no choices"):
        st.choice_distribution([])


def test_runner_up_when_unanimous_is_the_criterions_usual_second():
    chosen = [("full", 4)] * 3
    assert st.runner_up(chosen, [("full", 6), ("full", 3), ("full", 6)]) == ("full", 6)
    assert st.runner_up(chosen, [None, None, None]) is None


def test_bootstrap_interval_of_a_known_gap():
    # a constant gap: every resample has that mean, the interval collapses onto it
    const = st.bootstrap_gap([np.full(50, 2.5), np.full(30, 2.5)])
    assert const["gap"] == 2.5 and const["low"] == pytest.approx(2.5) and const["high"] == pytest.approx(2.5)
    # gaps ~ N(1, 1) over 4,000 images: the 95% interval is about 1 +- 1.96/sqrt(4000) = 1 +- 0.031
    rng = np.random.default_rng(1)
    parts = [rng.normal(1.0, 1.0, 1000) for _ in range(4)]
    b = st.bootstrap_gap(parts, n_boot=2000, seed=3)
    assert b["low"] < b["gap"] < b["high"] and b["n_images"] == 4000
    assert b["high"] - b["low"] == pytest.approx(2 * 1.96 / np.sqrt(4000), rel=0.15)
    assert b["low"] > 0.9 and b["high"] < 1.1
    # no difference at all: the interval holds 0
    zero = st.bootstrap_gap([rng.normal(0.0, 1.0, 500)], seed=4)
    assert zero["low"] < 0 < zero["high"]
    assert np.isnan(st.bootstrap_gap([])["gap"])


def test_pinned_seeds_choose_the_same_model_every_time(tmp_path):
    """A real tiny run: with the split and the EM starts pinned every seed repeats one sweep: share 1.0, gap exact."""
    from gmmgen.core import data as data_mod
    from gmmgen.pipeline import stability

    from .conftest import compose_cfg

    overrides = ["data=digits", "sweep.n_components=[2,4,8]", "sweep.n_jobs=1", "data.seed=5", "model.random_state=5"]
    cfg = compose_cfg(tmp_path, overrides)
    results = stability.run_seeds(cfg, 3, data_mod.load_digits_8x8())
    assert [r["seed"] for r in results] == [0, 1, 2]
    summary = stability.summarize(results, n_boot=200)
    for s in summary.values():
        assert s["share_mode"] == 1.0 and s["k_min"] == s["k_max"] == s["mode_k"]
        g = s["gap"]
        assert g["n_images"] == 3 * 200 and g["low"] <= g["gap"] <= g["high"]
    free = stability.run_seeds(compose_cfg(tmp_path, overrides[:3]), 2, data_mod.load_digits_8x8())
    assert free[0]["ll"][("full", 2)].shape != () and not np.array_equal(
        free[0]["ll"][("full", 2)], free[1]["ll"][("full", 2)]
    )
    path = stability.write(summary, results, tmp_path / "stability.json")
    assert "criteria" in path.read_text()
