"""Choosing a mixture: degenerate and tied optima, edge-of-grid notes, degeneracy thresholds, both backends.

Rows are written by hand where the answer must be exact (selection only reads
``covariance_type``, ``n_components``, ``status``, ``converged``, the criterion
and ``reason``); fits are real where the numbers come from scikit-learn.
"""

from __future__ import annotations

import logging
import math
import time

import numpy as np
import pytest

from gmmgen.core import mixture
from gmmgen.core.mixture import SweepError

PARAMS = {"n_init": 1, "reg_covar": 1e-6, "max_iter": 200, "tol": 1e-4, "init_params": "kmeans", "random_state": 0}


def row(k, bic, *, aic=None, test_ll=0.0, status="ok", converged=True, cov="full", reason=""):
    return dict(
        covariance_type=cov,
        n_components=k,
        status=status,
        converged=converged,
        bic=bic,
        aic=bic if aic is None else aic,
        test_ll=test_ll,
        val_ll=test_ll,  # the held-out score under either name
        reason=reason or ("2/4 components have fewer than 5 effective points" if status == "degenerate" else ""),
    )


# ----------------------------------------------------------------------------- degenerate optima


def test_degenerate_optimum_is_passed_over_for_the_best_sound_fit():
    rows = [row(2, 30.0), row(4, 20.0), row(8, 5.0, status="degenerate"), row(16, 25.0)]
    best, notes = mixture.select(rows, "bic")
    assert best is rows[1]
    assert notes == [
        "bic's optimum full K=8 is degenerate (2/4 components have fewer than 5 effective points); "
        "chose the best sound fit, full K=4"
    ]


def test_allow_degenerate_keeps_the_optimum_and_says_it_is_degenerate():
    rows = [row(2, 30.0), row(4, 20.0), row(8, 5.0, status="degenerate"), row(16, 25.0)]
    best, notes = mixture.select(rows, "bic", allow_degenerate=True)
    assert best is rows[2]
    assert notes == ["the chosen model is degenerate: 2/4 components have fewer than 5 effective points"]


def test_only_degenerate_fits_left_chooses_one_with_a_note():
    rows = [row(2, 10.0, status="degenerate"), row(4, 5.0, status="degenerate"), row(8, 7.0, status="degenerate")]
    best, notes = mixture.select(rows, "bic")
    assert best is rows[1]
    assert notes == ["the chosen model is degenerate: 2/4 components have fewer than 5 effective points"]


def test_sound_optimum_gets_no_degeneracy_note():
    rows = [row(2, 30.0), row(4, 5.0), row(8, 20.0, status="degenerate")]
    assert mixture.select(rows, "bic") == (rows[1], [])
    assert mixture.select(rows, "bic", allow_degenerate=True) == (rows[1], [])


def test_degenerate_unconverged_mix():
    """Converged fits come first; among them a degenerate optimum is still passed over."""
    rows = [
        row(2, 1.0, converged=False, status="not_converged"),
        row(4, 9.0),
        row(8, 3.0, status="degenerate"),
        row(16, 12.0),
    ]
    best, notes = mixture.select(rows, "bic")
    assert best is rows[1] and len(notes) == 1 and "K=8 is degenerate" in notes[0]


def test_failed_rows_are_never_chosen_even_with_the_best_score():
    rows = [row(2, 30.0), row(4, -1e9, status="failed", reason="boom"), row(8, 20.0)]
    best, notes = mixture.select(rows, "bic")
    assert best is rows[2]
    assert notes and "largest value of the grid" in notes[0]


def test_no_fit_converged_note_comes_first():
    rows = [row(2, 5.0, converged=False, status="not_converged"), row(4, 3.0, converged=False, status="not_converged")]
    best, notes = mixture.select(rows, "bic")
    assert best is rows[1]
    assert notes[0] == "no fit converged: choosing among unconverged fits"


# ----------------------------------------------------------------------------- ties and the grid's edges


def test_ties_go_to_the_smaller_model_for_every_criterion():
    rows = [row(6, 5.0, test_ll=-1.0), row(2, 9.0, test_ll=-3.0), row(3, 5.0, test_ll=-1.0), row(9, 7.0, test_ll=-2.0)]
    for criterion in ("bic", "aic", "heldout"):
        best, _ = mixture.select(rows, criterion)
        assert best is rows[2], criterion


