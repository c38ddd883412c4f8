"""``unit_rows``: the one way Tailor scales feature rows for cosines."""

from __future__ import annotations

import numpy as np

from core.features.vectors import unit_rows


def test_rows_become_unit_float32_copies_and_a_zero_row_stays_zero():
    rows = np.array([[3.0, 4.0], [0.0, 0.0], [1.0, 1.0]], dtype=np.float16)
    unit = unit_rows(rows)
    assert unit.dtype == np.float32 and unit.flags.c_contiguous
    assert np.allclose(unit, [[0.6, 0.8], [0.0, 0.0], [2**-0.5, 2**-0.5]], atol=1e-3)
    assert rows[0, 0] == 3.0  # the caller's rows are not changed
    centred = unit_rows(np.array([[2.0, 1.0], [0.0, 1.0]]), np.array([1.0, 1.0]))
    assert np.allclose(centred, [[1.0, 0.0], [-1.0, 0.0]])
