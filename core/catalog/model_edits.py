"""Undoable edits that a model proposes and a person confirms: accepting predictions, and the decisions on a
suspected label error (keep the label, set other labels, remove it). Each returns an
:class:`~core.catalog.edits.Edit`, undone and redone by :func:`~core.catalog.edits.revert` /
:func:`~core.catalog.edits.reapply` like every other edit.

Accepting predictions never replaces a label a person set: an image that has a label of the attribute from a
person (source ``human``) or from an import (``import``, a person's labels brought in from a file) keeps it and is
counted as skipped; an image whose only labels came from a model gets the new prediction instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import select

from core.base.errors import TailorError
from core.base.iteration import IDS_PER_QUERY, chunks
from core.catalog.edits import Edit, _annotations_of, _attribute, _delete_rows, _insert_rows, _plural
from core.catalog.records import Kind
from core.catalog.schema import Label, LabelReview, Prediction, Run, utcnow
from core.catalog.store import Catalog

PERSON_SOURCES = ("human", "import")


@dataclass(frozen=True)
class Accepted:
    edit: Edit
    labelled: int  # images that got labels
    skipped: int  # images left alone: a person's label, or no prediction above its threshold


def _run_labels(catalog: Catalog, run_id: int) -> tuple[int, str, list[int]]:
    """The run's attribute id and kind, and its label ids in model output order."""
    import json

    with catalog.session() as s:
        row = s.execute(select(Run.attribute_id, Run.kind, Run.labels).where(Run.id == run_id)).first()
    if row is None:
        raise TailorError(f"no run {run_id} in this catalog")
    if row[0] is None:
        raise TailorError(f"run {run_id}'s attribute was deleted; its predictions have no labels")
    return int(row[0]), str(row[1]), [int(label["id"]) for label in json.loads(row[2])]


def accept_predictions(
    catalog: Catalog,
    run_id: int,
    image_ids: Sequence[int] | None = None,
    thresholds: Mapping[int, float | None] | None = None,
) -> Accepted:
    """Label images with the run's stored predictions, source ``model``, in one transaction.

    ``image_ids``: these images (a selection); None: every image the run predicted. ``thresholds``: label id ->
    the score a prediction needs (None or absent: that label is never accepted); without ``thresholds`` the top
    label is accepted (single-label) or every label scored at least 0.5 (multi-label)."""
    attribute_id, kind, label_ids = _run_labels(catalog, run_id)
    with catalog.session(write=True) as s:
        rows, chosen, gone, annotations = _choose(s, run_id, attribute_id, kind, label_ids, image_ids, thresholds)
        stale = [ann for ann, img, _, _ in annotations if img in chosen]
        deleted = _delete_rows(s, "annotation", stale)
        now = utcnow()
        new = [
            {"image_id": img, "label_id": label, "attribute_id": attribute_id, "source": "model", "created_at": now}
            for img in sorted(chosen)
            for label in chosen[img]
        ]
        inserted = _insert_rows(s, "annotation", new)
    left_out = f" ({_plural(gone, 'prediction')} of labels deleted or merged since the run left out)" if gone else ""
    edit = Edit(
        f"accept predictions of run {run_id} on {_plural(len(chosen), 'image')}{left_out}",
        deleted=(deleted,),
        inserted=(inserted,),
        images=tuple(sorted(chosen)),
        attributes=(attribute_id,),
    )
    return Accepted(edit, len(chosen), len(rows) - len(chosen))


def accept_counts(
    catalog: Catalog,
    run_id: int,
    image_ids: Sequence[int] | None = None,
    thresholds: Mapping[int, float | None] | None = None,
) -> dict[int, int]:
    """Label id -> the images :func:`accept_predictions` would give that label now (nothing is written): what
    the window shows before it accepts."""
    attribute_id, kind, label_ids = _run_labels(catalog, run_id)
    with catalog.session() as s:
        _, chosen, _, _ = _choose(s, run_id, attribute_id, kind, label_ids, image_ids, thresholds)
    counts = dict.fromkeys(label_ids, 0)
    for labels in chosen.values():
        for label in labels:
            counts[label] += 1
    return counts


def _choose(  # type: ignore[no-untyped-def]
    s,
    run_id: int,
    attribute_id: int,
    kind: str,
    label_ids: list[int],
    image_ids: Sequence[int] | None,
    thresholds: Mapping[int, float | None] | None,
) -> tuple[list[tuple[int, bytes]], dict[int, list[int]], int, list]:
    """The run's prediction rows of these images, the labels each image gets (never over a person's label), how
    many predictions name a label deleted or merged since the run, and the images' current annotations."""
    import numpy as np

    _attribute(s, attribute_id)
    existing = set(s.scalars(select(Label.id).where(Label.attribute_id == attribute_id)))
    query = select(Prediction.image_id, Prediction.scores).where(Prediction.run_id == run_id)
    rows: list[tuple[int, bytes]] = []
    if image_ids is None:
        rows = [(r[0], r[1]) for r in s.execute(query)]
    else:
        for chunk in chunks(sorted(set(image_ids)), IDS_PER_QUERY):
            rows += [(r[0], r[1]) for r in s.execute(query.where(Prediction.image_id.in_(chunk)))]
    annotations = _annotations_of(s, attribute_id, sorted(image_id for image_id, _ in rows))
    by_person = {img for _, img, _, source in annotations if source in PERSON_SOURCES}
    chosen: dict[int, list[int]] = {}
    gone = 0
    for image_id, raw in rows:
        if image_id in by_person:
            continue
        picked = _pick(np.frombuffer(raw, dtype=np.float32).tolist(), label_ids, kind, thresholds)
        kept = [label for label in picked if label in existing]
        gone += len(picked) - len(kept)
        if kept:
            chosen[image_id] = kept
    return rows, chosen, gone, annotations


