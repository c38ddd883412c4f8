"""Answers to the Label next queue's question "is this image a L?", as undoable edits (:mod:`core.catalog.edits`).

"Yes" labels the image with L, source ``human``; "no" is remembered in ``label_answer`` per image and label, so
the queue never proposes that image for L again (:func:`answered_no`). Deleting or merging a label takes its
answers with it (and undo brings them back).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select

from core.base.iteration import IDS_PER_QUERY, chunks
from core.catalog.edits import Edit, _insert_rows, _label, _plural, assign
from core.catalog.schema import LabelAnswer, utcnow
from core.catalog.store import Catalog


def answer_yes(catalog: Catalog, image_ids: Iterable[int], label_id: int) -> Edit:
    """The images are L: labelled with it by a person."""
    return assign(catalog, image_ids, label_id, source="human")


def answer_no(catalog: Catalog, image_ids: Iterable[int], label_id: int) -> Edit:
    """The images are not L: remembered, never proposed for L again (an image answered already is left alone)."""
    images = sorted(set(image_ids))
    with catalog.session(write=True) as s:
        _, name, attribute_id, _, _ = _label(s, label_id)
        known: set[int] = set()
        for chunk in chunks(images, IDS_PER_QUERY):
            query = select(LabelAnswer.image_id).where(
                LabelAnswer.label_id == label_id, LabelAnswer.image_id.in_(chunk)
            )
            known.update(s.scalars(query))
        now = utcnow()
        rows = [{"image_id": image_id, "attribute_id": attribute_id, "label_id": label_id, "answer": "no",
                 "created_at": now} for image_id in images if image_id not in known]  # fmt: skip
        inserted = _insert_rows(s, "label_answer", rows)
    return Edit(f"{_plural(len(images), 'image')} not '{name}'", inserted=(inserted,), images=tuple(images))


def answered_no(catalog: Catalog, label_id: int) -> set[int]:
    """The images a person said are not this label."""
    with catalog.session() as s:
        return set(s.scalars(select(LabelAnswer.image_id).where(LabelAnswer.label_id == label_id)))


__all__ = ["answer_no", "answer_yes", "answered_no"]