def test_heldout_maximises_and_bic_minimises():
    rows = [row(2, 1.0, aic=9.0, test_ll=-9.0), row(4, 5.0, aic=1.0, test_ll=-5.0), row(8, 9.0, aic=5.0, test_ll=-1.0)]
    assert mixture.select(rows, "bic")[0] is rows[0]
    assert mixture.select(rows, "aic")[0] is rows[1]
    assert mixture.select(rows, "heldout")[0] is rows[2]


def test_smallest_value_of_the_grid_is_noted():
    rows = [row(1, 2.0), row(2, 5.0), row(4, 9.0)]
    best, notes = mixture.select(rows, "bic")
    assert best is rows[0]
    assert notes == [
        "bic chose K=1, the smallest value of the grid [1, 2, 4]: the optimum may lie outside it; "
        "widen sweep.n_components"
    ]


def test_edge_is_judged_on_the_chosen_covariance_types_grid():
    """K=4 is the largest diag K but an interior full K: only the chosen type's grid counts."""
    rows = [row(2, 9.0, cov="diag"), row(4, 1.0, cov="diag"), row(2, 8.0), row(4, 7.0), row(8, 6.0)]
    best, notes = mixture.select(rows, "bic")
    assert best is rows[1] and "largest value of the grid [2, 4]" in notes[0]
    rows[1]["bic"] = 7.5
    rows[3]["bic"] = 1.0
    best, notes = mixture.select(rows, "bic")
    assert best is rows[3] and notes == []


def test_choices_returns_each_criterions_row():
    rows = [row(2, 1.0, aic=9.0, test_ll=-9.0), row(4, 5.0, aic=1.0, test_ll=-5.0), row(8, 9.0, aic=5.0, test_ll=-1.0)]
    picked = mixture.choices(rows)
    assert picked == {"bic": rows[0], "aic": rows[1], "heldout": rows[2]}
    assert picked["bic"] is rows[0]


def test_choices_follow_allow_degenerate():
    rows = [row(2, 9.0), row(4, 1.0, status="degenerate"), row(8, 5.0)]
    assert mixture.choices(rows)["bic"] is rows[2]
    assert mixture.choices(rows, allow_degenerate=True)["bic"] is rows[1]


def test_choices_leave_out_what_cannot_be_chosen():
    assert mixture.choices([row(2, 1.0, status="failed", reason="x")]) == {}


# ----------------------------------------------------------------------------- degeneracy thresholds


def test_min_points_per_covariance_type():
    assert [mixture.min_points(7, c) for c in ("tied", "diag", "spherical")] == [1, 2, 2]
    assert mixture.min_points(7, "full") in (7, 8)  # about d points: d, or d + 1 for a non-singular estimate


@pytest.mark.parametrize("cov", ["full", "tied", "diag", "spherical"])
def test_degeneracy_counts_follow_the_effective_points(cov):
    """n_degenerate and min_effective_points are what the fitted weights say, for every covariance type."""
    rng = np.random.default_rng(1)
    # 60 points and a far-away pair in 3 dimensions: the pair is too few for a full 3x3 covariance only.
    x = np.concatenate([rng.standard_normal((60, 3)), rng.standard_normal((2, 3)) * 0.01 + 50.0])
    start = time.perf_counter()
    r, gmm = mixture.fit_one(x, x, 2, cov, PARAMS)
    elapsed = time.perf_counter() - start
    effective = gmm.weights_ * len(x)
    assert sorted(np.rint(effective)) == [2, 60]
    assert r["min_effective_points"] == pytest.approx(effective.min())
    assert r["n_degenerate"] == int(np.sum(effective < mixture.min_points(3, cov)))
    assert (r["status"] == "degenerate") == (r["n_degenerate"] > 0)
    assert 0 < r["fit_seconds"] <= elapsed
    if cov == "full":
        assert r["n_degenerate"] == 1 and r["status"] == "degenerate"
        need = mixture.min_points(3, "full")
        assert f"1/2 components have fewer than {need} effective points (covariance mostly reg_covar)" in r["reason"]
    if cov == "tied":
        assert r["n_degenerate"] == 0 and r["status"] != "degenerate" and "effective points" not in r["reason"]


