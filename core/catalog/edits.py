"""Undoable catalog edits: label assignment and removal, and label / attribute management.

Every edit function changes the catalog in one transaction and returns an :class:`Edit`: the exact rows it
deleted, inserted and updated (all columns, ids included). :func:`revert` undoes an edit and :func:`reapply`
redoes it, each in one transaction, and each first checks that the rows are still as the edit left them (or
found them): an edit made meanwhile by someone else is reported as a :class:`~core.base.errors.TailorError`, never
silently overwritten. Undoing then redoing restores the catalog row for row, ids and timestamps included.

The window's ``QUndoStack`` commands and the CLI call these functions; nothing here knows about Qt.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from core.base.errors import TailorError
from core.base.iteration import IDS_PER_QUERY, chunks
from core.catalog.names import check_name
from core.catalog.records import SOURCES, Kind
from core.catalog.schema import Annotation, Attribute, Label, LabelAnswer, LabelReview, Run, utcnow
from core.catalog.store import Catalog, check_kind

_TABLES: dict[str, type[Attribute] | type[Label] | type[Annotation] | type[LabelReview] | type[LabelAnswer]] = {
    "attribute": Attribute,
    "label": Label,
    "annotation": Annotation,
    "label_review": LabelReview,
    "label_answer": LabelAnswer,
}
_PARENTS_FIRST = ("attribute", "label", "annotation", "label_review", "label_answer")


@dataclass(frozen=True)
class Rows:
    """Whole rows of one table: ``columns`` names and one tuple of values per row (``id`` first)."""

    table: str
    columns: tuple[str, ...]
    values: tuple[tuple, ...]

    def dicts(self) -> list[dict]:
        return [dict(zip(self.columns, row)) for row in self.values]

    @property
    def ids(self) -> list[int]:
        return [row[0] for row in self.values]


@dataclass(frozen=True)
class Update:
    """One row's changed columns: values before and after."""

    table: str  # "attribute" | "label" | "run"
    id: int
    before: dict
    after: dict


@dataclass(frozen=True)
class Edit:
    """What one edit did. ``images`` lists the images whose labels changed (for refreshing views)."""

    description: str
    deleted: tuple[Rows, ...] = ()
    inserted: tuple[Rows, ...] = ()
    updated: tuple[Update, ...] = ()
    images: tuple[int, ...] = ()
    attributes: tuple[int, ...] = ()  # attributes whose labels or counts changed

    @property
    def empty(self) -> bool:
        return not (any(r.values for r in self.deleted) or any(r.values for r in self.inserted) or self.updated)

    @property
    def sentence(self) -> str:
        """The description as a sentence ("Label 3 images 'puff'"): what the CLI and the window's status bar say."""
        return self.description[:1].upper() + self.description[1:]

    def inverse(self) -> Edit:
        return Edit(
            f"undo {self.description}",
            deleted=self.inserted,
            inserted=self.deleted,
            updated=tuple(Update(u.table, u.id, u.after, u.before) for u in self.updated),
            images=self.images,
            attributes=self.attributes,
        )


def _columns(table: str) -> tuple[str, ...]:
    return tuple(c.name for c in _TABLES[table].__table__.columns)


def _fetch(s: Session, table: str, ids: Sequence[int]) -> dict[int, tuple]:
    model = _TABLES[table]
    cols = [getattr(model, c) for c in _columns(table)]
    found: dict[int, tuple] = {}
    for chunk in chunks(ids, IDS_PER_QUERY):
        for row in s.execute(select(*cols).where(model.id.in_(chunk))):
            found[row[0]] = tuple(row)
    return found


def _delete_ids(s: Session, table: str, ids: Sequence[int]) -> None:
    model = _TABLES[table]
    for chunk in chunks(ids, IDS_PER_QUERY):
        s.execute(delete(model).where(model.id.in_(chunk)))


def _changed_elsewhere(what: str) -> TailorError:
    return TailorError(f"the catalog changed since this edit ({what}); refresh and try again")


