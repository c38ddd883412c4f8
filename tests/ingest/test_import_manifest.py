"""Importing CSV and Parquet manifests: good input, every kind of bad input, and a catalog left untouched."""

from __future__ import annotations

import string

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from core.base.errors import ManifestError, TailorError
from core.ingest.importer import import_source, run
from tests.conftest import write_image
from tests.ingest.test_import_folder import counts, snapshot


@pytest.fixture
def images(tmp_path):
    folder = tmp_path / "img"
    return [write_image(folder / f"{i}.png", colour=(i * 30, 10, 200)) for i in range(6)]


def write_csv(path, rows, columns=("path", "labels", "split")):
    pd.DataFrame(rows, columns=list(columns)).to_csv(path, index=False)
    return path


def test_csv_manifest_with_relative_paths_and_splits(catalog, images, tmp_path):
    manifest = write_csv(
        tmp_path / "m.csv",
        [
            ("img/0.png", "short", "train"),
            ("img/1.png", "short", "train"),
            ("img/2.png", "long", "test"),
            (str(images[3]), "puff", ""),
            ("img/4.png", "", "val"),
        ],
    )
    report = run(import_source(catalog, manifest, "sleeve"))
    assert (report.new, report.unlabeled, report.skipped) == (5, 1, [])
    assert counts(catalog, "sleeve") == {"short": 2, "long": 1, "puff": 1}
    assert counts(catalog, "sleeve", "train") == {"short": 2, "long": 0, "puff": 0}
    assert catalog.image_count("val") == 1
    assert catalog.label_counts("sleeve").images == 4


def test_parquet_multi_label_manifest(catalog, images, tmp_path):
    manifest = tmp_path / "m.parquet"
    pd.DataFrame(
        {"path": [str(p) for p in images[:3]], "labels": ["boho|casual", "casual", "formal | casual"]}
    ).to_parquet(manifest)
    run(import_source(catalog, manifest, "style", multi_label=True))
    assert counts(catalog, "style") == {"casual": 3, "boho": 1, "formal": 1}
    assert catalog.label_counts("style").images == 3


def test_parquet_list_column(catalog, images, tmp_path):
    manifest = tmp_path / "m.parquet"
    pd.DataFrame({"path": [str(images[0])], "labels": [["a", "b"]]}).to_parquet(manifest)
    run(import_source(catalog, manifest, "tags", multi_label=True))
    assert counts(catalog, "tags") == {"a": 1, "b": 1}


@pytest.mark.parametrize(
    "rows, columns, expected",
    [
        ([("img/0.png", "short")], ("path", "label"), r"m\.csv, column 'labels': missing column 'labels'"),
        ([("short",)], ("labels",), r"m\.csv, column 'path': missing column 'path'"),
        (
            [("img/0.png", "a", "train"), ("img/1.png", "b", "tset")],
            ("path", "labels", "split"),
            r"m\.csv, row 2 \(line 3\), column 'split': unknown split 'tset'",
        ),
        (
            [("img/0.png", "a", ""), ("img/nope.png", "b", "")],
            ("path", "labels", "split"),
            r"m\.csv, row 2 \(line 3\), column 'path': file not found: .*nope\.png",
        ),
        (
            [("img/0.png", "a|b", "")],
            ("path", "labels", "split"),
            r"m\.csv, row 1 \(line 2\), column 'labels': 2 labels \(a, b\) on single-label attribute 'sleeve'",
        ),
        (
            [("img/0.png", "a", ""), ("img/0.png", "b", "")],
            ("path", "labels", "split"),
            r"row 2 \(line 3\), column 'labels': .*listed again \(first in row 1\)",
        ),
        ([("", "a", "")], ("path", "labels", "split"), r"row 1 \(line 2\), column 'path': empty path"),
    ],
)
def test_bad_manifest_fails_with_one_line_and_changes_nothing(catalog, images, tmp_path, rows, columns, expected):
    run(import_source(catalog, images[0].parent.parent / "img", "other"))  # the catalog already holds things
    before = snapshot(catalog)
    manifest = write_csv(tmp_path / "m.csv", rows, columns)
    with pytest.raises(ManifestError, match=expected) as info:
        run(import_source(catalog, manifest, "sleeve"))
    assert "\n" not in str(info.value)
    assert snapshot(catalog) == before


