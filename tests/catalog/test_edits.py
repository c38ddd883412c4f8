"""Undoable catalog edits: exact round trips (row for row), single-label rules, merges, conflicts."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from core.base.errors import TailorError
from core.catalog import edits
from core.catalog.schema import Annotation, Label
from core.ingest.importer import import_source, run
from tests.conftest import dump_tables as dump


@pytest.fixture
def loaded(catalog, tree):
    run(import_source(catalog, tree, "animal"))
    return catalog


def label_id(catalog, name: str) -> int:
    with catalog.session() as s:
        return s.scalar(select(Label.id).where(Label.name == name))


def labels_of(catalog, image_id: int) -> set[tuple[str, str]]:
    with catalog.session() as s:
        return set(
            s.execute(
                select(Label.name, Annotation.source)
                .join(Label, Label.id == Annotation.label_id)
                .where(Annotation.image_id == image_id)
            ).all()
        )


def all_images(catalog) -> list[int]:
    with catalog.engine.connect() as conn:
        return [r[0] for r in conn.execute(text("SELECT id FROM image ORDER BY path"))]


def roundtrip(catalog, make):
    """Apply ``make``, then undo, redo and undo again; the catalog must match at every step."""
    before = dump(catalog)
    edit = make()
    after = dump(catalog)
    assert after != before or edit.empty
    edits.revert(catalog, edit)
    assert dump(catalog) == before
    edits.reapply(catalog, edit)
    assert dump(catalog) == after
    edits.revert(catalog, edit)
    assert dump(catalog) == before
    edits.reapply(catalog, edit)
    return edit


def test_assign_single_label_replaces_and_round_trips(loaded):
    images = all_images(loaded)
    fox = label_id(loaded, "fox")
    edit = roundtrip(loaded, lambda: edits.assign(loaded, images[:4], fox))
    for image in images[:4]:
        names = {n for n, _ in labels_of(loaded, image)}
        assert names == {"fox"}
        assert labels_of(loaded, image) == {("fox", "human")}  # the imported cat label was replaced
    assert len(edit.images) == 4 and edit.attributes


def test_assign_multi_label_adds_and_remove_round_trips(catalog, tmp_path):
    from tests.conftest import write_image

    manifest = tmp_path / "m.csv"
    rows = ["path,labels"]
    for i in range(6):
        write_image(tmp_path / "img" / f"{i}.png", colour=(i * 30, 10, 10))
        rows.append(f"{tmp_path / 'img' / f'{i}.png'},{'a|b' if i % 2 else 'a'}")
    manifest.write_text("\n".join(rows) + "\n")
    run(import_source(catalog, manifest, "style", multi_label=True))
    images = all_images(catalog)
    b = label_id(catalog, "b")
    edit = roundtrip(catalog, lambda: edits.assign(catalog, images, b))
    assert len(edit.inserted[0].values) == 3  # only the three without b
    assert all({"a", "b"} == {n for n, _ in labels_of(catalog, i)} for i in images)
    a = label_id(catalog, "a")
    edit = roundtrip(catalog, lambda: edits.remove(catalog, images[:2], a))
    assert len(edit.deleted[0].values) == 2


def test_bulk_500_label_and_undo_leave_database_exactly_as_before(catalog, tmp_path):
    from tests.conftest import write_image

    root = tmp_path / "bulk"
    for i in range(600):
        write_image(root / ("common" if i % 10 else "rare") / f"{i}.png", colour=(i % 256, i // 256, 3), size=(4, 4))
    run(import_source(catalog, root, "kind"))
    rare = label_id(catalog, "rare")
    before = dump(catalog)
    edit = edits.assign(catalog, all_images(catalog)[:500], rare)
    assert len(edit.images) > 400
    edits.revert(catalog, edit)
    assert dump(catalog) == before


def test_clear_then_undo(loaded):
    attribute = loaded.attribute("animal").id
    edit = roundtrip(loaded, lambda: edits.clear(loaded, all_images(loaded)[:3], attribute))
    assert len(edit.images) == 3


def test_label_management_round_trips(loaded):
    attribute = loaded.attribute("animal").id
    created = roundtrip(loaded, lambda: edits.create_label(loaded, attribute, "wolf"))
    wolf = created.inserted[0].ids[0]
    roundtrip(loaded, lambda: edits.rename_label(loaded, wolf, "grey wolf"))
    roundtrip(
        loaded,
        lambda: edits.merge_labels(
            loaded, [label_id(loaded, "fox"), label_id(loaded, "dog")], into=label_id(loaded, "cat")
        ),
    )
    counts = {c.name: c.count for c in loaded.label_counts("animal").labels}
    assert counts == {"cat": 9, "grey wolf": 0}
    roundtrip(loaded, lambda: edits.delete_label(loaded, label_id(loaded, "cat")))
    assert {c.name for c in loaded.label_counts("animal").labels} == {"grey wolf"}


def test_attribute_management_round_trips(loaded):
    roundtrip(loaded, lambda: edits.create_attribute(loaded, "colour", "multi"))
    attribute = loaded.attribute("animal").id
    roundtrip(loaded, lambda: edits.rename_attribute(loaded, attribute, "species"))
    roundtrip(loaded, lambda: edits.delete_attribute(loaded, attribute))
    assert [a.name for a in loaded.attributes()] == ["colour"]


def test_merge_multi_label_keeps_one_annotation_per_image(catalog, tmp_path):
    from tests.conftest import write_image

    manifest = tmp_path / "m.csv"
    write_image(tmp_path / "x.png")
    write_image(tmp_path / "y.png", colour=(1, 2, 3))
    manifest.write_text(f"path,labels\n{tmp_path / 'x.png'},a|b\n{tmp_path / 'y.png'},b\n")
    run(import_source(catalog, manifest, "style", multi_label=True))
    roundtrip(catalog, lambda: edits.merge_labels(catalog, [label_id(catalog, "b")], into=label_id(catalog, "a")))
    assert {c.name: c.count for c in catalog.label_counts("style").labels} == {"a": 2}


def test_bad_names_and_conflicts_are_clear_errors(loaded):
    attribute = loaded.attribute("animal").id
    with pytest.raises(TailorError, match="already exists"):
        edits.create_label(loaded, attribute, "cat")
    with pytest.raises(TailorError, match="empty"):
        edits.rename_label(loaded, label_id(loaded, "cat"), "  ")
    with pytest.raises(TailorError, match="merge the labels instead"):
        edits.rename_label(loaded, label_id(loaded, "cat"), "dog")
    with pytest.raises(TailorError, match="other than"):
        edits.merge_labels(loaded, [label_id(loaded, "cat")], into=label_id(loaded, "cat"))
    with pytest.raises(TailorError, match="unknown annotation source"):
        edits.assign(loaded, [1], label_id(loaded, "cat"), source="robot")


def test_undo_refuses_to_overwrite_an_edit_made_elsewhere(loaded):
    images = all_images(loaded)
    fox, dog = label_id(loaded, "fox"), label_id(loaded, "dog")
    first = edits.assign(loaded, images[:2], fox)
    edits.assign(loaded, images[:1], dog)  # someone else relabels one of them
    before = dump(loaded)
    with pytest.raises(TailorError, match="changed since this edit"):
        edits.revert(loaded, first)
    assert dump(loaded) == before  # nothing half-done