def _apply(s: Session, edit: Edit) -> None:
    """Delete, update and insert exactly the edit's rows, after checking the catalog still matches."""
    # Updates that unlink rows (run.attribute_id -> NULL) go before the deletes that would cascade to them;
    # the others (renames, re-linking) after the inserts they may point to.
    early = [u for u in edit.updated if all(v is None for v in u.after.values())]
    _update(s, early)
    by_table = {r.table: r for r in edit.deleted}
    for table in reversed(_PARENTS_FIRST):  # children first: nothing may cascade unseen
        rows = by_table.get(table)
        if rows is None or not rows.values:
            continue
        current = _fetch(s, table, rows.ids)
        for row in rows.values:
            if current.get(row[0]) != row:
                raise _changed_elsewhere(f"{table} {row[0]} is no longer as it was")
        _delete_ids(s, table, rows.ids)
    by_table = {r.table: r for r in edit.inserted}
    for table in _PARENTS_FIRST:
        rows = by_table.get(table)
        if rows is None or not rows.values:
            continue
        if _fetch(s, table, rows.ids):
            raise _changed_elsewhere(f"{table} ids are taken")
        s.execute(insert(_TABLES[table]), rows.dicts())
    _update(s, [u for u in edit.updated if u not in early])


def _update(s: Session, updates: Iterable[Update]) -> None:
    for u in updates:
        model = Run if u.table == "run" else _TABLES[u.table]
        cols = [getattr(model, c) for c in u.before]
        row = s.execute(select(*cols).where(model.id == u.id)).first()
        if row is None or tuple(row) != tuple(u.before.values()):
            raise _changed_elsewhere(f"{u.table} {u.id} was changed")
        s.execute(update(model).where(model.id == u.id).values(**u.after))


def reapply(catalog: Catalog, edit: Edit) -> None:
    """Redo an edit that was reverted."""
    with catalog.session(write=True) as s:
        _apply(s, edit)


def revert(catalog: Catalog, edit: Edit) -> None:
    """Undo an edit."""
    with catalog.session(write=True) as s:
        _apply(s, edit.inverse())


# -- building edits ---------------------------------------------------------------------------------------


def _insert_rows(s: Session, table: str, dicts: list[dict]) -> Rows:
    """Insert new rows (no ids yet) and return them whole, with the ids the database gave them."""
    model = _TABLES[table]
    columns = _columns(table)
    if not dicts:
        return Rows(table, columns, ())
    ids = list(s.scalars(insert(model).returning(model.id, sort_by_parameter_order=True), dicts))
    values = tuple((id_, *(d[c] for c in columns[1:])) for id_, d in zip(ids, dicts))
    return Rows(table, columns, values)


def _delete_rows(s: Session, table: str, ids: Sequence[int]) -> Rows:
    ids = sorted(set(ids))
    current = _fetch(s, table, ids)
    _delete_ids(s, table, ids)
    return Rows(table, _columns(table), tuple(current[i] for i in ids))


def _label(s: Session, label_id: int) -> tuple[int, str, int, str, str]:
    row = s.execute(
        select(Label.id, Label.name, Attribute.id, Attribute.name, Attribute.kind)
        .join(Attribute, Label.attribute_id == Attribute.id)
        .where(Label.id == label_id)
    ).first()
    if row is None:
        raise TailorError(f"no label with id {label_id} (deleted meanwhile?)")
    lid, name, attribute_id, attribute_name, kind = row
    return lid, name, attribute_id, attribute_name, kind


def _attribute(s: Session, attribute_id: int) -> tuple[int, str, str]:
    row = s.execute(select(Attribute.id, Attribute.name, Attribute.kind).where(Attribute.id == attribute_id)).first()
    if row is None:
        raise TailorError(f"no attribute with id {attribute_id} (deleted meanwhile?)")
    aid, name, kind = row
    return aid, name, kind


