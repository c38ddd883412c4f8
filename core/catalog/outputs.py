"""Files the user names for output (reports, exported models, screenshots): checked before anything is written.

A catalog, its ``-wal``/``-shm`` files, anything inside a run folder and any SQLite database are never written
over, whatever the flags; any other existing file only with ``--force``; a missing folder or a folder given as
the file is refused at once, before the command does its work (an import's report is checked before the import
commits). Nothing here opens the files it looks at (see core.catalog.engine on why a catalog is never opened by Python).
"""

from __future__ import annotations

from pathlib import Path

from core.base.errors import TailorError
from core.catalog.engine import is_url, sqlite_uri
from core.catalog.run_lock import LOCK_NAME

SQLITE_SUFFIXES = ("", "-wal", "-shm", "-journal")


def check_output(name: str, option: str, *, force: bool, catalog: str | None = None) -> Path:
    """The resolved path ``name`` (given as ``option``) may be written to; a TailorError otherwise."""
    target = Path(name).expanduser().resolve()
    if target.is_dir():
        raise TailorError(f"{option} {name} is a folder; name a file")
    if not target.parent.is_dir():
        raise TailorError(f"{option} {name}: folder {target.parent} does not exist")
    if catalog and not is_url(catalog):
        own = Path(catalog).expanduser().resolve()
        if target in {own.with_name(own.name + suffix) for suffix in SQLITE_SUFFIXES}:
            raise TailorError(f"{option} {name} is the catalog itself; name another file")
        runs = own.with_name(own.name + ".runs")
        if runs in target.parents:
            raise TailorError(f"{option} {name} is inside the catalog's run folders ({runs}); name a file elsewhere")
    if (target.parent / LOCK_NAME).exists() or (target.parent / "events.jsonl").exists():
        raise TailorError(f"{option} {name} is inside a run's folder; name a file elsewhere")
    if target.name.endswith(SQLITE_SUFFIXES[1:]) or target.with_name(target.name + "-wal").exists():
        raise TailorError(f"{option} {name} belongs to a database; name another file")
    if target.exists():
        if target.stat().st_size >= 16 and _is_sqlite(target):
            raise TailorError(f"{option} {name} is a database (a catalog?); Tailor never writes over one")
        if not force:
            raise TailorError(f"{option} {name} already exists; add --force to replace it")
    return target


def _is_sqlite(path: Path) -> bool:
    """Whether the file starts with SQLite's header, read through SQLite (never ``open()``: see core.catalog.engine)."""
    import sqlite3

    try:
        conn = sqlite3.connect(sqlite_uri(path, read_only=True, immutable=True), uri=True)
    except sqlite3.Error:
        return False
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchall()
        return True
    except sqlite3.DatabaseError:
        return False
    finally:
        conn.close()
