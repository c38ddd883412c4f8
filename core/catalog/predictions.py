"""A run's predictions for catalog images: which images to predict, writing them, reading them back.

One ``prediction`` row per (run, image) holds every label's score (float32, in the run's label order), the top
label's id and its score (the confidence), so Browse filters and sorts by prediction in SQL. Computing scores is
:mod:`core.curation.predict`; this module only stores them. Re-predicting replaces a run's rows for those images
in one transaction: a cancelled or failed write leaves the previous predictions as they were.
"""

from __future__ import annotations

import threading
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from sqlalchemy import delete, exists, insert, select

from core.base.errors import TailorError
from core.base.iteration import IDS_PER_QUERY, ROWS_PER_WRITE, chunks
from core.catalog.records import Split
from core.catalog.schema import Annotation, Image, Label, Prediction, Run, utcnow
from core.catalog.store import Catalog, check_split

if TYPE_CHECKING:
    import numpy as np

SCOPES = ("unlabeled", "all", "split")


@dataclass(frozen=True)
class PredictionInfo:
    """One image's prediction by one run: the top label and its score, and every label's score by name."""

    image_id: int
    label: str
    confidence: float
    scores: dict[str, float]


class WriteCancelled(Exception):
    """Raised inside the write transaction when cancelled: it rolls back."""


def run_attribute_id(catalog: Catalog, run_id: int) -> int | None:
    with catalog.session() as s:
        return cast("int | None", s.scalar(select(Run.attribute_id).where(Run.id == run_id)))


def label_names(catalog: Catalog, attribute_id: int) -> dict[int, str]:
    """Label id -> current name of the attribute's labels."""
    with catalog.session() as s:
        rows = s.execute(select(Label.id, Label.name).where(Label.attribute_id == attribute_id))
        return {int(label_id): str(name) for label_id, name in rows}


def scope_ids(catalog: Catalog, attribute_id: int, scope: str, split: str | None = None) -> list[int]:
    """Image ids to predict, by id: ``unlabeled`` (no label of the attribute), ``all``, or ``split`` (one split)."""
    if scope not in SCOPES:
        raise TailorError(f"unknown scope '{scope}' (expected one of {', '.join(SCOPES)})")
    query = select(Image.id).order_by(Image.id)
    if scope == "unlabeled":
        query = query.where(~exists().where(Annotation.image_id == Image.id, Annotation.attribute_id == attribute_id))
    elif scope == "split":
        if split is None:
            raise TailorError(f"--split needs one of {', '.join(Split)}")
        query = query.where(Image.split == check_split(split))
    with catalog.session() as s:
        return list(s.scalars(query))


def image_paths(catalog: Catalog, image_ids: Sequence[int]) -> tuple[list[str], list[str]]:
    """Paths and content hashes of ``image_ids`` (in that order)."""
    found: dict[int, tuple[str, str]] = {}
    with catalog.session() as s:
        for chunk in chunks(image_ids, IDS_PER_QUERY):
            for image_id, path, digest in s.execute(
                select(Image.id, Image.path, Image.content_hash).where(Image.id.in_(chunk))
            ):
                found[image_id] = (path, digest)
    missing = [i for i in image_ids if i not in found]
    if missing:
        raise TailorError(f"image {missing[0]} was deleted meanwhile; predict again")
    return [found[i][0] for i in image_ids], [found[i][1] for i in image_ids]


def write(
    catalog: Catalog,
    run_id: int,
    label_ids: Sequence[int],
    image_ids: Sequence[int],
    scores: np.ndarray,
    *,
    cancel: threading.Event | None = None,
) -> Generator[int, None, bool]:
    """Replace the run's predictions of ``image_ids`` by ``scores`` (N x C, the run's label order) in one
    transaction, yielding the rows written so far; False (nothing changed) when cancelled."""
    import numpy as np

    top = np.argmax(scores, axis=1) if len(image_ids) else np.zeros(0, dtype=np.int64)
    now = utcnow()
    try:
        with catalog.session(write=True) as s:
            for chunk in chunks(list(image_ids), IDS_PER_QUERY):
                s.execute(delete(Prediction).where(Prediction.run_id == run_id, Prediction.image_id.in_(chunk)))
            for start in range(0, len(image_ids), ROWS_PER_WRITE):
                _check(cancel)
                rows = [
                    {
                        "run_id": run_id,
                        "image_id": int(image_ids[i]),
                        "label_id": int(label_ids[top[i]]),
                        "confidence": float(scores[i, top[i]]),
                        "scores": np.asarray(scores[i], dtype=np.float32).tobytes(),
                        "created_at": now,
                    }
                    for i in range(start, min(start + ROWS_PER_WRITE, len(image_ids)))
                ]
                s.execute(insert(Prediction), rows)
                yield start + len(rows)
            _check(cancel)  # the last chance before the commit
    except WriteCancelled:
        return False
    return True


def _check(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise WriteCancelled


def count(catalog: Catalog, run_id: int) -> int:
    from sqlalchemy import func

    with catalog.session() as s:
        return int(s.scalar(select(func.count(Prediction.id)).where(Prediction.run_id == run_id)) or 0)


def runs_with_predictions(catalog: Catalog, attribute_id: int) -> list[int]:
    """Ids of the attribute's runs that have predictions, newest first."""
    with catalog.session() as s:
        query = (
            select(Run.id)
            .where(Run.attribute_id == attribute_id, exists().where(Prediction.run_id == Run.id))
            .order_by(Run.id.desc())
        )
        return list(s.scalars(query))


def read(catalog: Catalog, run_id: int, image_ids: Sequence[int], label_names: Sequence[str]) -> list[PredictionInfo]:
    """The run's predictions of ``image_ids`` (in that order; images without one are left out)."""
    import numpy as np

    found: dict[int, PredictionInfo] = {}
    with catalog.session() as s:
        for chunk in chunks(list(image_ids), IDS_PER_QUERY):
            query = (
                select(Prediction.image_id, Label.name, Prediction.confidence, Prediction.scores)
                .join(Label, Label.id == Prediction.label_id)
                .where(Prediction.run_id == run_id, Prediction.image_id.in_(chunk))
            )
            for image_id, name, confidence, raw in s.execute(query):
                values = np.frombuffer(raw, dtype=np.float32)
                scores = {label: float(v) for label, v in zip(label_names, values)}
                found[image_id] = PredictionInfo(image_id, name, float(confidence), scores)
    return [found[i] for i in image_ids if i in found]


def score_matrix(catalog: Catalog, run_id: int, image_ids: Sequence[int], width: int) -> np.ndarray:
    """The run's scores of ``image_ids`` (N x C float32; a row of NaN where the run has no prediction)."""
    import numpy as np

    result = np.full((len(image_ids), width), np.nan, dtype=np.float32)
    position = {image_id: row for row, image_id in enumerate(image_ids)}
    with catalog.session() as s:
        for chunk in chunks(list(image_ids), IDS_PER_QUERY):
            query = select(Prediction.image_id, Prediction.scores).where(
                Prediction.run_id == run_id, Prediction.image_id.in_(chunk)
            )
            for image_id, raw in s.execute(query):
                result[position[image_id]] = np.frombuffer(raw, dtype=np.float32)
    return result
