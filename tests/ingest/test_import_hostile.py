"""Imports of hostile trees and manifests: every odd file is skipped and reported (or the manifest refused with
one line naming the row), nothing crashes, and label names follow one rule on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pandas as pd
import pytest

from core.base.errors import ManifestError, TailorError
from core.ingest.importer import import_source, run
from tests.conftest import run_cli, write_image


def _counts(catalog, attribute: str) -> dict[str, int]:
    return {c.name: c.count for c in catalog.label_counts(attribute).labels}


@pytest.fixture
def tree(tmp_path) -> Path:
    root = tmp_path / "tree"
    for label, n in (("cat", 3), ("dog", 2)):
        for i in range(n):
            write_image(root / label / f"{i}.png", colour=(40 * i, 80, 30 if label == "cat" else 200))
    return root


def test_names_that_are_not_utf8_are_skipped_and_reported(catalog, tree, tmp_path):
    bad_file = os.path.join(os.fsencode(tree / "cat"), b"caf\xe9.png")
    with open(bad_file, "wb") as fh:
        fh.write((tree / "cat" / "0.png").read_bytes())
    bad_folder = os.path.join(os.fsencode(tree), b"\xffweird")
    os.mkdir(bad_folder)
    with open(os.path.join(bad_folder, b"x.png"), "wb") as fh:
        fh.write((tree / "cat" / "1.png").read_bytes())
    report = run(import_source(catalog, tree, "animal"))
    assert _counts(catalog, "animal") == {"cat": 3, "dog": 2}
    reasons = dict(report.skipped)
    assert any("caf\\xe9.png" in path and "not valid UTF-8" in why for path, why in reasons.items())
    assert any("\\xffweird" in path and "not valid UTF-8" in why for path, why in reasons.items())
    result = run_cli("import", str(tmp_path / "cli.sqlite"), str(tree), "-a", "animal")  # prints the report
    assert "no catalog" in result.stderr  # the CLI refuses an uncreated catalog: create it, then import
    run_cli("init", str(tmp_path / "cli.sqlite"))
    result = run_cli(
        "import", str(tmp_path / "cli.sqlite"), str(tree), "-a", "animal", "--report", str(tmp_path / "skipped.csv")
    )
    assert result.returncode == 0, result.stderr
    assert "not valid UTF-8" in result.stdout and "not valid UTF-8" in (tmp_path / "skipped.csv").read_text()


def test_a_symlink_loop_is_skipped_and_reported(catalog, tree):
    os.symlink(tree / "cat", tree / "cat" / "again")
    os.symlink(tree, tree / "dog" / "up")
    report = run(import_source(catalog, tree, "animal"))
    assert _counts(catalog, "animal") == {"cat": 3, "dog": 2}
    reasons = [why for _path, why in report.skipped]
    assert sum("loop" in why or "outside" in why for why in reasons) == 2, reasons


def test_folder_links_out_of_the_tree_are_followed_only_when_asked(location, tree, tmp_path):
    from core.catalog.store import Catalog

    elsewhere = tmp_path / "elsewhere"
    for i in range(4):
        write_image(elsewhere / f"{i}.png", colour=(10 * i, 10, 10))
    os.symlink(elsewhere, tree / "dog" / "more")
    with Catalog.create(location) as catalog:
        report = run(import_source(catalog, tree, "animal"))
        assert _counts(catalog, "animal") == {"cat": 3, "dog": 2}
        assert any("outside the tree" in why and "--follow-symlinks" in why for _p, why in report.skipped)
        run(import_source(catalog, tree, "animal", follow_symlinks=True))
        assert _counts(catalog, "animal") == {"cat": 3, "dog": 6}


def test_a_label_folder_with_a_bad_name_is_skipped(catalog, tree):
    write_image(tree / "two\nlines" / "0.png")
    report = run(import_source(catalog, tree, "animal"))
    assert _counts(catalog, "animal") == {"cat": 3, "dog": 2}
    assert any("U+000A" in why for _p, why in report.skipped)


def _manifest(tmp_path, text: str) -> Path:
    path = tmp_path / "m.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_an_overlong_path_is_one_short_line(catalog, tree, tmp_path):
    for long in ("x" * 300 + ".png", "y/" * 3000 + "z.png"):
        manifest = _manifest(tmp_path, f"path,labels\ntree/cat/0.png,cat\n{long},cat\n")
        with pytest.raises(ManifestError) as info:
            run(import_source(catalog, manifest, "animal"))
        message = info.value.message
        assert "row 2 (line 3), column 'path'" in message and len(message) < 400 and "\n" not in message
    result = (
        run_cli("import", catalog.location, str(manifest), "-a", "animal") if "://" not in catalog.location else None
    )
    if result is not None:
        assert result.returncode == 2 and len(result.stderr) < 500 and result.stderr.count("\n") == 1


def test_a_trailing_space_is_part_of_the_path(catalog, tree, tmp_path):
    manifest = _manifest(tmp_path, f"path,labels\n{tree / 'cat' / '0.png'} ,cat\n")
    with pytest.raises(ManifestError, match="file not found.*spaces at its start or end"):
        run(import_source(catalog, manifest, "animal"))
    spaced = tree / "cat" / "0.png "
    spaced.write_bytes((tree / "dog" / "0.png").read_bytes())
    run(import_source(catalog, manifest, "animal"))
    from sqlalchemy import text

    with catalog.engine.connect() as conn:
        assert [r[0] for r in conn.execute(text("SELECT path FROM image"))] == [str(spaced)]


def test_line_numbers_count_quoted_line_breaks_and_messages_stay_on_one_line(catalog, tree, tmp_path):
    manifest = _manifest(tmp_path, 'path,labels,note\ntree/cat/0.png,cat,"one\ntwo\nthree"\ntree/cat/nope.png,cat,x\n')
    with pytest.raises(ManifestError) as info:
        run(import_source(catalog, manifest, "animal"))
    assert "row 2 (line 5)" in info.value.message
    manifest = _manifest(tmp_path, 'path,labels\n"tree/cat/0\n.png",cat\n')
    with pytest.raises(ManifestError) as info:
        run(import_source(catalog, manifest, "animal"))
    assert "\n" not in info.value.message and "\\n" in info.value.message


@pytest.mark.parametrize(
    "labels, found",
    [
        ([{"x": 1}], "struct"),
        ([pd.Timestamp("2026-01-01")], "timestamp"),
        ([[{"x": 1}]], "struct"),
        ([1.5], "fractional number"),
    ],
)
def test_parquet_label_columns_that_are_not_text_are_refused(catalog, tree, tmp_path, labels, found):
    manifest = tmp_path / "m.parquet"
    pd.DataFrame({"path": [str(tree / "cat" / "0.png")], "labels": labels}).to_parquet(manifest)
    with pytest.raises(ManifestError, match=f"row 1, column 'labels': expected text, found a {found}"):
        run(import_source(catalog, manifest, "animal", multi_label=True))
    assert catalog.attributes() == []


def test_parquet_integer_labels_are_text(catalog, tree, tmp_path):
    manifest = tmp_path / "m.parquet"
    pd.DataFrame({"path": [str(tree / "cat" / "0.png"), str(tree / "dog" / "0.png")], "labels": [3, 7]}).to_parquet(
        manifest
    )
    run(import_source(catalog, manifest, "digit"))
    assert _counts(catalog, "digit") == {"3": 1, "7": 1}


@pytest.mark.parametrize(
    "label, expected", [("a\x00b", "U+0000"), ("a\rb", "U+000D"), ("x" * 10_000, "10,000"), ("tab\there", "U+0009")]
)
def test_one_rule_for_label_names_on_both_backends(catalog, tree, tmp_path, label, expected):
    manifest = tmp_path / "m.parquet"
    pd.DataFrame({"path": [str(tree / "cat" / "0.png")], "labels": [label]}).to_parquet(manifest)
    with pytest.raises(TailorError) as info:
        run(import_source(catalog, manifest, "animal"))
    assert expected in info.value.message and "\n" not in info.value.message and len(info.value.message) < 400
    assert catalog.attributes() == []
    from core.catalog.edits import create_attribute, create_label

    create_attribute(catalog, "animal")
    with pytest.raises(TailorError, match=re.escape(expected)):
        create_label(catalog, catalog.attribute("animal").id, label)
    with pytest.raises(TailorError, match=re.escape(expected)):
        create_attribute(catalog, label)
