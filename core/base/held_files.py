"""Files this process must never open except through SQLite: the catalogs it holds open and their journals.

POSIX record locks belong to a process, and *any* ``close()`` of *any* descriptor of a file drops every lock the
process holds on it, SQLite's included. A window that read its own catalog file once (a file dialog guessing its
type, an import walking the folder that holds it, a thumbnail of a path recorded as the catalog) lost its locks;
another process then took itself for the last connection, checkpointed and deleted the ``-wal`` and ``-shm`` files
while the window still wrote into them, and those writes were lost.

So every SQLite catalog file an engine of this process opens is registered here (:func:`hold`), and every path
Tailor opens by name for reading goes through :func:`refuse_held` first (image bytes, manifests, weights files).
It compares the file's identity (device and inode, from ``stat``, which opens nothing) and its name (the journals
are created and deleted by SQLite, so their inodes change) with the held catalogs. :func:`journal_lost` tells
whether the journal of a held catalog was deleted under this process, the symptom if anything slips through.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from core.base.errors import TailorError

JOURNAL_SUFFIXES = ("-wal", "-shm", "-journal")

_lock = threading.Lock()
_held: dict[str, tuple[int, tuple[int, int] | None]] = {}  # resolved path -> (connections, (device, inode))


class HeldFileError(TailorError):
    """A path that is a catalog this process holds open, or one of its journals."""


def hold(path: str | os.PathLike[str]) -> None:
    """Register an SQLite catalog file an engine of this process opens (counted: one :func:`release` each)."""
    key = str(Path(path).resolve())
    identity = _identity(key)  # the file's identity while it is held: read once, not at every check
    with _lock:
        count = _held.get(key, (0, None))[0]
        _held[key] = (count + 1, identity)


def release(path: str | os.PathLike[str]) -> None:
    key = str(Path(path).resolve())
    with _lock:
        count, identity = _held.get(key, (0, None))
        if count > 1:
            _held[key] = (count - 1, identity)
        else:
            _held.pop(key, None)


def _held_identities() -> dict[str, tuple[int, int] | None]:
    with _lock:
        return {key: identity for key, (_count, identity) in _held.items()}


def _identity(path: str) -> tuple[int, int] | None:
    try:
        stat = os.stat(path)
    except (OSError, ValueError):
        return None
    return stat.st_dev, stat.st_ino


def held_catalog_of(path: str | os.PathLike[str]) -> str | None:
    """The held catalog that ``path`` is (or whose journal it is), else None. Opens nothing."""
    catalogs = _held_identities()
    if not catalogs:
        return None
    text = os.fspath(path)
    try:
        resolved = str(Path(text).resolve())
    except (OSError, RuntimeError, ValueError):
        resolved = text
    identity = _identity(text)
    for catalog, held_identity in catalogs.items():
        if resolved == catalog or any(resolved == catalog + suffix for suffix in JOURNAL_SUFFIXES):
            return catalog
        if identity is not None and identity == held_identity:
            return catalog
    return None


def refuse_held(path: str | os.PathLike[str], what: str = "file") -> None:
    """Raise :class:`HeldFileError` (one line) when ``path`` is a catalog this process holds open or its journal:
    reading it would drop SQLite's locks (see the module docstring)."""
    catalog = held_catalog_of(path)
    if catalog is not None:
        name = os.fspath(path)
        itself = "the catalog" if str(Path(name).resolve()) == catalog else "a journal of the catalog"
        raise HeldFileError(f"{name} is {itself} open in Tailor ({catalog}), not a {what}; choose another file")


def journal_lost(catalog: str | os.PathLike[str]) -> bool:
    """True when this process has a descriptor of the catalog's ``-wal`` or ``-shm`` file that another program
    deleted (Linux; False where ``/proc/self/fd`` does not exist): this process's connections then write into a
    file nobody will read again."""
    base = str(Path(catalog).resolve())
    gone = {base + suffix + " (deleted)" for suffix in ("-wal", "-shm")}
    try:
        descriptors = os.listdir("/proc/self/fd")
    except OSError:
        return False
    for fd in descriptors:
        try:
            if os.readlink(f"/proc/self/fd/{fd}") in gone:
                return True
        except OSError:
            continue
    return False
