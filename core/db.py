"""Opening a catalog: SQLAlchemy engines for a file path or any URL, SQLite settings, and migrations.

A catalog argument is either a file path (an SQLite database, created by ``tailor init``) or an SQLAlchemy URL
such as ``postgresql+psycopg://user@host/db``. Opening a catalog applies pending Alembic migrations, so a catalog
written by an older Tailor is upgraded in place (in one transaction).

SQLite connections run with WAL journaling, enforced foreign keys and a busy timeout, and transactions are
begun explicitly (``BEGIN``) so that DDL and migrations are transactional too.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DatabaseError, OperationalError

from core.errors import TailorError

BUSY_TIMEOUT_MS = 10_000
MIGRATIONS = Path(__file__).with_name("migrations")


def is_url(location: str) -> bool:
    return "://" in location


def catalog_url(location: str | Path) -> URL:
    """The SQLAlchemy URL of a catalog given as a file path or a URL."""
    text = str(location)
    if is_url(text):
        try:
            return make_url(text)
        except ArgumentError as exc:
            raise TailorError(f"not a valid catalog URL: {text} ({exc})") from None
    return URL.create("sqlite", database=str(Path(text).expanduser().resolve()))


def _sqlite_settings(foreign_keys: bool):
    def on_connect(dbapi_connection, _record) -> None:
        # Take transaction control from pysqlite; SQLAlchemy's "begin" event below issues BEGIN.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute(f"PRAGMA foreign_keys = {'ON' if foreign_keys else 'OFF'}")
        cursor.close()

    return on_connect


def make_engine(location: str | Path, *, foreign_keys: bool = True) -> Engine:
    """An engine for the catalog at ``location`` (no migration, no existence check)."""
    url = catalog_url(location)
    try:
        engine = create_engine(url, pool_pre_ping=url.get_backend_name() != "sqlite")
    except (ArgumentError, ImportError) as exc:
        raise TailorError(f"cannot open catalog {url.render_as_string(hide_password=True)}: {exc}") from None
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_settings(foreign_keys))

        @event.listens_for(engine, "begin")
        def _begin(conn) -> None:
            immediate = conn.get_execution_options().get("tailor_immediate", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def _alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def head_revision() -> str:
    return ScriptDirectory.from_config(_alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def migrate(location: str | Path, revision: str = "head") -> None:
    """Upgrade the catalog to ``revision`` in one transaction.

    SQLite runs migrations with foreign keys off (rebuilding a table must not cascade) and checks them after.
    """
    engine = make_engine(location, foreign_keys=False)
    try:
        cfg = _alembic_config()
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
            if engine.dialect.name == "sqlite":
                broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise TailorError(f"catalog migration left {len(broken)} broken references; nothing changed")
    finally:
        engine.dispose()


def describe(location: str | Path) -> str:
    """The catalog's location as it may be shown: a URL's password is hidden."""
    text = str(location)
    if not is_url(text):
        return text
    url = make_url(text)
    return url.render_as_string(hide_password=True) if url.password else text


def table_names(location: str | Path) -> set[str]:
    """The tables of the database at ``location`` (a one-line TailorError when it cannot be reached)."""
    engine = make_engine(location)
    try:
        with engine.connect() as conn:
            return set(inspect(conn).get_table_names())
    except (OperationalError, DatabaseError, sqlite3.DatabaseError) as exc:
        raise _cannot_open(describe(location), exc) from None
    finally:
        engine.dispose()


def open_engine(location: str | Path, *, create: bool = False) -> Engine:
    """Check that ``location`` holds a Tailor catalog (or create one), migrate it to the newest schema and
    return an engine for it. Raises :class:`TailorError` with one line on anything a user could get wrong."""
    text = str(location)
    where = describe(location)
    if not is_url(text):
        path = Path(text).expanduser()
        if path.is_dir():
            raise TailorError(f"{where} is a folder, not a catalog file")
        if not path.exists():
            if not create:
                raise TailorError(f"no catalog at {where} (create one with: tailor init {text})")
            if not path.parent.exists():
                raise TailorError(f"cannot create catalog {where}: folder {path.parent} does not exist")
        elif path.stat().st_size > 0:
            with path.open("rb") as fh:
                if fh.read(16) != b"SQLite format 3\x00":
                    raise TailorError(f"{where} is not a Tailor catalog (not an SQLite database)")
    engine = make_engine(location)
    try:
        with engine.connect() as conn:
            tables = set(inspect(conn).get_table_names())
            current = MigrationContext.configure(conn).get_current_revision()
        if tables and "alembic_version" not in tables:
            raise TailorError(f"{where} is a database but not a Tailor catalog (tables: "
                              f"{', '.join(sorted(tables)[:5])})")
        if not tables and not create:
            raise TailorError(f"{where} is an empty database (create a catalog with: tailor init {text})")
        script = ScriptDirectory.from_config(_alembic_config())
        if current is not None and not _known(script, current):
            raise TailorError(f"{where} was written by a newer Tailor (schema {current}); upgrade Tailor")
        if current != script.get_current_head():
            migrate(location)
    except (OperationalError, DatabaseError, sqlite3.DatabaseError) as exc:
        engine.dispose()
        raise _cannot_open(where, exc) from None
    except BaseException:
        engine.dispose()
        raise
    return engine


_STORAGE_PROBLEMS = (
    ("database or disk is full", "the disk holding the catalog is full"),
    ("no space left on device", "the disk holding the catalog is full"),
    ("readonly database", "the catalog is read-only"),
    ("read-only transaction", "the catalog is read-only"),
    ("disk i/o error", "the disk holding the catalog failed to read or write"),
    ("database is locked", "another program keeps the catalog locked"),
)


def _storage_meaning(exc: BaseException) -> str | None:
    text = str(getattr(exc, "orig", None) or exc).lower()
    return next((meaning for needle, meaning in _STORAGE_PROBLEMS if needle in text), None)


def _cannot_open(where: str, exc: BaseException) -> TailorError:
    return TailorError(f"cannot open catalog {where}: {_storage_meaning(exc) or _first_line(exc)}")


def storage_error(exc: BaseException, location: str | Path) -> str | None:
    """One line for a database error a user can act on (full disk, read-only, locked), or None for others."""
    meaning = _storage_meaning(exc)
    return f"{meaning} ({describe(location)}); nothing was written" if meaning else None


def _known(script: ScriptDirectory, revision: str) -> bool:
    return any(rev.revision == revision for rev in script.walk_revisions())


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc)
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__
