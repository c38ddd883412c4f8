"""Writing files safely: whole or not at all, never through a symbolic link.

Temporary files are created exclusively (``O_CREAT | O_EXCL``, under a name nobody can guess), so a link planted
where a temporary file would go is never written through; the finished file replaces its target by ``rename``,
which replaces a link at the target rather than following it. :func:`open_append` opens a log without following a
link at its name.
"""

from __future__ import annotations

import errno
import functools
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from core.base.errors import DiskFull, TailorError


@contextmanager
def atomic_write(
    path: str | os.PathLike[str], mode: str = "wb", *, unique: bool = True, fsync: bool = False, **open_args: Any
) -> Iterator[IO[Any]]:
    """Open a new temporary file beside ``path`` for writing; on success it replaces ``path``, on any failure
    (including Ctrl+C and a full disk) it is removed. Several writers of one path never share a temporary file.
    ``fsync``: the data reaches the disk before the rename. ``unique`` is accepted for older callers (every
    temporary name is unique now)."""
    del unique
    target = Path(path)
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    tmp = Path(name)
    try:
        os.fchmod(fd, _file_mode())  # mkstemp's 0600 would hide a team's run files from the team
        with open(fd, mode, **open_args) as fh:
            yield fh
            if fsync:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise DiskFull(f"the disk holding {target.parent} is full: {target.name} was not written", target) from None
        raise


@functools.cache
def _file_mode() -> int:
    """0666 less this process's umask (read without changing it, where Linux tells it)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o644


def open_append(path: str | os.PathLike[str], encoding: str = "utf-8") -> IO[str]:
    """A text file opened for appending, created if missing; a symbolic link at ``path`` is refused (one line)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise TailorError(f"{path} is a symbolic link; Tailor does not write through it") from None
        raise
    return os.fdopen(fd, "a", encoding=encoding)
