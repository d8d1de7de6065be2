"""Known answers of gmmgen.core.idx beyond tests/test_data_units.py: the exact message, large dimensions."""

from __future__ import annotations

import numpy as np
import pytest

from gmmgen.core.idx import parse_idx
from gmmgen.errors import DataError


def test_a_bad_magic_number_is_shown_as_its_four_bytes_only():
    raw = b"\x00\x01\x08\x01" + (3).to_bytes(4, "big") + b"abc"
    with pytest.raises(DataError) as err:
        parse_idx(raw, "labels")
    assert str(err.value) == "labels: bad IDX magic number 00010801"


def test_every_dimension_is_read_from_all_four_of_its_bytes():
    # 65,536 needs the third and fourth byte of its big-endian field; 2 x 1 x 65,536 uint8 values.
    header = b"\x00\x00\x08\x03" + b"".join(n.to_bytes(4, "big") for n in (2, 1, 65536))
    values = np.arange(2 * 65536, dtype=np.uint64).astype(np.uint8)
    got = parse_idx(header + values.tobytes())
    assert got.shape == (2, 1, 65536)
    np.testing.assert_array_equal(got.ravel(), values)
