"""Opening a catalog: SQLAlchemy engines for a file path or any URL, SQLite settings, and migrations.

A catalog argument is either a file path (an SQLite database, created by ``tailor init``) or an SQLAlchemy URL
such as ``postgresql+psycopg://user@host/db``. Opening a catalog applies pending Alembic migrations, so a catalog
written by an older Tailor is upgraded in place (in one transaction).

SQLite connections run with WAL journaling, enforced foreign keys and a busy timeout, and transactions are
begun explicitly (``BEGIN``) so that DDL and migrations are transactional too.

Before any of that, an SQLite file is looked at through SQLite itself, read-only (:func:`_probe_sqlite`): a
database that is not a Tailor catalog is refused unchanged (not switched to WAL), and the file is never opened by
Python. That matters: POSIX record locks belong to a process and *any* ``close()`` of *any* descriptor of the file
drops them all, SQLite's included. Reading the file's header with ``open()`` while another thread of the window
trained on it dropped that thread's WAL locks, so a reader in another process took itself for the last connection,
checkpointed and deleted the WAL under the window's feet, and the window's later writes were lost.

A catalog on storage this process cannot write (a read-only mount, a file without write permission) is opened
read-only: everything that reads works, writes fail with one line.
"""

from __future__ import annotations

import functools
import os
import re
import sqlite3
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from sqlalchemy import Connection, Engine, create_engine, event, inspect
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import (
    ArgumentError,
    DatabaseError,
    DisconnectionError,
    IntegrityError,
    InterfaceError,
    OperationalError,
)

from core.base import held_files
from core.base.errors import StorageError, TailorError
from core.catalog.names import shown

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

BUSY_TIMEOUT_MS = 10_000
MIGRATIONS = Path(__file__).with_name("migrations")
# The newest migration's revision. A catalog already at it opens without importing Alembic (a third of a second
# of the window's start-up); tests/catalog/test_catalog.py checks it is Alembic's head.
HEAD_REVISION = "0007"


def is_url(location: str) -> bool:
    return "://" in location


def server_folder_name(location: str) -> str:
    """A file-system-safe name for a URL catalog's server and database ("postgresql-db.example-5433-catalog"):
    the folder its run folders and feature stores get under the user's data and cache folders."""
    url = catalog_url(location)
    parts = (url.get_backend_name(), url.host or "local", url.port or "", url.database or "")
    return re.sub(r"[^A-Za-z0-9._-]", "_", "-".join(str(part) for part in parts if part != ""))


def catalog_url(location: str | Path) -> URL:
    """The SQLAlchemy URL of a catalog given as a file path or a URL."""
    text = str(location)
    if is_url(text):
        try:
            url = make_url(text)
            url.port  # noqa: B018 - a port that is not a number raises here rather than when connecting
            return url
        except (ArgumentError, ValueError) as exc:
            raise TailorError(f"not a valid catalog URL: {_first_line(exc)}") from None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # bytes that are not UTF-8, kept by Python as surrogates: SQLite cannot name it
        raise TailorError(f"the catalog path {shown(text)} is not valid UTF-8; rename the file or its folder") from None
    return URL.create("sqlite", database=str(Path(text).expanduser().resolve()))


