"""One way to run a long job from the window: a generator on a worker thread, a progress dialog with Cancel, the
result (or one line saying why it failed) to the owner.

The job is ``job(*args, cancel=event)``, a generator of :class:`workbench.workers.progress.Progress` that opens its
own catalog from a location and imports its modules itself, in the worker thread. Cancel sets ``cancel``; the job
checks it and returns what it returns when cancelled (``None``, or a result that says so), which ``finished``
carries like any other result. A job that rolls back on cancel closes its core generator itself, in its thread.

The dialog is never modal: a modal ``QProgressDialog`` runs ``processEvents()`` inside ``setValue()``, which
re-entered the owner's handlers in the middle of an update (an import's report was shown twice). While a job runs,
``running_changed`` tells the owner, and the window disables its tabs and the catalog's actions instead.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QProgressDialog, QWidget

from workbench.workers.progress import Progress
from workbench.workers.tasks import run_generator

SHOW_AFTER_MS = 300  # a job that ends sooner never flashes a dialog


def error_line(exc: BaseException) -> str:
    """One line for a job's error: a Tailor error's own message, else the exception's type and text."""
    from core.base.errors import TailorError

    return exc.message if isinstance(exc, TailorError) else f"{type(exc).__name__}: {exc}".rstrip(": ")


class JobRunner(QObject):
    """Runs one job at a time for its owner (a tab, or the window for imports)."""

    finished = Signal(object)  # what the job returned
    failed = Signal(str)  # why it failed, one line
    running_changed = Signal(bool)

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.parent_widget = parent
        self.cancel_event = threading.Event()
        self.worker: Any = None
        self._on_result: Callable[[Any], None] | None = None
        self.dialog: QProgressDialog | None = None
        self.title = ""

    @property
    def running(self) -> bool:
        return self.worker is not None

    def start(
        self, title: str, job: Callable[..., Any], *args: object, on_result: Callable[[Any], None] | None = None
    ) -> bool:
        """Start ``job(*args, cancel=...)``; its result goes to ``on_result`` (then ``finished``). False (and nothing
        started) while another job of this runner runs."""
        if self.running:
            return False
        self.title, self.cancel_event, self._on_result = title, threading.Event(), on_result
        self.dialog = QProgressDialog(title, "Cancel", 0, 0, self.parent_widget)
        self.dialog.setWindowTitle("Tailor")
        self.dialog.setMinimumDuration(SHOW_AFTER_MS)
        self.dialog.setAutoClose(False)
        self.dialog.setAutoReset(False)
        self.dialog.canceled.connect(self.cancel)
        self.running_changed.emit(True)
        self.worker = run_generator(
            job, *args, cancel=self.cancel_event, on_yield=self._progress, on_return=self._returned,
            on_error=self._errored, on_finish=self._ended, owner=self,
        )  # fmt: skip
        return True

    def cancel(self) -> None:
        if self.running and not self.cancel_event.is_set():
            self.cancel_event.set()
            if self.dialog is not None:
                self.dialog.setLabelText(f"{self.title}\nCancelling…")

    def _progress(self, progress: Progress) -> None:
        if self.dialog is None or self.cancel_event.is_set():
            return
        self.dialog.setMaximum(max(progress.total, 0))
        if progress.total:
            self.dialog.setValue(min(progress.done, progress.total))
        self.dialog.setLabelText(f"{self.title}\n{progress.text}")

    def _close(self) -> None:
        self.worker = None
        if self.dialog is not None:
            self.dialog.canceled.disconnect(self.cancel)
            self.dialog.close()
            self.dialog.deleteLater()
            self.dialog = None
        self.running_changed.emit(False)

    def _returned(self, result: object) -> None:
        self._close()
        if self._on_result is not None:
            self._on_result(result)
        self.finished.emit(result)

    def _errored(self, exc: BaseException) -> None:
        self._close()
        self.failed.emit(error_line(exc))

    def _ended(self) -> None:
        if self.running:  # the worker ended without a result or an error (it never does, unless Qt lost it)
            self._close()
            self.failed.emit("the job stopped unexpectedly; nothing of it was recorded")
