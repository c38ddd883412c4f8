"""Whole-catalog columns, one query each, for views of every image at once (the map): each image's labels of an
attribute, its split, and a run's top prediction with its score. Ids come back as NumPy arrays aligned with the
``image_ids`` asked for; reading 1,000,000 images' labels is one index-only scan, never a query per image."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sqlalchemy import select

from core.catalog.schema import Annotation, Image, Prediction
from core.catalog.store import Catalog

SPLITS = ("train", "val", "test", "none")


def _positions(image_ids: Sequence[int] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ids = np.asarray(image_ids, dtype=np.int64)
    order = np.argsort(ids)
    return ids[order], order


def _rows_of(image_ids: Sequence[int] | np.ndarray, found: np.ndarray) -> np.ndarray:
    """Each found id's row in ``image_ids`` (-1: not asked for)."""
    ids, order = _positions(image_ids)
    at = np.minimum(np.searchsorted(ids, found), max(len(ids) - 1, 0))
    hit = ids[at] == found if len(ids) else np.zeros(len(found), dtype=bool)
    return np.where(hit, order[at], -1)


def label_pairs(
    catalog: Catalog, attribute_id: int, image_ids: Sequence[int] | np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(row in ``image_ids``, label id) for every label of the attribute on those images."""
    with catalog.session() as s:
        query = select(Annotation.image_id, Annotation.label_id).where(Annotation.attribute_id == attribute_id)
        pairs = np.array(s.connection().execute(query).all(), dtype=np.int64).reshape(-1, 2)
    rows = _rows_of(image_ids, pairs[:, 0])
    keep = rows >= 0
    return rows[keep], pairs[keep, 1]


def splits(catalog: Catalog, image_ids: Sequence[int] | np.ndarray) -> np.ndarray:
    """Each image's split as an index of :data:`SPLITS` ("none": no split)."""
    result = np.full(len(image_ids), SPLITS.index("none"), dtype=np.int8)
    with catalog.session() as s:
        for split in SPLITS[:3]:
            found = np.array(list(s.scalars(select(Image.id).where(Image.split == split))), dtype=np.int64)
            rows = _rows_of(image_ids, found)
            result[rows[rows >= 0]] = SPLITS.index(split)
    return result


def top_predictions(
    catalog: Catalog, run_id: int, image_ids: Sequence[int] | np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Each image's top predicted label id (-1: no prediction) and its score (NaN)."""
    labels = np.full(len(image_ids), -1, dtype=np.int64)
    scores = np.full(len(image_ids), np.nan, dtype=np.float32)
    with catalog.session() as s:
        query = select(Prediction.image_id, Prediction.label_id, Prediction.confidence).where(
            Prediction.run_id == run_id
        )
        found = s.connection().execute(query).all()
    if found:
        table = np.array(found, dtype=np.float64)
        rows = _rows_of(image_ids, table[:, 0].astype(np.int64))
        keep = rows >= 0
        labels[rows[keep]] = table[keep, 1].astype(np.int64)
        scores[rows[keep]] = table[keep, 2]
    return labels, scores
