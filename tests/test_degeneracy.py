"""Known answers of gmmgen.core.degeneracy: the counts behind a fit's status, and its status and reason."""

from __future__ import annotations

import numpy as np
import pytest

from gmmgen.core import degeneracy as dg


def test_parameter_counts_and_needs_by_covariance_type():
    # K=3 components in d=4 dimensions: covariance + means + (K - 1) free weights.
    assert dg.n_parameters(3, 4, "full") == 3 * 10 + 12 + 2
    assert dg.n_parameters(3, 4, "tied") == 10 + 12 + 2
    assert dg.n_parameters(3, 4, "diag") == 12 + 12 + 2
    assert dg.n_parameters(3, 4, "spherical") == 3 + 12 + 2
    assert [dg.min_points(4, c) for c in ("full", "tied", "diag", "spherical")] == [5, 1, 2, 2]
    assert [dg.covariance_parameters(4, c) for c in ("full", "tied", "diag", "spherical")] == [10, 10, 4, 1]


def test_points_per_parameter_shares_a_tied_covariance():
    effective = np.array([20.0, 5.0])
    np.testing.assert_allclose(dg.points_per_parameter(effective, 4, "full"), [2.0, 0.5])
    np.testing.assert_allclose(dg.points_per_parameter(effective, 4, "tied"), [2.5, 2.5])


def test_determine_counts_degenerate_and_thin_apart():
    # n=100 points in d=4 (full: needs 5 points, 10 parameters): 60, 36, 4 effective points.
    det = dg.determine(np.array([0.6, 0.36, 0.04]), 100, 4, "full", thin=5.0)
    np.testing.assert_allclose(det.effective, [60, 36, 4])
    np.testing.assert_allclose(det.per_parameter, [6.0, 3.6, 0.4])
    assert (det.need, det.n_degenerate, det.n_thin) == (5, 1, 1)  # the degenerate one is not also thin
    # Exactly the points a full covariance needs (d + 1 = 5) is estimable: thin, not degenerate.
    edge = dg.determine(np.array([0.95, 0.05]), 100, 4, "full", thin=1.0)
    assert (edge.n_degenerate, edge.n_thin) == (0, 1)


@pytest.mark.parametrize(
    ("weights", "converged", "n_iter", "status"),
    [
        ([0.5, 0.5], True, 10, "sound"),
        ([0.93, 0.07], True, 10, "thin"),
        ([0.97, 0.03], True, 10, "degenerate"),
        ([0.5, 0.5], False, 100, "not_converged"),
        ([0.97, 0.03], False, 100, "not_converged"),
    ],
)
def test_verdict_status(weights, converged, n_iter, status):
    det = dg.determine(np.array(weights), 100, 4, "full", thin=1.0)
    assert dg.verdict(det, 2, 4, "full", 1.0, converged, n_iter, 100)[0] == status


def test_verdict_reasons_in_words():
    det = dg.determine(np.array([0.6, 0.36, 0.04]), 100, 4, "full", thin=5.0)
    status, reason = dg.verdict(det, 3, 4, "full", 5.0, False, 2, 50)
    assert status == "not_converged"
    assert reason == (
        "did not converge in max_iter=50 iterations; "
        "1/3 components have fewer than 5 effective points (covariance mostly reg_covar)"
        "; converged in <=2 iterations on collapsed components; "
        "1/3 components are thin: fewer than 5 effective points per free covariance parameter "
        "(10 parameters; min 0.4)"
    )
    _, later = dg.verdict(det, 3, 4, "full", 5.0, True, 3, 50)
    assert later.split("; ")[0] == "1/3 components have fewer than 5 effective points (covariance mostly reg_covar)"
    clean = dg.determine(np.array([0.5, 0.5]), 100, 4, "full", thin=1.0)
    assert dg.verdict(clean, 2, 4, "full", 1.0, True, 5, 50) == ("sound", "")
