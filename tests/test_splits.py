"""Train / validation / test / judge splits: disjoint, seeded, sized as asked; no test digit reaches a choice."""

from __future__ import annotations

import json

import joblib
import numpy as np
import pytest

from gmmgen.core import data
from gmmgen.core.data import DataError, Digits
from gmmgen.core.io import load_arrays, save_arrays
from gmmgen.core.sweep_table import read_sweep_csv
from gmmgen.pipeline.config import ConfigError, check_full_pipeline
from gmmgen.pipeline.runner import run_all
from gmmgen.pipeline.stages.common import stage_dir
from gmmgen.pipeline.stages.data import run_data
from gmmgen.pipeline.stages.reduce import run_reduce
from gmmgen.pipeline.stages.select import run_select
from gmmgen.runtime import cli
from gmmgen.runtime.validation import iter_problems, validate

from .conftest import TINY, compose_cfg, fake_digits


def unique_digits(n_train: int, n_test: int | None) -> Digits:
    """Random images (all distinct) so that set membership by bytes identifies a digit."""
    x, y = fake_digits(n_train, 0)
    xt, yt = fake_digits(n_test, 1) if n_test else (None, None)
    return Digits(x, y, xt, yt, source="test", origin="memory")


def keys(images: np.ndarray) -> set[bytes]:
    return {img.tobytes() for img in images}


def test_splits_are_disjoint_and_sized_with_a_test_pool():
    digits = unique_digits(300, 80)
    s = data.split(digits, n_train=150, n_val=50, n_test=40, seed=0, n_classifier=60)
    assert [len(s[f"x_{k}"]) for k in ("train", "val", "test", "clf")] == [150, 50, 40, 60]
    pool = keys(digits.x_train)
    for a in ("train", "val", "clf"):
        assert keys(s[f"x_{a}"]) <= pool
        for b in ("train", "val", "clf", "test"):
            if a != b:
                assert not keys(s[f"x_{a}"]) & keys(s[f"x_{b}"]), f"{a} and {b} share digits"
    assert keys(s["x_test"]) <= keys(digits.x_test)
    # The judge gets at most n_classifier of what is left; null: all of it.
    assert len(data.split(digits, 150, 50, 40, 0, None)["x_clf"]) == 100
    assert data.overlaps(s) == dict.fromkeys(data.overlaps(s), 0)


def test_validation_does_not_move_when_train_or_judge_sizes_change():
    digits = unique_digits(300, 80)
    a = data.split(digits, 100, 50, 10, seed=3, n_classifier=10)
    b = data.split(digits, 200, 50, 10, seed=3, n_classifier=None)
    np.testing.assert_array_equal(a["x_val"], b["x_val"])
    assert keys(a["x_train"]) <= keys(b["x_train"])
    c = data.split(digits, 100, 50, 10, seed=4)
    assert keys(c["x_val"]) != keys(a["x_val"])


def test_n_test_zero_and_all_training():
    with_pool = unique_digits(100, 30)
    s = data.split(with_pool, None, 20, 0, seed=0)
    assert len(s["x_test"]) == 0 and len(s["x_train"]) == 80 and len(s["x_clf"]) == 0
    assert len(data.split(with_pool, 10, 20, None, seed=0)["x_test"]) == 30  # null: the whole test pool
    pool_only = unique_digits(100, None)
    for n_test in (0, None):
        s = data.split(pool_only, None, 20, n_test, seed=0)
        assert len(s["x_test"]) == 0 and len(s["x_train"]) == 80
    s = data.split(pool_only, 50, 20, 30, seed=0)
    assert not keys(s["x_test"]) & (keys(s["x_train"]) | keys(s["x_val"]))
    with pytest.raises(DataError, match="needs 101 digits.*has only 100"):
        data.split(pool_only, 51, 20, 30, seed=0)
    with pytest.raises(DataError, match="data.n_test=31.*only 30"):
        data.split(with_pool, 10, 20, 31, seed=0)


