"""A long core job (a generator of progress events) on a worker thread, with a progress dialog and Cancel.

The job is a generator function taking ``cancel`` (a ``threading.Event``) that opens its own catalog from a location
and imports its modules itself, in the worker thread: the GUI thread never loads torch or waits on the job. Events
are described by their shape, not their class (the classes live in modules that import torch): ``done`` and
``total``, and the class name picks the words.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QProgressDialog, QWidget

from workbench.workers.tasks import run_generator

STAGES = {
    "FeatureProgress": "Computing features: {done:,} of {total:,} images",
    "WriteProgress": "Writing predictions: {done:,} of {total:,}",
    "FoldProgress": "Cross-fitting: fold {done} of {total} done",
    "WeightsDownload": "Downloading weights: {done_mb:.1f} of {total_mb:.1f} MB",
    "MatrixProgress": "Training the matrix: {done} of {total} runs finished",
}


def describe(event: object) -> tuple[str, int, int] | None:
    template = STAGES.get(type(event).__name__)
    done, total = getattr(event, "done", None), getattr(event, "total", None)
    if template is None or done is None or total is None:
        return None
    text = template.format(done=done, total=total, done_mb=done / 1e6, total_mb=total / 1e6)
    return text, int(done), int(total)


class ProgressJob(QObject):
    """Runs ``job(*args, cancel=event)`` and reports its return value (``finished``) or one line (``failed``);
    Cancel sets ``cancel``, the event the job checks; the job then returns what it returns when cancelled, which
    ``finished`` carries like any other result."""

    finished = Signal(object)
    failed = Signal(str)

    def __init__(self, parent: QWidget, title: str, job: Callable, *args: object) -> None:
        super().__init__(parent)
        self.cancel = threading.Event()
        self.dialog = QProgressDialog(title, "Cancel", 0, 0, parent)
        self.dialog.setWindowTitle("Tailor")
        self.dialog.setWindowModality(Qt.WindowModality.WindowModal)
        self.dialog.setMinimumDuration(400)
        self.dialog.setAutoClose(False)
        self.dialog.setAutoReset(False)
        self.dialog.canceled.connect(self._cancel)
        self.title = title
        self.worker = run_generator(
            job, *args, cancel=self.cancel, on_yield=self._progress, on_return=self._done, on_error=self._failed
        )

    def _cancel(self) -> None:
        self.cancel.set()
        self.dialog.setLabelText(f"{self.title}\nCancelling…")

    def _progress(self, event: object) -> None:
        shown = describe(event)
        if shown is None or self.cancel.is_set():
            return
        text, done, total = shown
        self.dialog.setMaximum(max(total, 1))
        self.dialog.setValue(min(done, total))
        self.dialog.setLabelText(f"{self.title}\n{text}")

    def _done(self, result: object) -> None:
        self.dialog.close()
        self.finished.emit(result)
        self.deleteLater()

    def _failed(self, exc: BaseException) -> None:
        from core.base.errors import TailorError

        self.dialog.close()
        self.failed.emit(exc.message if isinstance(exc, TailorError) else f"{type(exc).__name__}: {exc}")
        self.deleteLater()
