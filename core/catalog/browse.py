"""Browsing queries: which images match a filter (ids in display order), pages of rows, one image's details.

The window's grid holds only the ordered id list (8 bytes an image); rows are read a page at a time by a worker
when they scroll into view. Everything returned is a plain dataclass.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence

from sqlalchemy import and_, exists, func, select
from sqlalchemy.sql.elements import ColumnElement

from core.base.errors import TailorError
from core.base.iteration import IDS_PER_QUERY, chunks
from core.catalog.records import (
    PREDICTION_SORTS,
    SORTS,
    SOURCES,
    AnnotationInfo,
    ImageDetail,
    ImageFilter,
    ImageRow,
    LabelInfo,
)
from core.catalog.schema import Annotation, Attribute, Image, Label, Prediction, RunImage
from core.catalog.store import Catalog, check_split, label_count_rows


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _conditions(f: ImageFilter) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if f.split == "none":
        where.append(Image.split.is_(None))
    elif f.split is not None:
        where.append(Image.split == check_split(f.split))
    if f.label_id is not None:
        has = exists().where(Annotation.image_id == Image.id, Annotation.label_id == f.label_id)
        where.append(has if f.has_label else ~has)
    if f.unlabeled:
        scope = [Annotation.image_id == Image.id]
        if f.attribute_id is not None:
            scope.append(Annotation.attribute_id == f.attribute_id)
        where.append(~exists().where(*scope))
    if f.source is not None:
        if f.source not in SOURCES:
            raise TailorError(f"unknown annotation source '{f.source}' (expected one of {', '.join(SOURCES)})")
        scope = [Annotation.image_id == Image.id, Annotation.source == f.source]
        if f.attribute_id is not None:
            scope.append(Annotation.attribute_id == f.attribute_id)
        where.append(exists().where(*scope))
    if f.run_id is not None:  # the images a run was tested on (its own record: the catalog's split may have moved)
        where.append(
            exists().where(RunImage.image_id == Image.id, RunImage.run_id == f.run_id, RunImage.split == "test")
        )
    if f.prediction_run is not None and (f.predicted_label_id is not None or f.disagrees or f.min_confidence > 0):
        where += _prediction_conditions(f)  # a prediction run alone only shows and sorts: every image stays
    elif f.predicted_label_id is not None or f.disagrees or f.min_confidence > 0:
        raise TailorError("filtering by prediction needs a prediction run")
    if f.text.strip():
        where.append(func.lower(Image.path).like(f"%{_escape_like(f.text.strip().lower())}%", escape="\\"))
    return where


def _prediction_conditions(f: ImageFilter) -> list[ColumnElement[bool]]:
    scope = [Prediction.image_id == Image.id, Prediction.run_id == f.prediction_run]
    if f.predicted_label_id is not None:
        scope.append(Prediction.label_id == f.predicted_label_id)
    if f.min_confidence > 0:
        scope.append(Prediction.confidence >= f.min_confidence)
    if f.disagrees:  # the image has a label of the attribute, and not the predicted one
        if f.attribute_id is None:
            raise TailorError("'prediction disagrees with the label' needs an attribute")
        scope.append(~exists().where(Annotation.image_id == Image.id, Annotation.label_id == Prediction.label_id))
        scope.append(exists().where(Annotation.image_id == Image.id, Annotation.attribute_id == f.attribute_id))
    return [exists().where(*scope)]


ALL_IMAGES = ImageFilter()


def image_ids(catalog: Catalog, f: ImageFilter = ALL_IMAGES) -> array:
    """Ids of the images matching ``f`` in display order, as a compact ``array('q')``."""
    if f.sort not in SORTS:
        raise TailorError(f"unknown sort '{f.sort}' (expected one of {', '.join(SORTS)})")
    query = select(Image.id).where(and_(True, *_conditions(f)))
    if f.sort in PREDICTION_SORTS:
        if f.prediction_run is None:
            raise TailorError("sorting by confidence needs a prediction run")
        query = query.outerjoin(
            Prediction, and_(Prediction.image_id == Image.id, Prediction.run_id == f.prediction_run)
        )
        confidence = Prediction.confidence.desc() if f.sort == "confident" else Prediction.confidence.asc()
        query = query.order_by(confidence.nulls_last(), Image.path)
    else:
        order = {
            "path": (Image.path,),
            "newest": (Image.added_at.desc(), Image.path),
            "oldest": (Image.added_at, Image.path),
        }[f.sort]
        query = query.order_by(*order)
    ids = array("q")
    with catalog.session() as s:  # Core execution on the session's connection: half the ORM's time per row
        for chunk in s.connection().execute(query).scalars().partitions(20000):
            ids.extend(chunk)
    return ids


def image_rows(
    catalog: Catalog, ids: Sequence[int], attribute_id: int | None = None, prediction_run: int | None = None
) -> list[ImageRow]:
    """Rows of ``ids`` (in that order; ids deleted meanwhile are left out) with their labels of one attribute and
    the top label and confidence ``prediction_run`` predicted."""
    ids = list(ids)
    rows: dict[int, tuple[int, str, str, int, int, str | None]] = {}
    labels: dict[int, list[str]] = {}
    predicted: dict[int, tuple[str, float]] = {}
    with catalog.session() as s:
        for chunk in chunks(ids, IDS_PER_QUERY):
            part = chunk
            for row in s.execute(
                select(Image.id, Image.path, Image.content_hash, Image.width, Image.height, Image.split).where(
                    Image.id.in_(part)
                )
            ):
                image_id, path, digest, width, height, split = row
                rows[image_id] = (image_id, path, digest, width, height, split)
            if attribute_id is not None:
                for image_id, name in s.execute(
                    select(Annotation.image_id, Label.name)
                    .join(Label, Label.id == Annotation.label_id)
                    .where(Annotation.attribute_id == attribute_id, Annotation.image_id.in_(part))
                    .order_by(Label.name)
                ):
                    labels.setdefault(image_id, []).append(name)
            if prediction_run is not None:
                for image_id, name, confidence in s.execute(
                    select(Prediction.image_id, Label.name, Prediction.confidence)
                    .join(Label, Label.id == Prediction.label_id)
                    .where(Prediction.run_id == prediction_run, Prediction.image_id.in_(part))
                ):
                    predicted[image_id] = (name, float(confidence))
    return [
        ImageRow(*rows[i], labels=tuple(labels.get(i, ())), predicted=predicted.get(i, (None, None))[0],
                 confidence=predicted.get(i, (None, None))[1])
        for i in ids
        if i in rows
    ]  # fmt: skip


def image_detail(catalog: Catalog, image_id: int) -> ImageDetail:
    with catalog.session() as s:
        image = s.get(Image, image_id)
        if image is None:
            raise TailorError(f"no image with id {image_id} (deleted meanwhile?)")
        annotations = tuple(
            AnnotationInfo(*row)
            for row in s.execute(
                select(Attribute.name, Label.name, Annotation.source, Annotation.created_at)
                .join(Label, Label.id == Annotation.label_id)
                .join(Attribute, Attribute.id == Annotation.attribute_id)
                .where(Annotation.image_id == image_id)
                .order_by(Attribute.name, Label.name)
            )
        )
        return ImageDetail(
            image.id,
            image.path,
            image.content_hash,
            image.width,
            image.height,
            image.split,
            image.added_at,
            image.updated_at,
            annotations,
        )


def labels(catalog: Catalog, attribute_id: int) -> list[LabelInfo]:
    """Labels of an attribute by name (a stable order: the number keys 1-9 follow it) with their image counts."""
    with catalog.session() as s:
        rows = label_count_rows(s, attribute_id)
    return sorted((LabelInfo(*row) for row in rows), key=lambda info: (info.name.lower(), info.id))


def labels_of(
    catalog: Catalog, image_ids: Sequence[int], attribute_id: int | None = None
) -> dict[int, tuple[str, ...]]:
    """Each image's label names (of one attribute, or "attribute: label" across all), sorted; no entry: none."""
    found: dict[int, list[str]] = {}
    with catalog.session() as s:
        for chunk in chunks(list(image_ids), IDS_PER_QUERY):
            query = (
                select(Annotation.image_id, Attribute.name, Label.name)
                .join(Label, Label.id == Annotation.label_id)
                .join(Attribute, Attribute.id == Annotation.attribute_id)
                .where(Annotation.image_id.in_(chunk))
            )
            if attribute_id is not None:
                query = query.where(Annotation.attribute_id == attribute_id)
            for image_id, attribute, label in s.execute(query):
                found.setdefault(image_id, []).append(label if attribute_id is not None else f"{attribute}: {label}")
    return {image_id: tuple(sorted(names)) for image_id, names in found.items()}


def unlabeled_ids(catalog: Catalog, attribute_id: int | None = None) -> list[int]:
    """Images without a label of the attribute (of any attribute when None), by id."""
    condition = Annotation.image_id == Image.id
    if attribute_id is not None:
        condition = and_(condition, Annotation.attribute_id == attribute_id)
    with catalog.session() as s:
        return list(s.scalars(select(Image.id).where(~exists().where(condition)).order_by(Image.id)))


def all_ids(catalog: Catalog) -> list[int]:
    with catalog.session() as s:
        return list(s.scalars(select(Image.id).order_by(Image.id)))


def existing_ids(catalog: Catalog, image_ids: Sequence[int]) -> list[int]:
    """Those of ``image_ids`` that are images of the catalog."""
    found: list[int] = []
    with catalog.session() as s:
        for chunk in chunks(list(image_ids), IDS_PER_QUERY):
            found.extend(s.scalars(select(Image.id).where(Image.id.in_(chunk))))
    return found
