"""The data-copying test (Meehan et al. 2020) on cases with known answers: by hand, copies, fresh draws, real digits."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gmmgen.core import copying as cp


def _blobs(n: int, rng: np.random.Generator, spread: float = 1.0) -> np.ndarray:
    """Points of 4 well-separated Gaussian blobs in 5 dimensions (n, 5)."""
    centres = np.array([[0, 0, 0, 0, 0], [12, 0, 0, 0, 0], [0, 12, 0, 0, 0], [0, 0, 12, 0, 0]], float)
    return centres[rng.integers(0, 4, n)] + spread * rng.standard_normal((n, 5))


@pytest.fixture(scope="module")
def three_samples():
    rng = np.random.default_rng(0)
    train, heldout = _blobs(1500, rng), _blobs(400, rng)
    return rng, train, heldout, cp.CellPartition.of(train, n_cells=8, seed=0)


# ----------------------------------------------------------------------------- Z_U by hand


def test_z_u_by_hand():
    # generated 1, 2, 5 against held-out 3, 4: only 5 beats both, U = 2; m = 3, n = 2:
    # mean m n / 2 = 3, sd sqrt(3 * 2 * 6 / 12) = sqrt(3).
    assert cp.z_u(np.array([1.0, 2.0, 5.0]), np.array([3.0, 4.0])) == pytest.approx(-1 / math.sqrt(3), abs=1e-12)
    # A tie counts 1/2: generated 1, 3 against 3, 4: U = 0.5, mean 2, sd sqrt(2 * 2 * 5 / 12).
    assert cp.z_u(np.array([1.0, 3.0]), np.array([3.0, 4.0])) == pytest.approx(-1.5 / math.sqrt(5 / 3), abs=1e-12)
    # Every generated distance the smallest: U = 0, the most negative value, -sqrt(3 m n / (m + n + 1)).
    assert cp.z_u(np.zeros(4), np.ones(6)) == pytest.approx(-math.sqrt(3 * 24 / 11), abs=1e-12)
    # ... and the largest: the mirror image.
    assert cp.z_u(np.ones(4), np.zeros(6)) == pytest.approx(math.sqrt(3 * 24 / 11), abs=1e-12)


def test_z_u_needs_both_samples():
    with pytest.raises(ValueError, match="both samples"):
        cp.z_u(np.array([]), np.array([1.0]))


# ----------------------------------------------------------------------------- C_T


def test_training_points_as_generated_are_copying(three_samples):
    rng, train, heldout, cells = three_samples
    copies = train[rng.choice(len(train), 800, replace=False)]
    result = cp.copying_test(cells, heldout, copies)
    assert result["status"] == cp.COPYING
    assert result["c_t"] < -6  # every cell at U = 0: about -sqrt(3 * 100 * 50 / 151) = -10
    assert all(c["z_u"] < -5 for c in result["driving_cells"])


def test_a_fresh_draw_is_not_copying(three_samples):
    rng, train, heldout, cells = three_samples
    result = cp.copying_test(cells, heldout, _blobs(800, rng))
    assert result["status"] == cp.NOT_COPYING
    assert abs(result["c_t"]) < 1.0  # the cells' Z_U are about N(0, 1), C_T their weighted mean
    assert result["cells_used"] == 8 and result["generated_share_dropped"] == 0.0


def test_points_near_training_points_are_copying_and_spread_ones_underfit(three_samples):
    rng, train, heldout, cells = three_samples
    near = train[rng.choice(len(train), 800)] + 0.05 * rng.standard_normal((800, 5))
    assert cp.copying_test(cells, heldout, near)["c_t"] < -6
    spread = _blobs(800, rng, spread=1.6)  # farther from training points than real points are: C_T >> 0
    wide = cp.copying_test(cells, heldout, spread)
    assert wide["c_t"] > 3 and wide["status"] == cp.NOT_COPYING


def test_c_t_is_the_heldout_weighted_mean_of_the_cells_z_u():
    """Two cells by hand: C_T = (n1 Z1 + n2 Z2) / (n1 + n2), Z from the in-cell nearest-neighbour distances."""
    train = np.array([[0.0], [1.0], [100.0], [101.0]])
    cells = cp.CellPartition.of(train, n_cells=2, seed=0)
    heldout = np.array([[0.5], [2.0], [3.0], [100.2]])  # cell A: distances 0.5, 1, 2; cell B: 0.2
    generated = np.array([[0.1], [1.2], [99.0], [101.5]])  # cell A: 0.1, 0.2; cell B: 1, 0.5
    got = cp.copying_test(cells, heldout, generated, min_generated=2)
    z_a = cp.z_u(np.array([0.1, 0.2]), np.array([0.5, 1.0, 2.0]))
    z_b = cp.z_u(np.array([1.0, 0.5]), np.array([0.2]))
    assert got["c_t"] == pytest.approx((3 * z_a + 1 * z_b) / 4, abs=1e-12)
    by_size = sorted(got["cells"], key=lambda c: -c["n_heldout"])
    assert [c["weight"] for c in by_size] == [0.75, 0.25]
    assert got["driving_cells"][0]["z_u"] == pytest.approx(min(z_a, z_b))


def test_cells_with_too_few_generated_points_are_dropped_and_counted(three_samples):
    rng, train, heldout, cells = three_samples
    blob = _blobs(4000, rng)
    one_region = blob[blob[:, 0] > 6][:300]  # the blob at x = 12 only
    mostly = np.concatenate([one_region, _blobs(10, rng)])
    result = cp.copying_test(cells, heldout, mostly, min_generated=20)
    assert 0 < result["cells_used"] < cells.n_cells
    dropped_gen = sum(c["n_generated"] for c in result["cells"] if c["z_u"] is None)
    assert result["generated_share_dropped"] == pytest.approx(dropped_gen / len(mostly))
    assert 0.5 < result["heldout_share_dropped"] < 1.0  # three of the four blobs' held-out points
    assert all(c["z_u"] is None for c in result["cells"] if c["n_generated"] < 20)


def test_no_cell_to_test_is_untested_not_a_verdict(three_samples):
    rng, train, heldout, cells = three_samples
    result = cp.copying_test(cells, heldout, _blobs(30, rng), min_generated=20)
    assert math.isnan(result["c_t"]) and result["status"] == cp.UNTESTED and result["cells_used"] == 0


def test_the_threshold_decides_the_status(three_samples):
    rng, train, heldout, cells = three_samples
    sample = _blobs(800, rng)
    c_t = cp.copying_test(cells, heldout, sample)["c_t"]
    assert cp.copying_test(cells, heldout, sample, threshold=c_t + 0.01)["status"] == cp.COPYING
    assert cp.copying_test(cells, heldout, sample, threshold=c_t)["status"] == cp.NOT_COPYING


def test_points_of_another_dimension_are_refused(three_samples):
    _, _, heldout, cells = three_samples
    with pytest.raises(ValueError, match="5 dimensions"):
        cp.copying_test(cells, heldout, np.zeros((50, 4)))


def test_fewer_training_points_than_cells_are_refused():
    with pytest.raises(ValueError, match="3 training points cannot make 5 cells"):
        cp.CellPartition.of(np.zeros((3, 2)), n_cells=5, seed=0)


# ----------------------------------------------------------------------------- real digits


@pytest.mark.slow
def test_real_digits_in_pca_coordinates():
    """Bundled MNIST in whitened PCA coordinates (the pipeline's space): copies flagged, unseen digits not."""
    from sklearn.decomposition import PCA

    from gmmgen.core import data, reduce

    x = data.load_bundled().x_train
    # Drawn at random as the data stage does: contiguous slices of the bundled pool are not exchangeable
    # (measured: x[2500:3500] against x[2000:2500] as held-out gives C_T = -5.6 with 10 cells).
    x = x[np.random.default_rng(0).permutation(len(x))]
    train, heldout, unseen = x[:2000], x[2000:2500], x[2500:3500]
    pca = PCA(n_components=0.85, whiten=True, svd_solver="full").fit(reduce.to_features(train))
    z = {k: pca.transform(reduce.to_features(v)) for k, v in (("t", train), ("h", heldout), ("u", unseen))}
    cells = cp.CellPartition.of(z["t"], n_cells=10, seed=0)
    assert cp.copying_test(cells, z["h"], z["u"])["status"] == cp.NOT_COPYING
    assert cp.copying_test(cells, z["h"], z["t"][:1000])["c_t"] < -10