def _annotations_of(s: Session, attribute_id: int, image_ids: Sequence[int]) -> list[tuple[int, int, int, str]]:
    """(annotation id, image id, label id, source) of ``image_ids`` in one attribute."""
    found: list[tuple[int, int, int, str]] = []
    for chunk in chunks(image_ids, IDS_PER_QUERY):
        found += s.execute(
            select(Annotation.id, Annotation.image_id, Annotation.label_id, Annotation.source).where(
                Annotation.attribute_id == attribute_id, Annotation.image_id.in_(chunk)
            )
        ).all()
    return found


def _answers_of(s: Session, label_ids: Sequence[int]) -> Rows:
    """Delete the Label next answers about these labels (whole rows: undo brings them back)."""
    return _delete_rows(
        s, "label_answer", list(s.scalars(select(LabelAnswer.id).where(LabelAnswer.label_id.in_(label_ids))))
    )


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def assign(
    catalog: Catalog,
    image_ids: Iterable[int],
    label_id: int,
    *,
    source: str = "human",
    seen: Mapping[int, Sequence[str]] | None = None,
) -> Edit:
    """Give ``label_id`` to every image. On a single-label attribute an image's other label is replaced.

    ``seen``: the label names of (some of) the images as the user saw them. On a single-label attribute, an image
    relabelled by someone else since then makes the whole edit fail (nothing written) instead of silently
    overwriting the other person's label."""
    if source not in SOURCES:
        raise TailorError(f"unknown annotation source '{source}' (expected one of {', '.join(SOURCES)})")
    images = sorted(set(image_ids))
    with catalog.session(write=True) as s:
        _, label_name, attribute_id, _attribute_name, kind = _label(s, label_id)
        existing = _annotations_of(s, attribute_id, images)
        if seen and kind == Kind.SINGLE:
            _check_seen(s, attribute_id, existing, seen)
        has = {img for _, img, lab, _ in existing if lab == label_id}
        stale = [ann for ann, _, lab, _ in existing if kind == Kind.SINGLE and lab != label_id]
        deleted = _delete_rows(s, "annotation", stale)
        now = utcnow()
        new = [
            {"image_id": img, "label_id": label_id, "attribute_id": attribute_id, "source": source, "created_at": now}
            for img in images
            if img not in has
        ]
        inserted = _insert_rows(s, "annotation", new)
    changed = sorted({int(row[1]) for row in deleted.values} | {img for img in images if img not in has})
    return Edit(
        f"label {_plural(len(images), 'image')} '{label_name}'",
        deleted=(deleted,),
        inserted=(inserted,),
        images=tuple(changed),
        attributes=(attribute_id,),
    )


def _check_seen(
    s: Session, attribute_id: int, existing: list[tuple[int, int, int, str]], seen: Mapping[int, Sequence[str]]
) -> None:
    names = dict(s.execute(select(Label.id, Label.name).where(Label.attribute_id == attribute_id)).all())
    now: dict[int, list[str]] = {}
    for _, image, label, _ in existing:
        now.setdefault(image, []).append(names[label])
    changed = [
        (image, sorted(now.get(image, ())), sorted(seen[image]))
        for image in sorted(seen)
        if sorted(now.get(image, ())) != sorted(seen[image])
    ]
    if changed:
        image, current, before = changed[0]
        raise TailorError(
            f"{_plural(len(changed), 'image')} relabelled elsewhere since shown (image {image}: now "
            f"{'/'.join(current) or 'no label'}, shown {'/'.join(before) or 'no label'}); nothing "
            f"changed: refresh (F5) and label again"
        )


def remove(catalog: Catalog, image_ids: Iterable[int], label_id: int) -> Edit:
    """Take ``label_id`` off every image that has it."""
    images = sorted(set(image_ids))
    with catalog.session(write=True) as s:
        _, label_name, attribute_id, _, _ = _label(s, label_id)
        gone = [ann for ann, _, lab, _ in _annotations_of(s, attribute_id, images) if lab == label_id]
        deleted = _delete_rows(s, "annotation", gone)
    return Edit(
        f"remove '{label_name}' from {_plural(len(deleted.values), 'image')}",
        deleted=(deleted,),
        images=tuple(sorted(row[1] for row in deleted.values)),
        attributes=(attribute_id,),
    )


