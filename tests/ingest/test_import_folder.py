"""Importing class-per-folder trees: counts, splits, idempotency, bad files, conflicts, cancel."""

from __future__ import annotations

import io
import os

import pytest
from PIL import Image
from sqlalchemy import text

from core.base.errors import TailorError
from core.ingest.importer import ImportProgress, import_source, run
from tests.conftest import png_bytes, write_image


def counts(catalog, attribute, split=None):
    return {c.name: c.count for c in catalog.label_counts(attribute, split).labels}


def snapshot(catalog):
    with catalog.engine.connect() as conn:
        return {
            table: conn.execute(text(f"SELECT * FROM {table} ORDER BY id")).all()
            for table in ("image", "attribute", "label", "annotation")
        }


def test_folder_import_counts_labels(catalog, tree):
    report = run(import_source(catalog, tree, "animal"))
    assert (report.new, report.updated, report.unchanged, report.skipped) == (9, 0, 0, [])
    assert report.labels_created == ["cat", "dog", "fox"]
    assert counts(catalog, "animal") == {"cat": 5, "dog": 3, "fox": 1}
    assert catalog.label_counts("animal").images == 9
    assert catalog.attribute("animal").kind == "single"


def test_reimport_is_idempotent_and_changed_content_updates(catalog, tree):
    run(import_source(catalog, tree, "animal"))
    before = snapshot(catalog)
    again = run(import_source(catalog, tree, "animal"))
    assert (again.new, again.updated, again.unchanged, again.annotations_added) == (0, 0, 9, 0)
    assert snapshot(catalog) == before
    write_image(tree / "cat" / "cat0.png", colour=(1, 2, 3), size=(12, 10))
    changed = run(import_source(catalog, tree, "animal"))
    assert (changed.new, changed.updated, changed.unchanged) == (0, 1, 8)
    with catalog.engine.connect() as conn:
        row = conn.execute(text("SELECT width, height, COUNT(*) OVER () FROM image WHERE path LIKE '%cat0.png'")).one()
    assert row == (12, 10, 1)
    assert counts(catalog, "animal") == {"cat": 5, "dog": 3, "fox": 1}


def test_split_folders_set_the_split(catalog, tmp_path):
    root = tmp_path / "data"
    for split, n in (("train", 4), ("val", 2), ("test", 1)):
        for i in range(n):
            write_image(root / split / "shirt" / f"{i}.png", colour=(i, n, 40))
    write_image(root / "train" / "dress" / "nested" / "d.png", colour=(9, 9, 9))
    run(import_source(catalog, root, "type"))
    assert counts(catalog, "type") == {"shirt": 7, "dress": 1}
    assert counts(catalog, "type", "train") == {"shirt": 4, "dress": 1}
    assert counts(catalog, "type", "test") == {"shirt": 1, "dress": 0}
    assert catalog.image_count("val") == 2


def test_mixed_split_and_label_folders_are_refused(catalog, tmp_path):
    write_image(tmp_path / "d" / "train" / "a" / "1.png")
    write_image(tmp_path / "d" / "cat" / "2.png")
    with pytest.raises(TailorError, match="mixes split folders"):
        run(import_source(catalog, tmp_path / "d", "x"))


def test_bad_files_are_skipped_with_reasons_and_good_ones_imported(catalog, tree):
    good_jpeg = io.BytesIO()
    Image.effect_noise((64, 64), 50).convert("RGB").save(good_jpeg, "JPEG")
    data = good_jpeg.getvalue()
    (tree / "cat" / "corrupt.jpg").write_bytes(data[:300] + bytes(len(data) - 300))
    (tree / "cat" / "empty.png").write_bytes(b"")
    png = png_bytes(size=(40, 40))
    (tree / "dog" / "truncated.png").write_bytes(png[: len(png) // 2])
    (tree / "dog" / "notes.txt").write_text("not an image\n")
    (tree / "loose.png").write_bytes(png)
    (tree / "cat" / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    (tree / "dog" / "gone.png").symlink_to(tree / "nowhere.png")
    report = run(import_source(catalog, tree, "animal"))
    reasons = {os.path.basename(p): r for p, r in report.skipped}
    assert set(reasons) == {"corrupt.jpg", "empty.png", "truncated.png", "notes.txt", "loose.png", "gone.png"}
    assert reasons["gone.png"] == "broken symbolic link"
    assert reasons["empty.png"] == "empty file (0 bytes)"
    assert reasons["truncated.png"].startswith("truncated image")
    assert reasons["notes.txt"] == "not an image (format not recognised)"
    assert reasons["corrupt.jpg"].startswith("corrupt image")
    assert reasons["loose.png"] == "not inside a label folder"
    assert report.new == 9
    assert counts(catalog, "animal") == {"cat": 5, "dog": 3, "fox": 1}


def test_decompression_bomb_is_refused_without_decoding(catalog, tmp_path):
    bomb = io.BytesIO()
    Image.new("1", (20000, 20000)).save(bomb, "PNG")  # 400 Mpixel declared, a few KB on disk
    (tmp_path / "t" / "x").mkdir(parents=True)
    (tmp_path / "t" / "x" / "bomb.png").write_bytes(bomb.getvalue())
    write_image(tmp_path / "t" / "x" / "fine.png")
    report = run(import_source(catalog, tmp_path / "t", "a"))
    assert report.new == 1
    [(path, reason)] = report.skipped
    assert path.endswith("bomb.png") and "decompression bomb" in reason


def test_kind_mismatch_is_refused_before_reading(catalog, tree):
    run(import_source(catalog, tree, "animal"))
    with pytest.raises(TailorError, match="single-label, not multi-label"):
        run(import_source(catalog, tree, "animal", multi_label=True))


def test_closing_the_generator_writes_nothing(catalog, tree):
    events = import_source(catalog, tree, "animal")
    seen = []
    for event in events:
        seen.append(event)
        if event.phase == "labels" and event.done > 0:
            events.close()
            break
    assert any(isinstance(e, ImportProgress) and e.phase == "reading" for e in seen)
    assert catalog.attributes() == []
    assert catalog.image_count() == 0


def test_progress_reaches_the_total(catalog, tree):
    events = list(e for e in import_source(catalog, tree, "animal"))
    reading = [e for e in events if e.phase == "reading"]
    assert reading[-1].done == reading[-1].total == 9
    assert events[-1] == ImportProgress("labels", 9, 9)
    assert [e.phase for e in events if e.done == 0] == ["scanning", "reading", "images", "labels"]
    for phase in ("reading", "images", "labels"):
        done = [e.done for e in events if e.phase == phase]
        assert done == sorted(done), f"{phase} progress went backwards: {done}"


def test_multi_label_folder_import(catalog, tree):
    report = run(import_source(catalog, tree, "tags", multi_label=True))
    assert report.kind == "multi"
    assert catalog.attribute("tags").kind == "multi"


def test_missing_source_is_one_clear_error(catalog, tmp_path):
    with pytest.raises(TailorError, match="no such folder or manifest"):
        run(import_source(catalog, tmp_path / "absent", "a"))
