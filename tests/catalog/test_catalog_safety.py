"""A catalog stays whole and unchanged when it is read: by other processes while this one writes it, when it is a
foreign database, when it sits on read-only storage, and when its database fails (one line, never SQL)."""

from __future__ import annotations

import hashlib
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from core.base.errors import StorageError, TailorError
from core.catalog import engine as db
from core.catalog.edits import create_attribute
from core.catalog.store import Catalog
from core.cli.main import main

READER = (
    "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
    "c.execute('SELECT count(*) FROM attribute').fetchall(); c.close()"
)


def _names(location) -> set[str]:
    with Catalog(location) as catalog:
        return {a.name for a in catalog.attributes()}


def test_opening_a_catalog_again_keeps_the_locks_of_this_process_s_open_connections(tmp_path):
    """The window writes a run from one thread while other threads open the catalog; a reader in another process
    must not take itself for the last connection and delete the WAL (the writes after that were lost)."""
    location = str(tmp_path / "c.sqlite")
    with Catalog.create(location) as writer:
        create_attribute(writer, "first")
        for _ in range(3):
            with Catalog(location):  # what the window's worker threads do while a run trains
                pass
            subprocess.run([sys.executable, "-I", "-c", READER, location], check=True, timeout=60)
        create_attribute(writer, "second")
        assert Path(location + "-wal").exists()
        subprocess.run([sys.executable, "-I", "-c", READER, location], check=True, timeout=60)
        create_attribute(writer, "third")
    assert _names(location) == {"first", "second", "third"}


def test_a_file_that_is_not_a_database_is_one_line(tmp_path):
    bogus = tmp_path / "notes.sqlite"
    bogus.write_text("hello, this is not a database\n" * 10)
    with pytest.raises(TailorError, match="not an SQLite database"):
        Catalog(bogus)


@pytest.fixture
def shop(tmp_path, tree) -> str:
    from core.ingest.importer import import_source, run

    location = str(tmp_path / "shop.sqlite")
    with Catalog.create(location) as catalog:
        run(import_source(catalog, tree, "animal"))
    return location


@pytest.mark.parametrize("immutable", [False, True])
def test_a_catalog_on_read_only_storage_is_read_and_never_written(shop, monkeypatch, capsys, immutable):
    monkeypatch.setattr(db, "read_only_storage", lambda path: (True, immutable))
    digest = hashlib.sha256(Path(shop).read_bytes()).hexdigest()
    assert main(["stats", shop, "-a", "animal", "--json"]) == 0
    assert main(["info", shop]) == 0
    assert main(["runs", shop]) == 0
    capsys.readouterr()
    assert main(["import", shop, str(Path(shop).parent / "tree"), "-a", "other"]) == 2
    assert "read-only" in capsys.readouterr().err
    assert hashlib.sha256(Path(shop).read_bytes()).hexdigest() == digest


def test_a_damaged_catalog_is_one_line(shop, capsys):
    with Catalog(shop) as catalog:  # checkpoint everything into the file, then damage the label pages
        with catalog.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            roots = (
                conn.exec_driver_sql(
                    "SELECT rootpage FROM sqlite_master WHERE tbl_name IN ('label', 'annotation') AND rootpage > 1"
                )
                .scalars()
                .all()
            )
            page_size = conn.exec_driver_sql("PRAGMA page_size").scalar()
    data = bytearray(Path(shop).read_bytes())
    for root in roots:
        start = (root - 1) * page_size
        data[start : start + page_size] = b"\xff" * page_size
    Path(shop).write_bytes(bytes(data))
    code = main(["stats", shop, "-a", "animal"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    assert "damaged" in err and "SELECT" not in err


def test_two_schema_versions_in_one_catalog_are_one_line(shop, capsys):
    conn = sqlite3.connect(shop)
    conn.execute("INSERT INTO alembic_version VALUES ('0002_something')")
    conn.commit()
    conn.close()
    assert main(["info", shop]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "schema versions" in err, err


@pytest.mark.parametrize(
    "url",
    ["postgresql+psycopg://user@localhost:notaport/db", "postgresql+psycopg://user@[::1/db", "nosuchdialect://host/db"],
)
def test_a_malformed_catalog_url_is_one_line(url, capsys):
    assert main(["info", url]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err


def test_a_dropped_database_connection_is_one_line(catalog):
    if catalog.engine.dialect.name != "postgresql":
        pytest.skip("a server connection: PostgreSQL only")
    with pytest.raises(StorageError) as caught, catalog.session() as s:
        s.connection().exec_driver_sql("SELECT pg_terminate_backend(pg_backend_pid())")
    assert "\n" not in caught.value.message and "SELECT" not in caught.value.message, caught.value.message