# ----------------------------------------------------------------------------- backends


CENTERS = np.array([[0.0, 0, 0], [8, 0, 0], [0, 8, 0]])


def _blobs(n, seed):
    rng = np.random.default_rng(seed)
    return np.concatenate([c + rng.standard_normal((n, 3)) for c in CENTERS])


def _threads_and_processes(n_jobs):
    x, x_test = _blobs(60, 0), _blobs(20, 1)
    grid = ([2, 3], ["full", "diag"])
    threads, _ = mixture.sweep(x, x_test, *grid, PARAMS, n_jobs=n_jobs, progress=False, backend="threads")
    procs, models = mixture.sweep(x, x_test, *grid, PARAMS, n_jobs=n_jobs, progress=False, backend="processes")
    # NaN (the pixel-space columns the caller fills) never equals itself once pickled through a worker.
    strip = lambda rows: [{k: (None if v != v else v) for k, v in r.items() if k != "fit_seconds"} for r in rows]  # noqa: E731
    assert strip(procs) == strip(threads)
    assert [(r["covariance_type"], r["n_components"]) for r in procs] == [(c, k) for c in grid[1] for k in grid[0]]
    assert set(models) == {(c, k) for c in grid[1] for k in grid[0]}
    assert models[("full", 3)].bic(x) == pytest.approx(procs[1]["bic"])


def test_processes_backend_gives_the_threads_results():
    """The processes path (one BLAS thread per fit) in-process: same rows, same models."""
    _threads_and_processes(n_jobs=1)


@pytest.mark.slow
def test_processes_backend_in_worker_processes():
    """The same with real loky worker processes (their start-up takes seconds)."""
    _threads_and_processes(n_jobs=2)


def test_unknown_backend_is_refused_before_any_fit():
    with pytest.raises(ValueError, match="backend='gpu': must be 'threads' or 'processes'"):
        mixture.sweep(np.zeros((5, 2)), np.zeros((5, 2)), [1], ["full"], PARAMS, n_jobs=1, backend="gpu")


def test_sweep_warns_about_the_fits_that_are_not_sound(caplog):
    x, x_test = _blobs(5, 0), _blobs(5, 1)  # 15 points
    with caplog.at_level(logging.WARNING, logger="gmmgen.core.mixture"):
        rows, _ = mixture.sweep(x, x_test, [2, 40], ["diag"], PARAMS, n_jobs=1, progress=False)
    warned = " ".join(r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING)
    assert "diag K=40" in warned and "failed" in warned and "diag K=2" not in warned
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="gmmgen.core.mixture"):
        mixture.sweep(x, x_test, [2, 40], ["diag"], PARAMS, n_jobs=1, progress=False, warn=False)
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    with pytest.raises(SweepError):
        mixture.select([r for r in rows if r["status"] == "failed"], "bic")


def test_fits_start_largest_first(caplog):
    """The costliest fits are handed out first (cost ~ K times 4 full, 3 tied, 1 diag, 0.8 spherical; ties keep grid
    order), so parallel workers finish together."""
    x = _blobs(1, 0)[:2]  # 2 points: every fit fails at once and logs in the order the fits ran
    types = ["full", "tied", "diag", "spherical"]
    with caplog.at_level(logging.DEBUG, logger="gmmgen.core.mixture"):
        rows, _ = mixture.sweep(x, x, [3, 4, 5], types, PARAMS, n_jobs=1, progress=False)
    per_fit = [r.getMessage() for r in caplog.records if r.getMessage().startswith("fit ")]
    ran = [m.split(":")[0].removeprefix("fit ") for m in per_fit]
    assert ran == [
        "full K=5",
        "full K=4",
        "tied K=5",
        "full K=3",
        "tied K=4",
        "tied K=3",
        "diag K=5",
        "diag K=4",
        "spherical K=5",
        "spherical K=4",
        "diag K=3",
        "spherical K=3",
    ]
    assert [(r["covariance_type"], r["n_components"]) for r in rows] == [(c, k) for c in types for k in (3, 4, 5)]