def test_unsupported_and_unreadable_manifests(catalog, tmp_path):
    (tmp_path / "m.xlsx").write_text("x")
    with pytest.raises(TailorError, match="unsupported manifest type '.xlsx'"):
        run(import_source(catalog, tmp_path / "m.xlsx", "a"))
    (tmp_path / "m.parquet").write_text("not parquet")
    with pytest.raises(TailorError, match="cannot read PARQUET manifest"):
        run(import_source(catalog, tmp_path / "m.parquet", "a"))


def test_bad_image_in_a_manifest_is_skipped_not_fatal(catalog, images, tmp_path):
    (tmp_path / "img" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    manifest = write_csv(tmp_path / "m.csv", [("img/0.png", "a", ""), ("img/broken.png", "b", "")])
    report = run(import_source(catalog, manifest, "sleeve"))
    assert report.new == 1 and len(report.skipped) == 1
    assert report.skipped[0][0].endswith("broken.png")


def test_import_relabels_but_never_overrides_a_human(catalog, images, tmp_path):
    first = write_csv(tmp_path / "a.csv", [(f"img/{i}.png", "short", "") for i in range(4)])
    run(import_source(catalog, first, "sleeve"))
    with catalog.engine.begin() as conn:  # a person relabels image 0 as long
        conn.execute(text("INSERT INTO label (attribute_id, name) SELECT id, 'long' FROM attribute"))
        conn.execute(
            text(
                "UPDATE annotation SET label_id = (SELECT id FROM label WHERE name = 'long'), "
                "source = 'human' WHERE image_id = (SELECT id FROM image WHERE path LIKE '%/0.png')"
            )
        )
    second = write_csv(tmp_path / "b.csv", [(f"img/{i}.png", "puff", "") for i in range(4)])
    report = run(import_source(catalog, second, "sleeve"))
    assert (report.kept_human, report.annotations_replaced) == (1, 3)
    assert counts(catalog, "sleeve") == {"puff": 3, "long": 1, "short": 0}


label_text = st.text(alphabet=string.ascii_lowercase + " |", max_size=12)
split_text = st.sampled_from(["", "train", "val", "test", "TEST", "bogus"])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(st.integers(0, 7), label_text, split_text), max_size=8), multi=st.booleans())
def test_random_manifests_import_fully_or_not_at_all(catalog, images, tmp_path, rows, multi):
    """Hypothesis: whatever the manifest, the import either succeeds and the catalog agrees with it, or fails
    with a ManifestError and the catalog is exactly as before."""
    manifest = write_csv(tmp_path / "h.csv", [(f"img/{i}.png", labels, split) for i, labels, split in rows])
    attribute = "multi" if multi else "single"
    before = snapshot(catalog)
    try:
        run(import_source(catalog, manifest, attribute, multi_label=multi))
    except ManifestError:
        assert snapshot(catalog) == before
        return
    with catalog.engine.connect() as conn:
        if conn.dialect.name == "sqlite":  # PostgreSQL enforces foreign keys on every statement
            assert conn.exec_driver_sql("PRAGMA foreign_key_check").all() == []
        if not multi:
            per_image = conn.execute(
                text(
                    "SELECT MAX(n) FROM (SELECT COUNT(*) AS n FROM annotation a "
                    "JOIN attribute t ON t.id = a.attribute_id "
                    "WHERE t.name = 'single' GROUP BY a.image_id) AS x"
                )
            ).scalar()
            assert per_image in (None, 1)
