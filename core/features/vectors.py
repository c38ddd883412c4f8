"""Feature rows as unit vectors, the one way every cosine in Tailor is taken (similar images, near-duplicates, the
Label next queue's near-copies, the map's projection)."""

from __future__ import annotations

import numpy as np


def unit_rows(rows: np.ndarray, centre: np.ndarray | None = None) -> np.ndarray:
    """``rows`` (less ``centre``, when given) scaled to length 1 as a new float32 array; a zero row stays zero."""
    unit = np.array(rows, dtype=np.float32)  # a copy: the caller's rows are never changed
    if centre is not None:
        unit -= centre
    unit /= np.maximum(np.linalg.norm(unit, axis=1, keepdims=True), 1e-12)
    return unit