# ----------------------------------------------------------------------------- rows of failed and flagged fits


def test_a_failed_row_says_why_and_scores_nothing():
    x = _blobs(1, 0)  # 3 points in 3 dimensions
    r, model = mixture.fit_one(x, x, 4, "full", PARAMS)
    assert model is None and r["status"] == "failed"
    assert r["reason"] == "n_components=4 is more than the 3 training points"
    assert r["converged"] is False and r["n_iter"] == 0 and r["n_degenerate"] == 0 and r.get("n_thin", 0) == 0
    assert r["n_parameters"] == mixture.n_parameters(4, 3, "full") and r["fit_seconds"] >= 0
    assert all(math.isnan(r[k]) for k in ("bic", "aic", "train_ll", "min_effective_points"))
    assert list(r) == list(mixture.FIELDS)


def test_as_many_components_as_points_is_attempted():
    x = _blobs(2, 0)  # 6 points
    r, model = mixture.fit_one(x, x, 6, "spherical", {**PARAMS, "reg_covar": 1e-3})
    assert model is not None and r["status"] != "failed"


def _far_pair():
    """60 points and a far-away pair in 3 dimensions: with K=2 the pair is a component too small for a full 3x3."""
    rng = np.random.default_rng(1)
    return np.concatenate([rng.standard_normal((60, 3)), rng.standard_normal((2, 3)) * 0.01 + 50.0])


def test_unconverged_and_degenerate_reasons_are_joined():
    x = _far_pair()
    r, gmm = mixture.fit_one(x, x, 2, "full", {**PARAMS, "max_iter": 1})
    assert r["status"] == "not_converged" and r["n_degenerate"] == 1
    first, second = r["reason"].split("; ", 1)
    assert first == "did not converge in max_iter=1 iterations"
    need = mixture.min_points(3, "full")
    assert second.startswith(f"1/2 components have fewer than {need} effective points")
    assert second.endswith("; converged in <=2 iterations on collapsed components") == (gmm.n_iter_ <= 2)


def test_every_failed_fit_is_listed_in_the_error():
    rows = [row(10, math.nan, status="failed", reason="too many"), row(20, math.nan, status="failed", reason="worse")]
    with pytest.raises(SweepError) as info:
        mixture.select(rows, "bic")
    assert str(info.value) == "every fit in the sweep failed (full K=10: too many; full K=20: worse)"


def test_progress_bar_names_the_sweep_and_is_silent_when_off(capsys):
    x, x_test = _blobs(20, 0), _blobs(5, 1)
    mixture.sweep(x, x_test, [2], ["diag"], PARAMS, n_jobs=1, progress=True)
    err = capsys.readouterr().err
    if err:  # a bar is drawn where the console shows one
        assert "GMM sweep: " in err and "diag K=2" in err and not err.startswith("X")
        assert "fit/s" in err or "s/fit" in err
    mixture.sweep(x, x_test, [2], ["diag"], PARAMS, n_jobs=1, progress=False)
    assert capsys.readouterr().err == ""


def test_collapse_note_only_for_fits_that_stopped_within_two_iterations():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 4))
    r, gmm = mixture.fit_one(x, x, 6, "full", PARAMS)  # a slow degenerate fit
    assert r["status"] == "degenerate" and gmm.n_iter_ > 2
    assert "effective points (covariance mostly reg_covar)" in r["reason"]
    assert "converged in <=2 iterations" not in r["reason"]
    x = _far_pair()
    fast, gmm = mixture.fit_one(x, x, 2, "full", PARAMS)
    assert gmm.n_iter_ <= 2 and fast["reason"].endswith("; converged in <=2 iterations on collapsed components")


@pytest.mark.parametrize("cov", ["full", "tied", "diag", "spherical"])
def test_parameter_counts_are_integers(cov):
    count = mixture.n_parameters(5, 7, cov)
    assert type(count) is int and count > 0


def test_covariance_parameters_per_component():
    assert [mixture.covariance_parameters(4, c) for c in ("full", "tied", "diag", "spherical")] == [10, 10, 4, 1]
    for cov in ("full", "diag", "spherical"):
        per = mixture.covariance_parameters(4, cov)
        assert mixture.n_parameters(3, 4, cov) == 3 * per + 3 * 4 + 3 - 1


