"""Writing a file whole or not at all: readers (and a crash) never see half of it."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any


@contextmanager
def atomic_write(
    path: str | os.PathLike[str], mode: str = "wb", *, unique: bool = False, **open_args: Any
) -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path`` for writing; on success it replaces ``path``, on any failure
    (including Ctrl+C) it is removed. ``unique``: a temporary name of its own, for several writers of one path
    (else ``NAME.tmp``)."""
    target = Path(path)
    if unique:
        fd, name = tempfile.mkstemp(dir=target.parent, suffix=".part")
        os.close(fd)
        tmp = Path(name)
    else:
        tmp = target.with_name(target.name + ".tmp")
    try:
        with open(tmp, mode, **open_args) as fh:
            yield fh
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
