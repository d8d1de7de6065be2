"""Precision, recall, density, coverage (prdc) and NDB/JS on cases with known answers."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from gmmgen.core import coverage as cv


@pytest.fixture(scope="module")
def cloud():
    return np.random.default_rng(0).standard_normal((400, 8))


# ----------------------------------------------------------------------------- precision / recall / density / coverage


def test_a_set_against_itself(cloud):
    got = cv.prdc(cloud, cloud)
    assert got["precision"] == 1.0 and got["recall"] == 1.0 and got["coverage"] == 1.0
    assert got["density"] == pytest.approx(1.0, abs=0.1)  # each point in about k of the k-NN balls
    assert got["nearest_k"] == 5


def test_disjoint_far_sets(cloud):
    got = cv.prdc(cloud, cloud + 100.0)
    assert got == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0, "nearest_k": 5}


def test_collapsed_samples_are_precise_but_cover_little(cloud):
    """Mode collapse: every generated point near one real point: precision 1, recall and coverage small."""
    collapsed = cloud[0] + 1e-3 * np.random.default_rng(1).standard_normal((400, 8))
    got = cv.prdc(cloud, collapsed)
    assert got["precision"] == 1.0 and got["recall"] < 0.05 and got["coverage"] < 0.05


def test_prdc_prints_nothing(cloud, capsys):
    cv.prdc(cloud, cloud[:100])
    assert capsys.readouterr().out == ""


def test_prdc_refuses_too_few_points_or_other_features(cloud):
    with pytest.raises(ValueError, match="more than k=5"):
        cv.prdc(cloud, cloud[:5])
    with pytest.raises(ValueError, match="do not match"):
        cv.prdc(cloud, cloud[:, :3])


# ----------------------------------------------------------------------------- NDB / JS


def test_two_proportion_z_by_hand():
    # 30 of 100 against 10 of 100: pooled 0.2, se sqrt(0.2 * 0.8 * 0.02) = 0.0565685..., z = 0.2 / se.
    z = cv.two_proportion_z(np.array([30, 0]), 100, np.array([10, 0]), 100)
    assert z[0] == pytest.approx(0.2 / np.sqrt(0.2 * 0.8 * 0.02), abs=1e-12)
    assert z[1] == 0.0  # empty in both: no evidence


def test_identical_sets_have_no_different_bin(cloud):
    bins = cv.fit_bins(cloud, n_bins=10, seed=0)
    got = cv.ndb(bins, cloud, cloud)
    assert got["ndb"] == 0 and got["js"] == pytest.approx(0.0, abs=1e-12) and got["n_bins"] == 10


def test_a_shifted_set_differs_in_every_bin(cloud):
    bins = cv.fit_bins(cloud, n_bins=10, seed=0)
    got = cv.ndb(bins, cloud, cloud + 50.0)
    assert got["ndb"] == 10 and got["ndb_share"] == 1.0
    assert got["js"] > 0.8  # nearly disjoint histograms (1 is the most)


def test_a_fresh_draw_differs_in_about_alpha_of_the_bins():
    rng = np.random.default_rng(2)
    ref = rng.standard_normal((2000, 4))
    bins = cv.fit_bins(ref, n_bins=20, seed=0)
    shares = [cv.ndb(bins, ref, rng.standard_normal((2000, 4)))["ndb_share"] for _ in range(10)]
    assert np.mean(shares) < 0.15  # alpha = 0.05 expected
    assert cv.ndb(bins, ref, rng.standard_normal((2000, 4)))["js"] < 0.01


def test_the_bins_different_are_those_past_the_critical_z():
    ref = np.concatenate([np.zeros((100, 1)), np.full((100, 1), 10.0)])
    bins = cv.fit_bins(ref, n_bins=2, seed=0)
    gen = np.concatenate([np.zeros((130, 1)), np.full((70, 1), 10.0)])  # 65% against 50%
    got = cv.ndb(bins, ref, gen)
    z = abs(cv.two_proportion_z(np.array([100]), 200, np.array([130]), 200)[0])
    assert z > norm.ppf(0.975) and got["ndb"] == 2
    assert cv.ndb(bins, ref, gen, alpha=2 * (1 - norm.cdf(z)) * 0.99)["ndb"] == 0


def test_ndb_refuses_empty_sets(cloud):
    bins = cv.fit_bins(cloud, n_bins=4, seed=0)
    with pytest.raises(ValueError, match="need both"):
        cv.ndb(bins, cloud, cloud[:0])
    with pytest.raises(ValueError, match="cannot make 500 bins"):
        cv.fit_bins(cloud, n_bins=500, seed=0)
