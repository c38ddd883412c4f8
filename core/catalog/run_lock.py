"""Whether a run recorded as ``running`` still has a process behind it: an OS file lock in its folder.

The process training a run holds an exclusive ``flock`` on ``run.lock`` in the run's folder from the moment the
run is created (or resumed) until it ends. The OS drops the lock when that process dies, however it dies
(``kill -9``, a power cut, an out-of-memory kill), so anyone who opens the catalog later can tell a live run from
an interrupted one without guessing from timestamps: :func:`owner_alive` is False only when the lock file exists,
was written by an owner (it holds the owner's pid) and can be locked now. A run whose folder is not on this
machine (a team catalog on PostgreSQL, a run trained on a GPU server) is left alone: its state is unknown here.

Platforms without ``fcntl`` (Windows) never report a run as interrupted.
"""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path
from types import ModuleType

from core.base.errors import TailorError

fcntl: ModuleType | None
try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

LOCK_NAME = "run.lock"
_HELD: dict[str, int] = {}  # run folder -> open file descriptor holding its lock (this process)


def hold(directory: Path, *, wait_s: float = 0.5) -> None:
    """Take the run's lock for this process (a TailorError when another live process holds it)."""
    key = str(Path(directory).resolve())
    if key in _HELD or fcntl is None:
        return
    try:  # never through a link planted at the lock's name
        fd = os.open(Path(directory) / LOCK_NAME, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
    except OSError as exc:
        raise TailorError(f"cannot take the run's lock {Path(directory) / LOCK_NAME}: {exc.strerror or exc}") from None
    deadline = time.monotonic() + wait_s
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() >= deadline:  # not a passing check by owner_alive: a live owner
                os.close(fd)
                raise TailorError(f"the run in {directory} is being trained by another process") from None
            time.sleep(0.02)
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()} {socket.gethostname()}\n".encode())
    _HELD[key] = fd


def release(directory: Path) -> None:
    fd = _HELD.pop(str(Path(directory).resolve()), None)
    if fd is not None:
        os.close(fd)  # closing the descriptor drops the lock


def owner_alive(directory: str | Path) -> bool | None:
    """True: a process holds the run's lock. False: the lock was held and its process is gone.
    None: cannot tell here (no folder or no lock file on this machine, no fcntl)."""
    path = Path(directory) / LOCK_NAME
    if fcntl is None or not str(directory) or not path.is_file():
        return None
    if str(Path(directory).resolve()) in _HELD:
        return True
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        owned = os.fstat(fd).st_size > 0  # an empty file: its creator has not taken the lock yet
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False if owned else None
    finally:
        os.close(fd)