def clear(catalog: Catalog, image_ids: Iterable[int], attribute_id: int) -> Edit:
    """Take every label of one attribute off the images (they become unlabeled for it)."""
    images = sorted(set(image_ids))
    with catalog.session(write=True) as s:
        _, name, _ = _attribute(s, attribute_id)
        deleted = _delete_rows(s, "annotation", [ann for ann, *_ in _annotations_of(s, attribute_id, images)])
    return Edit(
        f"clear '{name}' on {_plural(len({r[1] for r in deleted.values}), 'image')}",
        deleted=(deleted,),
        images=tuple(sorted({row[1] for row in deleted.values})),
        attributes=(attribute_id,),
    )


def _check_name(name: str, what: str) -> str:
    return check_name(name, f"{what} name")


def create_attribute(catalog: Catalog, name: str, kind: str = Kind.SINGLE) -> Edit:
    name, kind = _check_name(name, "attribute"), check_kind(kind)
    with catalog.session(write=True) as s:
        if s.scalar(select(Attribute.id).where(Attribute.name == name)) is not None:
            raise TailorError(f"attribute '{name}' already exists")
        inserted = _insert_rows(s, "attribute", [{"name": name, "kind": kind, "created_at": utcnow()}])
    return Edit(f"new attribute '{name}'", inserted=(inserted,), attributes=(inserted.ids[0],))


def rename_attribute(catalog: Catalog, attribute_id: int, new_name: str) -> Edit:
    new_name = _check_name(new_name, "attribute")
    with catalog.session(write=True) as s:
        _, old, _ = _attribute(s, attribute_id)
        if old == new_name:
            return Edit(f"rename attribute '{old}'", attributes=(attribute_id,))
        if s.scalar(select(Attribute.id).where(Attribute.name == new_name)) is not None:
            raise TailorError(f"attribute '{new_name}' already exists")
        s.execute(update(Attribute).where(Attribute.id == attribute_id).values(name=new_name))
    return Edit(
        f"rename attribute '{old}' to '{new_name}'",
        updated=(Update("attribute", attribute_id, {"name": old}, {"name": new_name}),),
        attributes=(attribute_id,),
    )


def delete_attribute(catalog: Catalog, attribute_id: int) -> Edit:
    """Delete an attribute with its labels and annotations (runs keep their records, unlinked)."""
    with catalog.session(write=True) as s:
        _, name, _ = _attribute(s, attribute_id)
        runs = list(s.scalars(select(Run.id).where(Run.attribute_id == attribute_id)))
        updates = tuple(Update("run", r, {"attribute_id": attribute_id}, {"attribute_id": None}) for r in runs)
        if runs:
            s.execute(update(Run).where(Run.id.in_(runs)).values(attribute_id=None))
        annotations = _delete_rows(
            s, "annotation", list(s.scalars(select(Annotation.id).where(Annotation.attribute_id == attribute_id)))
        )
        # what would cascade, taken whole so that undo brings it back
        reviews = _delete_rows(
            s, "label_review", list(s.scalars(select(LabelReview.id).where(LabelReview.attribute_id == attribute_id)))
        )
        answers = _delete_rows(
            s, "label_answer", list(s.scalars(select(LabelAnswer.id).where(LabelAnswer.attribute_id == attribute_id)))
        )
        labels = _delete_rows(s, "label", list(s.scalars(select(Label.id).where(Label.attribute_id == attribute_id))))
        attribute = _delete_rows(s, "attribute", [attribute_id])
    return Edit(
        f"delete attribute '{name}'",
        deleted=(attribute, labels, annotations, reviews, answers),
        updated=updates,
        images=tuple(sorted({r[1] for r in annotations.values})),
        attributes=(attribute_id,),
    )


