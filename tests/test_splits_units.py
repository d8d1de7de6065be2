"""Known answers of gmmgen.core.splits on a tiny pool: the four sets' keys, and labels that stay with their images."""

from __future__ import annotations

import numpy as np

from gmmgen.core.digits import Digits
from gmmgen.core.splits import SPLITS, class_counts, split


def test_each_set_keeps_its_images_labels():
    # Image i is filled with i and labelled i % 10, so a label can be checked against its image.
    x = np.repeat(np.arange(40, dtype=np.uint8), 4).reshape(40, 2, 2)
    digits = Digits(x, np.arange(40, dtype=np.uint8) % 10, None, None, source="tiny", origin="test")
    sets = split(digits, n_train=10, n_val=5, n_test=5, seed=0, n_classifier=None)
    assert sorted(sets) == sorted(f"{a}_{s}" for s in SPLITS for a in ("x", "y"))
    assert [len(sets[f"y_{s}"]) for s in SPLITS] == [10, 5, 5, 20]
    for s in SPLITS:
        np.testing.assert_array_equal(sets[f"y_{s}"], sets[f"x_{s}"][:, 0, 0] % 10)
    drawn = np.concatenate([sets[f"x_{s}"][:, 0, 0] for s in SPLITS])
    assert sorted(drawn.tolist()) == list(range(40))  # disjoint, and every digit of the pool used
    assert class_counts(np.array([3, 1, 3])) == {"1": 1, "3": 2}