def _sqlite_settings(foreign_keys: bool, read_only: bool) -> Callable[[sqlite3.Connection, object], None]:
    def on_connect(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        # Take transaction control from pysqlite; SQLAlchemy's "begin" event below issues BEGIN.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        if not read_only:
            cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute(f"PRAGMA foreign_keys = {'ON' if foreign_keys else 'OFF'}")
        cursor.close()

    return on_connect


def read_only_storage(path: Path) -> tuple[bool, bool]:
    """(read-only, immutable) for an SQLite file: read-only when this process cannot write the file or its folder
    (SQLite writes ``-wal``/``-shm`` files beside it) or the file system is mounted read-only; immutable (SQLite
    may not even create ``-shm``, nobody can change the file) when the file system is read-only or the folder is
    not writable and has no ``-shm`` file yet."""
    try:
        mounted_read_only = bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except (OSError, AttributeError):
        mounted_read_only = False
    folder_read_only = not os.access(path.parent, os.W_OK)
    read_only = mounted_read_only or folder_read_only or not os.access(path, os.W_OK)
    immutable = mounted_read_only or (folder_read_only and not path.with_name(path.name + "-shm").exists())
    return read_only, immutable


def sqlite_uri(path: Path, *, read_only: bool, immutable: bool) -> str:
    mode = "?mode=ro" + ("&immutable=1" if immutable else "") if read_only else "?mode=rwc"
    return f"file:{quote(str(path))}{mode}"


def make_engine(
    location: str | Path, *, foreign_keys: bool = True, read_only: bool = False, immutable: bool = False
) -> Engine:
    """An engine for the catalog at ``location`` (no migration, no existence check); ``read_only``: an SQLite
    file opened with ``mode=ro`` (see :func:`read_only_storage`)."""
    url = catalog_url(location)
    database = url.database  # the file, before a read-only URL wraps it
    if read_only and url.get_backend_name() == "sqlite":
        uri = sqlite_uri(Path(url.database or ""), read_only=True, immutable=immutable)
        url = URL.create("sqlite", database=uri, query={"uri": "true"})
    try:
        engine = create_engine(url, pool_pre_ping=url.get_backend_name() != "sqlite")
    except (ArgumentError, ImportError, ValueError) as exc:
        raise TailorError(
            f"cannot open catalog {url.render_as_string(hide_password=True)}: {_first_line(exc)}"
        ) from None
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_settings(foreign_keys, read_only))
        if database and database != ":memory:":
            _guard_held_file(engine, Path(database))

        @event.listens_for(engine, "begin")
        def _begin(conn: Connection) -> None:
            immediate = conn.get_execution_options().get("tailor_immediate", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


JOURNAL_LOST = "another program deleted the catalog's journal while Tailor had it open"


def _guard_held_file(engine: Engine, path: Path) -> None:
    """While a connection of ``engine`` is open, ``path`` is held (core.base.held_files): nothing else in this
    process reads it. A connection handed out after the journal was deleted under this process (the symptom of a
    descriptor closed outside SQLite) is replaced by a fresh one: every pooled connection of the file is closed
    first, so SQLite takes its locks and maps the journal anew."""

    def connected(*_args: object) -> None:
        held_files.hold(path)

    def closed(*_args: object) -> None:
        held_files.release(path)

    def checkout(dbapi_connection: sqlite3.Connection, *_args: object) -> None:
        if not held_files.journal_lost(path):
            return
        for other in _engines_of(path):
            other.dispose()
        dbapi_connection.close()
        if held_files.journal_lost(path):  # a connection still in use elsewhere in this process holds it
            raise StorageError(f"{JOURNAL_LOST} ({path}-wal); this step was not saved: try again", "journal")
        # every connection that wrote into the deleted journal is closed: what they committed was checkpointed
        # by the program that deleted it; a new connection starts on the new journal
        raise DisconnectionError(f"{JOURNAL_LOST} ({path}-wal); reconnecting")

    _ENGINES.setdefault(str(path), weakref.WeakSet()).add(engine)
    event.listen(engine.pool, "connect", connected)
    event.listen(engine.pool, "close", closed)
    event.listen(engine.pool, "close_detached", closed)
    event.listen(engine.pool, "checkout", checkout)


_ENGINES: dict[str, weakref.WeakSet[Engine]] = {}


def _engines_of(path: Path) -> list[Engine]:
    return list(_ENGINES.get(str(path), ()))


def _alembic_config() -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


@functools.cache
def _script() -> ScriptDirectory:
    """The installed migrations, read once per process (parsing them took 5 ms of every catalog opening)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_alembic_config())


@functools.cache
def known_revisions() -> frozenset[str]:
    return frozenset(rev.revision for rev in _script().walk_revisions())


def head_revision() -> str:
    from alembic.util.exc import CommandError

    try:
        head = _script().get_current_head()
    except CommandError as exc:  # two heads: a broken installation, not the user's catalog
        raise TailorError(
            f"this Tailor installation's migrations are broken ({_first_line(exc)}); reinstall Tailor"
        ) from None
    if head is None:
        raise TailorError("this Tailor installation has no migrations; reinstall Tailor")
    return head


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def migrate(location: str | Path, revision: str = "head") -> None:
    """Upgrade the catalog to ``revision`` in one transaction.

    SQLite runs migrations with foreign keys off (rebuilding a table must not cascade) and checks them after.
    """
    from alembic import command

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
    try:
        url = make_url(text)
    except (ArgumentError, ValueError):  # malformed: shown without anything between '//' and '@'
        scheme, _, rest = text.partition("://")
        return f"{scheme}://***@{rest.split('@', 1)[1]}" if "@" in rest else text
    return url.render_as_string(hide_password=True) if url.password else text


def table_names(location: str | Path) -> set[str]:
    """The tables of the database at ``location`` (a one-line TailorError when it cannot be reached)."""
    if not is_url(str(location)):
        return _probe_sqlite(Path(str(location)).expanduser().resolve(), describe(location))[0]
    engine = make_engine(location)
    try:
        with engine.connect() as conn:
            return set(inspect(conn).get_table_names())
    except (OperationalError, DatabaseError, InterfaceError, sqlite3.DatabaseError) as exc:
        raise _cannot_open(describe(location), exc) from None
    finally:
        engine.dispose()


def _probe_sqlite(path: Path, where: str) -> tuple[set[str], list[str]]:
    """The tables and Alembic revisions of an SQLite file, read through SQLite in read-only mode: nothing in the
    file changes (a foreign database keeps its journal mode) and Python never opens the file (see the module
    docstring: closing a descriptor would drop this process's SQLite locks on a catalog it has open)."""
    _, immutable = read_only_storage(path)
    try:
        conn = sqlite3.connect(
            sqlite_uri(path, read_only=True, immutable=immutable), uri=True, timeout=BUSY_TIMEOUT_MS / 1000
        )
    except sqlite3.Error as exc:
        raise _cannot_open(where, exc) from None
    try:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        revisions = (
            [row[0] for row in conn.execute("SELECT version_num FROM alembic_version")]
            if "alembic_version" in tables
            else []
        )
    except sqlite3.DatabaseError as exc:
        if "not a database" in str(exc) or "encrypted" in str(exc):
            raise TailorError(f"{where} is not a Tailor catalog (not an SQLite database)") from None
        raise _cannot_open(where, exc) from None
    finally:
        conn.close()
    return tables, revisions


def open_engine(location: str | Path, *, create: bool = False) -> Engine:
    """Check that ``location`` holds a Tailor catalog (or create one), migrate it to the newest schema and
    return an engine for it. Raises :class:`TailorError` with one line on anything a user could get wrong."""
    text = str(location)
    where = describe(location)
    if is_url(text):
        return _open_url(location, where, create=create)
    path = Path(text).expanduser().resolve()
    if path.is_dir():
        raise TailorError(f"{where} is a folder, not a catalog file")
    if not path.exists():
        if not create:
            raise TailorError(f"no catalog at {where} (create one with: tailor init {text})")
        if not path.parent.exists():
            raise TailorError(f"cannot create catalog {where}: folder {path.parent} does not exist")
        return _checked(location, where, set(), [], create=True)
    tables, revisions = _probe_sqlite(path, where)
    read_only, immutable = read_only_storage(path)
    if read_only:
        _check_catalog(where, text, tables, revisions, create=False)
        if revisions != [HEAD_REVISION]:
            raise TailorError(
                f"{where} is read-only and was written by an older Tailor (schema "
                f"{', '.join(revisions) or 'none'}); copy it somewhere writable to upgrade it"
            )
        return make_engine(location, read_only=True, immutable=immutable)
    return _checked(location, where, tables, revisions, create=create)


def _open_url(location: str | Path, where: str, *, create: bool) -> Engine:
    engine = make_engine(location)
    try:
        with engine.connect() as conn:
            tables = set(inspect(conn).get_table_names())
            revisions = (
                [row[0] for row in conn.exec_driver_sql("SELECT version_num FROM alembic_version")]
                if "alembic_version" in tables
                else []
            )
    except (OperationalError, DatabaseError, InterfaceError) as exc:
        raise _cannot_open(where, exc) from None
    finally:
        engine.dispose()
    return _checked(location, where, tables, revisions, create=create)


def _checked(location: str | Path, where: str, tables: set[str], revisions: list[str], *, create: bool) -> Engine:
    """After the checks of :func:`_check_catalog`: migrate when behind, then the engine."""
    _check_catalog(where, str(location), tables, revisions, create=create)
    try:
        if revisions != [HEAD_REVISION]:
            migrate(location)
        return make_engine(location)
    except (OperationalError, DatabaseError, InterfaceError, sqlite3.DatabaseError) as exc:
        raise _cannot_open(where, exc) from None


def _check_catalog(where: str, text: str, tables: set[str], revisions: list[str], *, create: bool) -> None:
    if tables and "alembic_version" not in tables:
        raise TailorError(f"{where} is a database but not a Tailor catalog (tables: {', '.join(sorted(tables)[:5])})")
    if not tables and not create:
        raise TailorError(f"{where} is an empty database (create a catalog with: tailor init {text})")
    if len(revisions) > 1:
        raise TailorError(
            f"{where} records {len(revisions)} schema versions at once ({', '.join(revisions)}); "
            "it was changed by hand: restore a backup"
        )
    if revisions and revisions[0] != HEAD_REVISION and revisions[0] not in known_revisions():
        raise TailorError(f"{where} was written by a newer Tailor (schema {revisions[0]}); upgrade Tailor")


_STORAGE_PROBLEMS = (
    ("database or disk is full", "the disk holding the catalog is full"),
    ("no space left on device", "the disk holding the catalog is full"),
    ("readonly database", "the catalog is read-only"),
    ("read-only transaction", "the catalog is read-only"),
    ("disk i/o error", "the disk holding the catalog failed to read or write"),
    ("database is locked", "another program keeps the catalog locked"),
    ("database disk image is malformed", "the catalog file is damaged; restore a backup"),
    ("file is not a database", "the catalog file is damaged; restore a backup"),
    ("server closed the connection", "the connection to the database server was lost"),
    ("terminating connection", "the connection to the database server was lost"),
    ("connection is closed", "the connection to the database server was lost"),
    ("consuming input failed", "the connection to the database server was lost"),
)
_REASONS = {
    "full": "full",
    "read-only": "read-only",
    "failed to read": "io",
    "locked": "locked",
    "damaged": "damaged",
    "connection": "connection",
}


def _storage_meaning(exc: BaseException) -> str | None:
    text = str(getattr(exc, "orig", None) or exc).lower()
    return next((meaning for needle, meaning in _STORAGE_PROBLEMS if needle in text), None)


def _cannot_open(where: str, exc: BaseException) -> TailorError:
    return TailorError(f"cannot open catalog {where}: {_storage_meaning(exc) or _first_line(exc)}")


def storage_error(exc: BaseException, location: str | Path) -> StorageError | None:
    """One line for a database error met inside a transaction (which was rolled back), as a
    :class:`StorageError`; None for an integrity error (a constraint the caller handles or a bug)."""
    if isinstance(exc, IntegrityError):
        return None
    meaning = _storage_meaning(exc)
    if meaning is None:
        return StorageError(
            f"database error in catalog {describe(location)}: {_first_line(exc)}; this step was not saved", "other"
        )
    reason = next(r for needle, r in _REASONS.items() if needle in meaning)
    return StorageError(f"{meaning} ({describe(location)}); this step was not saved", reason)


def _first_line(exc: BaseException, limit: int = 300) -> str:
    text = str(getattr(exc, "orig", None) or exc)
    line = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return line if len(line) <= limit else line[:limit] + "…"