def create_label(catalog: Catalog, attribute_id: int, name: str) -> Edit:
    name = _check_name(name, "label")
    with catalog.session(write=True) as s:
        _, attribute_name, _ = _attribute(s, attribute_id)
        if s.scalar(select(Label.id).where(Label.attribute_id == attribute_id, Label.name == name)) is not None:
            raise TailorError(f"label '{name}' already exists in '{attribute_name}'")
        inserted = _insert_rows(s, "label", [{"attribute_id": attribute_id, "name": name}])
    return Edit(f"new label '{name}'", inserted=(inserted,), attributes=(attribute_id,))


def rename_label(catalog: Catalog, label_id: int, new_name: str) -> Edit:
    new_name = _check_name(new_name, "label")
    with catalog.session(write=True) as s:
        _, old, attribute_id, attribute_name, _ = _label(s, label_id)
        if old == new_name:
            return Edit(f"rename label '{old}'", attributes=(attribute_id,))
        if s.scalar(select(Label.id).where(Label.attribute_id == attribute_id, Label.name == new_name)) is not None:
            raise TailorError(f"label '{new_name}' already exists in '{attribute_name}' (merge the labels instead)")
        s.execute(update(Label).where(Label.id == label_id).values(name=new_name))
    return Edit(
        f"rename label '{old}' to '{new_name}'",
        updated=(Update("label", label_id, {"name": old}, {"name": new_name}),),
        attributes=(attribute_id,),
    )


def delete_label(catalog: Catalog, label_id: int) -> Edit:
    """Delete a label and take it off every image."""
    with catalog.session(write=True) as s:
        _, name, attribute_id, _, _ = _label(s, label_id)
        annotations = _delete_rows(
            s, "annotation", list(s.scalars(select(Annotation.id).where(Annotation.label_id == label_id)))
        )
        answers = _answers_of(s, [label_id])
        label = _delete_rows(s, "label", [label_id])
    return Edit(
        f"delete label '{name}'",
        deleted=(label, annotations, answers),
        images=tuple(sorted(r[1] for r in annotations.values)),
        attributes=(attribute_id,),
    )


def merge_labels(catalog: Catalog, label_ids: Iterable[int], into: int) -> Edit:
    """Move every image of ``label_ids`` to label ``into`` (same attribute) and delete those labels.

    An image that already has ``into`` keeps its own annotation; moved annotations keep their source.
    """
    sources = sorted(set(label_ids) - {into})
    if not sources:
        raise TailorError("choose at least one label other than the one to merge into")
    with catalog.session(write=True) as s:
        _, into_name, attribute_id, _, _ = _label(s, into)
        names = []
        for label_id in sources:
            _, name, other_attribute, _, _ = _label(s, label_id)
            if other_attribute != attribute_id:
                raise TailorError(f"label '{name}' belongs to another attribute than '{into_name}'")
            names.append(name)
        moving = s.execute(
            select(Annotation.id, Annotation.image_id, Annotation.source, Annotation.created_at)
            .where(Annotation.label_id.in_(sources))
            .order_by(Annotation.id)
        ).all()
        has = set(s.scalars(select(Annotation.image_id).where(Annotation.label_id == into)))
        annotations = _delete_rows(s, "annotation", [row[0] for row in moving])
        new, seen = [], set(has)
        for _, image_id, source, created_at in moving:
            if image_id not in seen:
                seen.add(image_id)
                new.append(
                    {
                        "image_id": image_id,
                        "label_id": into,
                        "attribute_id": attribute_id,
                        "source": source,
                        "created_at": created_at,
                    }
                )
        answers = _answers_of(s, sources)  # a "no" to a merged label says nothing about the label merged into
        labels = _delete_rows(s, "label", sources)
        inserted = _insert_rows(s, "annotation", new)
    listed = ", ".join(f"'{n}'" for n in names)
    return Edit(
        f"merge {listed} into '{into_name}'",
        deleted=(labels, annotations, answers),
        inserted=(inserted,),
        images=tuple(sorted({row[1] for row in annotations.values})),
        attributes=(attribute_id,),
    )
