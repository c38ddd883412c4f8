"""Writing and reading model files and checkpoints.

* :func:`save` writes atomically (a temporary file, then a rename), so a crash never leaves half a file, and
  through a Python file object: ``torch.save`` to a path holds the GIL while it writes, which froze the window for
  40-60 ms per resnet18 + Adam checkpoint (134 MB); through a file object the writes give the GIL away and the
  longest hold is under 10 ms.
* A failed write (a full disk, say) removes the temporary file and raises the ``OSError`` itself, naming the file:
  torch reports it as ``RuntimeError: [enforce fail at inline_container.cc...]``, which says nothing to a user.
* Ctrl+C and SIGTERM arriving while ``torch.save`` runs are held until it has returned, then delivered: raised
  inside torch's write callbacks, torch turned them into ``RuntimeError: ... unexpected pos`` (the run was
  recorded as failed) or lost them (the run went on to its last epoch).
* :func:`load` reads with ``weights_only=True`` (tensors and plain containers only: a checkpoint can never run
  code) onto the CPU.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, cast

import torch

from core.base.errors import TailorError
from core.base.files import atomic_write
from core.base.held_files import refuse_held


class _Writer:
    """A binary file that remembers the first OSError of its writes, and a Ctrl+C or SIGTERM that arrived while
    torch was calling it: torch turns both into a RuntimeError ("enforce fail ... unexpected pos")."""

    def __init__(self, fh: IO[bytes]) -> None:
        self.fh, self.interrupted = fh, False
        self.error: OSError | None = None

    def write(self, data: bytes) -> int:
        try:
            return self.fh.write(data)
        except OSError as exc:
            self.error = self.error or exc
            raise
        except KeyboardInterrupt:
            self.interrupted = True
            raise

    def flush(self) -> None:
        try:
            self.fh.flush()
        except KeyboardInterrupt:
            self.interrupted = True
            raise


HELD_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def signals_held() -> Iterator[None]:
    """Hold Ctrl+C and SIGTERM (main thread only: signals reach no other) until the block ends, then deliver the
    first one to the handler that was in place."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    arrived: list[int] = []
    previous = {signum: signal.signal(signum, lambda signum, _frame: arrived.append(signum)) for signum in HELD_SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
        if arrived:
            signal.raise_signal(arrived[0])


def save(obj: object, path: str | Path) -> Path:
    path = Path(path)
    with signals_held(), atomic_write(path) as fh:
        writer = _Writer(fh)
        try:
            torch.save(obj, cast(IO[bytes], writer))  # a file object: write and flush
        except RuntimeError:
            if writer.interrupted:
                raise KeyboardInterrupt from None
            if writer.error is None:
                raise
            error = writer.error
            raise OSError(error.errno, error.strerror, str(path)) from None
    return path


def load(path: str | Path) -> Any:
    """Tensors and plain containers only (``weights_only``): a file that holds other objects (code that would run
    on loading) is refused with one line, never loaded."""
    refuse_held(path, "checkpoint")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        if type(exc).__name__ != "UnpicklingError":  # pickle's, raised by the weights-only unpickler: nothing ran
            raise
        raise TailorError(
            f"{path} holds objects other than tensors and plain values; Tailor loads only weights, so it was not "
            "loaded (save the model's state_dict instead)"
        ) from None
