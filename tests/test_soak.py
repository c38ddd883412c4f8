"""Soak: thousands of random annotation edits with undo and redo; the catalog always matches a plain model."""

from __future__ import annotations

import random
from collections import Counter

from sqlalchemy import text

from core.catalog import edits
from core.ingest.importer import import_source, run
from tests.conftest import make_garments

STEPS = 10_000


def _sql_truth(catalog) -> dict[tuple[int, int], str]:
    """(image, label) -> source, every annotation in the catalog."""
    with catalog.engine.connect() as conn:
        return {
            (i, lab): src for i, lab, src in conn.execute(text("SELECT image_id, label_id, source FROM annotation"))
        }


def _sql_counts(catalog) -> Counter:
    with catalog.engine.connect() as conn:
        return Counter(dict(conn.execute(text("SELECT label_id, COUNT(*) FROM annotation GROUP BY label_id")).all()))


def test_random_edits_undo_and_redo_keep_counts_equal_to_sql(catalog, tmp_path):
    make_garments(tmp_path / "images", {"long": 12, "short": 8, "cap": 3, "puff": 2})
    run(import_source(catalog, tmp_path / "images", "sleeve"))
    style = edits.create_attribute(catalog, "style", "multi").attributes[0]
    style_labels = [edits.create_label(catalog, style, name).inserted[0].ids[0] for name in ("boho", "formal", "sport")]
    with catalog.engine.connect() as conn:
        images = [r[0] for r in conn.execute(text("SELECT id FROM image"))]
        sleeve = [
            r[0]
            for r in conn.execute(
                text("SELECT l.id FROM label l JOIN attribute a ON a.id = l.attribute_id WHERE a.name = 'sleeve'")
            )
        ]
    kind = {label: "single" for label in sleeve} | {label: "multi" for label in style_labels}
    attribute_of = {label: ("sleeve" if label in sleeve else "style") for label in kind}
    model = _sql_truth(catalog)  # (image, label) -> source
    undo: list[tuple] = []  # (edit, model before, model after)
    redo: list[tuple] = []
    rng = random.Random(8)
    for step in range(STEPS):
        action = rng.choices(["assign", "remove", "clear", "undo", "redo"], [5, 2, 1, 2, 1.5])[0]
        before = dict(model)
        if action == "undo" and undo:
            edit, model_before, _ = undo.pop()
            edits.revert(catalog, edit)
            redo.append((edit, model_before, dict(model)))
            model = dict(model_before)
        elif action == "redo" and redo:
            edit, model_before, model_after = redo.pop()
            edits.reapply(catalog, edit)
            undo.append((edit, model_before, model_after))
            model = dict(model_after)
        elif action in ("assign", "remove", "clear"):
            chosen = rng.sample(images, rng.randint(1, 6))
            label = rng.choice(list(kind))
            if action == "assign":
                source = rng.choice(["human", "model"])
                edit = edits.assign(catalog, chosen, label, source=source)
                for image in chosen:
                    if kind[label] == "single":
                        for other in sleeve:
                            if other != label:
                                model.pop((image, other), None)
                    model.setdefault((image, label), source)
            elif action == "remove":
                edit = edits.remove(catalog, chosen, label)
                for image in chosen:
                    model.pop((image, label), None)
            else:
                group = sleeve if attribute_of[label] == "sleeve" else style_labels
                edit = edits.clear(catalog, chosen, _attribute_of(catalog, label))
                for image in chosen:
                    for other in group:
                        model.pop((image, other), None)
            undo.append((edit, before, dict(model)))
            redo.clear()
        else:
            continue
        assert _sql_counts(catalog) == Counter(label for _, label in model), f"step {step}: {action}"
        if step % 250 == 0:
            assert _sql_truth(catalog) == model, f"step {step}: {action}"
    assert _sql_truth(catalog) == model
    with catalog.engine.connect() as conn:  # a single-label attribute never holds two labels for one image
        most = conn.execute(
            text(
                "SELECT MAX(n) FROM (SELECT COUNT(*) AS n FROM annotation a JOIN attribute t "
                "ON t.id = a.attribute_id WHERE t.name = 'sleeve' GROUP BY a.image_id) AS x"
            )
        ).scalar()
    assert most in (None, 1)


def _attribute_of(catalog, label_id: int) -> int:
    with catalog.engine.connect() as conn:
        return conn.execute(text("SELECT attribute_id FROM label WHERE id = :i"), {"i": label_id}).scalar()


GUI_STEPS = 10_000


def test_window_soak_edits_undo_redo_views_match_sql(qtbot, tmp_path):
    """The window's undo stack and views under 10,000 random edits, undos and redos: at every checkpoint the label
    counts the window shows and the labels under loaded cells equal the catalog's; undoing everything restores it."""
    from core.catalog.browse import image_rows
    from core.catalog.store import Catalog
    from tests.qt_helpers import dump, open_window

    location = tmp_path / "soak.sqlite"
    make_garments(tmp_path / "images", {"long": 20, "short": 10, "cap": 4, "puff": 2}, size=(12, 12))
    with Catalog.create(location) as catalog:
        run(import_source(catalog, tmp_path / "images", "sleeve"))
    original = dump(location)
    window = open_window(qtbot, location)
    editor, model = window.workspace.editor, window.view("browser").model
    qtbot.waitUntil(lambda: model.row_info(0) is not None, timeout=10000)
    rng = random.Random(3)
    labels = list(window.workspace.state.labels)
    attribute = window.workspace.state.attribute
    images = [model.image_id(r) for r in range(model.rowCount())]

    def shown_equals_sql() -> bool:
        with Catalog(location) as catalog:
            truth = {c.name: c.count for c in catalog.label_counts("sleeve").labels}
            rows = {r.id: r.labels for r in image_rows(catalog, images, attribute.id)}
        counts = {info.name: info.count for info in window.workspace.state.labels}
        cells = [model.row_info(r) for r in range(model.rowCount())]
        return counts == truth and all(c is None or c.labels == rows[c.id] for c in cells)

    failures = []
    editor.failed.connect(failures.append)
    for step in range(1, GUI_STEPS + 1):
        action = rng.choices(["assign", "remove", "clear", "undo", "redo"], [5, 2, 1, 2, 1.5])[0]
        chosen = rng.sample(images, rng.randint(1, 4))
        info = rng.choice(labels)
        if action == "assign":
            editor.assign(chosen, info.id, info.name)
        elif action == "remove":
            editor.remove(chosen, info.id, info.name)
        elif action == "clear":
            editor.clear(chosen, attribute.id, attribute.name)
        elif action == "undo":
            window.undo()
        else:
            window.redo()
        if step % 500 == 0:
            assert editor.flush(60)
            qtbot.waitUntil(shown_equals_sql, timeout=15000)
    assert failures == []
    while editor.stack.canUndo():
        editor.stack.undo()
    assert editor.flush(120)
    assert dump(location) == original
    qtbot.waitUntil(shown_equals_sql, timeout=15000)
