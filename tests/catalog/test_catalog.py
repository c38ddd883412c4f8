"""Catalog models, engine settings and migrations."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from core.base.errors import TailorError
from core.catalog.engine import HEAD_REVISION, current_revision, head_revision, migrate
from core.catalog.schema import Base
from core.catalog.store import Catalog


def test_new_catalog_is_at_head_with_sqlite_settings(catalog):
    assert current_revision(catalog.engine) == head_revision()
    if catalog.engine.dialect.name != "sqlite":
        return
    with catalog.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000


def test_the_head_revision_constant_is_alembics_head():
    # Opening a catalog at HEAD_REVISION skips Alembic: a new migration must move the constant too.
    assert head_revision() == HEAD_REVISION


def test_opening_a_catalog_at_head_does_not_import_alembic(tmp_path):
    import subprocess
    import sys

    Catalog(tmp_path / "c.sqlite", create=True).engine.dispose()
    code = (
        "import sys; from core.catalog.store import Catalog; Catalog(sys.argv[1]); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'alembic'))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "c.sqlite")], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


def test_models_match_the_migrations(catalog):
    with catalog.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_catalog_accepts_a_sqlalchemy_url(tmp_path):
    url = f"sqlite:///{tmp_path / 'by-url.sqlite'}"
    with Catalog.create(url) as cat:
        assert cat.attributes() == []
    with Catalog(url) as cat:
        assert cat.image_count() == 0


FIRST_REVISION_ROWS = [
    "INSERT INTO image VALUES (1, '/a.png', 'h1', 8, 8, 'train', '2026-01-01', '2026-01-01')",
    "INSERT INTO image VALUES (2, '/b.png', 'h2', 8, 8, NULL, '2026-01-01', '2026-01-01')",
    "INSERT INTO attribute VALUES (1, 'sleeve', 'single', '2026-01-01')",
    "INSERT INTO attribute VALUES (2, 'style', 'multi', '2026-01-01')",
    "INSERT INTO label VALUES (1, 1, 'short'), (2, 1, 'long'), (3, 2, 'boho'), (4, 2, 'formal')",
    "INSERT INTO annotation VALUES (1, 1, 2, 'import', '2026-01-01'), (2, 2, 2, 'human', '2026-01-01'), "
    "(3, 1, 3, 'import', '2026-01-01'), (4, 1, 4, 'model', '2026-01-01')",
]


def _seed_first_revision(location: str) -> None:
    """A catalog as the first revision wrote it, with annotations (SQLite file or PostgreSQL database)."""
    from core.catalog.engine import make_engine

    if "://" not in location:
        Path(location).touch()
    migrate(location, "0001")
    engine = make_engine(location)
    with engine.begin() as conn:
        for statement in FIRST_REVISION_ROWS:
            conn.exec_driver_sql(statement)
        assert conn.exec_driver_sql("SELECT version_num FROM alembic_version").one() == ("0001",)
    engine.dispose()


def test_opening_a_first_revision_catalog_upgrades_it_and_keeps_data(location):
    _seed_first_revision(location)
    with Catalog(location) as cat:
        assert current_revision(cat.engine) == head_revision() != "0001"
        sleeve = cat.label_counts("sleeve")
        assert [(c.name, c.count) for c in sleeve.labels] == [("long", 2), ("short", 0)]
        style = cat.label_counts("style")
        assert style.images == 1 and style.annotations == 2
        with cat.engine.connect() as conn:
            rows = conn.exec_driver_sql("SELECT id, attribute_id FROM annotation ORDER BY id").all()
            assert rows == [(1, 1), (2, 1), (3, 2), (4, 2)]
            if conn.dialect.name == "sqlite":
                assert conn.exec_driver_sql("PRAGMA foreign_key_check").all() == []
                assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"


def test_annotation_attribute_must_match_its_label(catalog):
    from sqlalchemy.exc import IntegrityError

    with catalog.engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO image VALUES (1, '/a', 'h', 1, 1, NULL, '2026-01-01', '2026-01-01')")
        conn.exec_driver_sql("INSERT INTO attribute VALUES (1, 'a', 'single', '2026-01-01')")
        conn.exec_driver_sql("INSERT INTO attribute VALUES (2, 'b', 'single', '2026-01-01')")
        conn.exec_driver_sql("INSERT INTO label VALUES (1, 1, 'x')")
    with pytest.raises(IntegrityError), catalog.engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO annotation VALUES (1, 1, 1, 'human', '2026-01-01', 2)")


@pytest.mark.parametrize(
    "content, message",
    [
        (b"hello, not a database", "not an SQLite database"),
    ],
)
def test_a_file_that_is_not_a_catalog_is_refused(tmp_path, content, message):
    path = tmp_path / "x.sqlite"
    path.write_bytes(content)
    with pytest.raises(TailorError, match=message):
        Catalog(path)
    assert path.read_bytes() == content


def test_missing_catalog_names_the_fix(tmp_path):
    with pytest.raises(TailorError, match="tailor init"):
        Catalog(tmp_path / "nope.sqlite")
    assert not (tmp_path / "nope.sqlite").exists()


def test_foreign_database_and_newer_schema_are_refused(tmp_path):
    other = tmp_path / "other.sqlite"
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE customers (id INTEGER)")
    con.commit()
    con.close()
    before = other.read_bytes()
    with pytest.raises(TailorError, match="not a Tailor catalog"):
        Catalog(other)
    # refused unchanged: still in its rollback-journal mode (header bytes 18-19), no WAL file beside it
    assert other.read_bytes() == before and before[18:20] == b"\x01\x01"
    assert not Path(str(other) + "-wal").exists()
    newer = tmp_path / "newer.sqlite"
    Catalog.create(newer).close()
    con = sqlite3.connect(newer)
    con.execute("UPDATE alembic_version SET version_num = '9999'")
    con.commit()
    con.close()
    with pytest.raises(TailorError, match="newer Tailor"):
        Catalog(newer)


def test_unknown_attribute_lists_the_known_ones(catalog, tree):
    from core.ingest.importer import import_source, run

    run(import_source(catalog, tree, "animal"))
    with pytest.raises(TailorError, match="attributes: animal"):
        catalog.label_counts("colour")