def _pick(
    scores: Sequence[float], label_ids: list[int], kind: str, thresholds: Mapping[int, float | None] | None
) -> list[int]:
    if kind == Kind.SINGLE:
        best = max(range(len(scores)), key=lambda j: scores[j])
        if thresholds is None:
            return [label_ids[best]]
        needed = thresholds.get(label_ids[best])
        return [label_ids[best]] if needed is not None and scores[best] >= needed else []
    picked = []
    for j, score in enumerate(scores):
        needed = 0.5 if thresholds is None else thresholds.get(label_ids[j])
        if needed is not None and score >= needed:
            picked.append(label_ids[j])
    return picked


def set_labels(catalog: Catalog, image_id: int, attribute_id: int, label_ids: Sequence[int]) -> Edit:
    """Give one image exactly ``label_ids`` of the attribute (a person's decision: source ``human``); an empty list
    removes its labels."""
    wanted = sorted(set(label_ids))
    with catalog.session(write=True) as s:
        _, name, kind = _attribute(s, attribute_id)
        if kind == Kind.SINGLE and len(wanted) > 1:
            raise TailorError(f"'{name}' is single-label: give one label")
        known = dict(s.execute(select(Label.id, Label.name).where(Label.attribute_id == attribute_id)).all())
        unknown = [label for label in wanted if label not in known]
        if unknown:
            raise TailorError(f"label {unknown[0]} is not a label of '{name}' (deleted meanwhile?)")
        existing = _annotations_of(s, attribute_id, [image_id])
        have = {label for _, _, label, _ in existing}
        deleted = _delete_rows(s, "annotation", [ann for ann, _, label, _ in existing if label not in wanted])
        now = utcnow()
        new = [
            {"image_id": image_id, "label_id": label, "attribute_id": attribute_id, "source": "human",
             "created_at": now}
            for label in wanted
            if label not in have
        ]  # fmt: skip
        inserted = _insert_rows(s, "annotation", new)
    shown = "/".join(known[label] for label in wanted) or "no label"
    return Edit(
        f"label image {image_id} '{shown}'",
        deleted=(deleted,),
        inserted=(inserted,),
        images=(image_id,),
        attributes=(attribute_id,),
    )


def labels_key(label_ids: Sequence[int]) -> str:
    return " ".join(str(label) for label in sorted(set(label_ids)))


def keep_label(catalog: Catalog, image_id: int, attribute_id: int, label_ids: Sequence[int], features: str) -> Edit:
    """Remember that a person kept the image's labels although they were flagged: the same features never flag
    them again (:func:`kept`)."""
    with catalog.session(write=True) as s:
        _, name, _ = _attribute(s, attribute_id)
        row = {"image_id": image_id, "attribute_id": attribute_id, "labels": labels_key(label_ids),
               "features": features, "decision": "kept", "created_at": utcnow()}  # fmt: skip
        inserted = _insert_rows(s, "label_review", [row])
    return Edit(f"keep the '{name}' label of image {image_id}", inserted=(inserted,), images=(image_id,))


def keep_labels(catalog: Catalog, image_ids: Sequence[int], attribute_id: int, features: str) -> Edit:
    """:func:`keep_label` for several images at once, each with its labels of the attribute now, in one transaction
    (``tailor label-issues --keep``); an image without such a label is refused, one kept already is left as it is."""
    wanted = sorted(set(image_ids))
    with catalog.session(write=True) as s:
        _, name, _ = _attribute(s, attribute_id)
        given: dict[int, list[int]] = {}
        for _annotation, image, label, _source in _annotations_of(s, attribute_id, wanted):
            given.setdefault(image, []).append(label)
        missing = [image for image in wanted if image not in given]
        if missing:
            raise TailorError(f"image {missing[0]} has no '{name}' label: there is nothing to keep")
        done = {(image, key) for image, key in s.execute(
            select(LabelReview.image_id, LabelReview.labels).where(
                LabelReview.attribute_id == attribute_id, LabelReview.features == features))}  # fmt: skip
        now = utcnow()
        images = [image for image in wanted if (image, labels_key(given[image])) not in done]
        rows = [{"image_id": image, "attribute_id": attribute_id, "labels": labels_key(given[image]),
                 "features": features, "decision": "kept", "created_at": now} for image in images]  # fmt: skip
        inserted = _insert_rows(s, "label_review", rows)
    return Edit(f"keep the '{name}' labels of {_plural(len(images), 'image')}", inserted=(inserted,),
                images=tuple(images))  # fmt: skip


def kept(catalog: Catalog, attribute_id: int, features: str) -> set[tuple[int, str]]:
    """(image id, labels key) of the labels kept for these features."""
    with catalog.session() as s:
        query = select(LabelReview.image_id, LabelReview.labels).where(
            LabelReview.attribute_id == attribute_id, LabelReview.features == features
        )
        return {(int(image_id), str(labels)) for image_id, labels in s.execute(query)}


__all__ = ["Accepted", "accept_predictions", "keep_label", "keep_labels", "kept", "labels_key", "set_labels"]