def test_8x8_digits_are_rescaled_affinely():
    levels = np.arange(17.0)
    out = data.rescale_16_to_255(levels)
    assert np.all(np.diff(out.astype(int)) == 15) and out[0] == 0
    digits = data.load_digits_8x8()
    assert set(np.unique(digits.x_train)) <= set(range(0, 241, 15))
    with pytest.raises(DataError):
        data.rescale_16_to_255(np.array([0.5]))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["data=digits", "data.n_train=1797", "data.n_test=null"], "needs 1997 digits, the digits pool has 1797"),
        (["data=digits", "data.n_test=0"], "data.n_test=0, evaluate.enabled=true: the evaluation reports on test"),
        (["data=digits", "data.n_train=null"], "leaves no digits to train the judge CNN"),
        (["data.source=bundled", "data.n_train=4000", "data.n_test=600"], "needs 5100 digits"),
        (["data.n_val=0"], "data.n_val=0: the evaluation chooses on validation digits"),
        (["data.n_test=-1"], "data.n_test=-1: must be an integer >= 0"),
    ],
)
def test_combinations_that_cannot_work_are_rejected_in_one_line(tmp_path, capsys, overrides, message):
    cfg = compose_cfg(tmp_path, overrides)
    problems = list(iter_problems(cfg))
    assert any(message in p for p in problems), problems
    with pytest.raises(SystemExit) as exc:
        cli.run(cfg, lambda c: pytest.fail("ran with a bad config"))
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("gmmgen: config error:")


def test_training_on_all_digits_without_a_test_set(tmp_path):
    """data.n_test=0 and data.n_train=null: every non-validation digit trains; the pipeline still runs."""
    cfg = compose_cfg(tmp_path, [*TINY, "data.n_test=0", "data.n_train=null", "sweep.n_components=[2]"])
    validate(cfg)
    out = run_all(cfg)
    ds = load_arrays(out["data"] / "dataset.npz")
    assert len(ds["x_test"]) == 0 and len(ds["x_train"]) == 1797 - 200
    prov = json.loads((out["data"] / "provenance.json").read_text())
    assert prov["n_test"] == 0 and prov["n_val"] == 200 and prov["test_origin"] == ""
    metrics = json.loads((out["select"] / "metrics.json").read_text())
    assert np.isnan(metrics["chosen"]["test_bpp"]) and metrics["chosen"]["val_bpp"] > 0
    check_full_pipeline(cfg)  # evaluate.enabled=false: make run records the classifier and evaluate as skipped
    cfg.evaluate.enabled = True
    with pytest.raises(ConfigError, match="the evaluate stage reports on test digits"):
        check_full_pipeline(cfg)


def test_no_test_digit_reaches_any_choice(tmp_path):
    """Poison the test digits: PCA, the sweep table, every criterion's choice and the per-class K stay the same."""
    from gmmgen.pipeline.stages.evaluate import class_mixtures

    runs = {}
    for name in ("clean", "poisoned"):
        overrides = ["sweep.criterion=heldout", "sweep.n_components=[2,4]", "evaluate.class_grid=[1,2]"]
        cfg = compose_cfg(tmp_path / name, [*TINY, *overrides])
        validate(cfg)
        run_data(cfg)
        if name == "poisoned":
            path = stage_dir(cfg, "data") / "dataset.npz"
            arrays = load_arrays(path)
            rng = np.random.default_rng(0)
            arrays["x_test"] = rng.integers(0, 256, arrays["x_test"].shape, dtype=np.uint8)
            arrays["y_test"] = rng.permutation(arrays["y_test"])
            save_arrays(path, **arrays)
        run_reduce(cfg)
        run_select(cfg)
        runs[name] = cfg
    dirs = {n: stage_dir(c, "select") for n, c in runs.items()}
    pcas = {n: joblib.load(stage_dir(c, "reduce") / "pca.joblib") for n, c in runs.items()}
    np.testing.assert_array_equal(pcas["clean"].components_, pcas["poisoned"].components_)
    tables = {n: read_sweep_csv(d / "sweep.csv") for n, d in dirs.items()}  # no timings in the table
    assert tables["clean"] == tables["poisoned"]
    metrics = {n: json.loads((d / "metrics.json").read_text()) for n, d in dirs.items()}
    for crit in ("bic", "aic", "heldout"):
        chosen = [
            {k: metrics[n]["by_criterion"][crit][k] for k in ("covariance_type", "n_components", "val_bpp")}
            for n in dirs
        ]
        assert chosen[0] == chosen[1], crit
        assert (
            metrics["clean"]["by_criterion"][crit]["test_bpp"] != metrics["poisoned"]["by_criterion"][crit]["test_bpp"]
        )
    # The per-class mixtures of the evaluate stage are sized on validation digits only.
    ks = []
    for cfg in runs.values():
        proj = load_arrays(stage_dir(cfg, "reduce") / "projected.npz")
        _, record = class_mixtures(proj["z_train"], proj["y_train"], proj["z_val"], proj["y_val"], "full", cfg)
        ks.append(record["n_components_per_class"])
    assert ks[0] == ks[1] and len(ks[0]) == 10
