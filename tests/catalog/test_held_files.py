"""Only SQLite opens a catalog this process holds (core.base.held_files): images, manifests, weights files and
folder walks refuse or skip it; a journal deleted under the process is noticed before the next write, which then
lands in the catalog instead of a deleted file (issue 26 point 1)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from core.base import held_files
from core.catalog.store import Catalog
from core.ingest.images import BadImage, read_bytes
from core.ingest.importer import import_source, run
from core.ingest.sources import read_folder, read_source
from tests.conftest import make_garments


def _other_process_opens_and_closes(location: Path) -> None:
    code = (
        f"import sqlite3; c = sqlite3.connect({str(location)!r}); "
        "c.execute('select count(*) from sqlite_master'); c.close()"
    )
    subprocess.run([sys.executable, "-I", "-c", code], check=True)


def _image_count_elsewhere(location: Path) -> int:
    code = f"import sqlite3; print(sqlite3.connect({str(location)!r}).execute('select count(*) from image').get(0))"
    code = code.replace(".get(0)", ".fetchone()[0]")
    out = subprocess.run([sys.executable, "-I", "-c", code], check=True, capture_output=True, text=True)
    return int(out.stdout)


def test_the_catalog_is_held_while_a_connection_is_open_and_refused_as_a_file(tmp_path):
    location = tmp_path / "shop.sqlite"
    with Catalog.create(location) as catalog:
        catalog.image_count()
        assert held_files.held_catalog_of(location) == str(location.resolve())
        assert held_files.held_catalog_of(f"{location}-wal") == str(location.resolve())
        link = tmp_path / "photo.png"
        link.symlink_to(location)
        for path in (location, link, Path(f"{location}-shm")):
            with pytest.raises(BadImage, match="open in Tailor"):
                read_bytes(path)
        with pytest.raises(held_files.HeldFileError, match="not a manifest"):
            read_source(location, multi_label=False, attribute="style")
    assert held_files.held_catalog_of(location) is None  # closed: reading it can no longer drop a lock


def test_importing_the_folder_that_holds_the_catalog_skips_it(tmp_path):
    tree = make_garments(tmp_path / "photos", {"dress": 2, "coat": 1})
    location = tree / "dress" / "catalog.sqlite"  # a catalog kept inside the tree it catalogs
    with Catalog.create(location) as catalog:
        catalog.image_count()
        source = read_folder(tree)
        assert all("catalog.sqlite" not in entry.path for entry in source.entries)
        assert any("the catalog open in Tailor" in reason for _, reason in source.passed_over)
        report = run(import_source(catalog, tree, "style"))
        assert report.imported == 3
    assert Path(f"{location}-wal").exists() is False or location.exists()


def test_a_journal_deleted_under_the_process_is_noticed_before_the_next_write(tmp_path):
    tree = make_garments(tmp_path / "photos", {"dress": 2, "coat": 2})
    more = make_garments(tmp_path / "more", {"skirt": 3})
    location = tmp_path / "shop.sqlite"
    with Catalog.create(location) as catalog:
        run(import_source(catalog, tree, "style"))
        with open(location, "rb") as fh:  # the defect class: any descriptor of the file closed in this process
            fh.read(16)
        _other_process_opens_and_closes(location)
        assert not Path(f"{location}-wal").exists()
        assert held_files.journal_lost(location)
        run(import_source(catalog, more, "style"))  # reconnects first: the write lands in the catalog
        assert not held_files.journal_lost(location)
        assert catalog.image_count() == 7
    assert _image_count_elsewhere(location) == 7