def test_progress_is_on_by_default(capsys):
    x, x_test = _blobs(20, 0), _blobs(5, 1)
    mixture.sweep(x, x_test, [2], ["diag"], PARAMS, n_jobs=1)
    default = capsys.readouterr().err
    mixture.sweep(x, x_test, [2], ["diag"], PARAMS, n_jobs=1, progress=True)
    assert bool(default) == bool(capsys.readouterr().err)


def test_points_per_parameter_of_a_tied_covariance_pools_every_point():
    got = mixture.points_per_parameter(np.array([3.0, 5.0]), 2, "tied")  # 8 points, 3 shared parameters
    np.testing.assert_allclose(got, [8 / 3, 8 / 3])
    np.testing.assert_allclose(mixture.points_per_parameter(np.array([3.0, 6.0]), 2, "diag"), [1.5, 3.0])


# ----------------------------------------------------------------------------- thin fits and the k-means start


def test_thin_fits_are_recorded_but_neither_warned_about_nor_logged_as_flagged(caplog):
    """A thin fit (estimable, fewer points than covariance parameters) is the rule at small n: no warning."""
    x = np.random.default_rng(0).standard_normal((40, 10))  # K=1 full: 40 points, 55 parameters
    with caplog.at_level(logging.DEBUG, logger="gmmgen.core.mixture"):
        rows, models = mixture.sweep(x, x, [1], ["full"], PARAMS, n_jobs=1, progress=False)
    assert [r["status"] for r in rows] == ["thin"] and set(models) == {("full", 1)}
    assert [r.getMessage() for r in caplog.records if r.name == "gmmgen.core.mixture"] == []


def test_kmeans_start_defaults_are_the_mixtures_defaults():
    """Without reg_covar / init_params the start is GaussianMixture's default start (k-means, reg_covar 1e-6)."""
    from sklearn.mixture import GaussianMixture
    from sklearn.utils import check_random_state

    x = np.random.default_rng(1).standard_normal((60, 3)) + np.repeat(np.eye(3) * 8, 20, axis=0)
    for cov in ("full", "diag"):
        got = mixture.kmeans_start(x, 3, cov, {}, check_random_state(4))
        ref = GaussianMixture(3, covariance_type=cov, max_iter=0, random_state=4).fit(x)
        np.testing.assert_array_equal(got[0], ref.weights_)
        np.testing.assert_array_equal(got[1], ref.means_)
        np.testing.assert_allclose(got[2], ref.precisions_, rtol=1e-12)
        explicit = mixture.kmeans_start(x, 3, cov, {"reg_covar": 1e-6, "init_params": "kmeans"}, check_random_state(4))
        for a, b in zip(got, explicit, strict=True):
            np.testing.assert_array_equal(a, b)


def test_a_fit_whose_log_likelihood_overflows_is_a_failed_row_without_a_model():
    """Digits near 1e155: squared distances overflow, the fit gives NaN log-likelihoods (cupy's Cholesky does the
    same where numpy raises). Such a fit is failed, not scored, and never chosen."""
    rng = np.random.default_rng(0)
    x = 1e155 * (1 + 1e-6 * rng.standard_normal((30, 3)))
    with np.errstate(all="ignore"):
        row, model = mixture.fit_one(x, x, 2, "diag", PARAMS)
    assert model is None and row["status"] == "failed"
    assert row["reason"] == "non-finite log-likelihood (a covariance is not positive definite)"
    with pytest.raises(SweepError, match="every fit in the sweep failed"):
        mixture.select([row], "bic")


def test_a_linalg_error_of_another_namespace_is_a_fit_failure():
    """torch raises its own torch.linalg.LinAlgError (a RuntimeError, not numpy's): a failed fit, not a crash;
    any other RuntimeError still propagates."""

    class LinAlgError(RuntimeError):  # what torch.linalg.LinAlgError is
        pass

    assert mixture._is_fit_failure(LinAlgError("cholesky: not positive-definite"))
    assert mixture._is_fit_failure(np.linalg.LinAlgError("singular"))
    assert not mixture._is_fit_failure(RuntimeError("cholesky: not positive-definite"))
