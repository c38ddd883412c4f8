"""Which device training would use, asked of a separate, isolated Python process (``core.training.devices``
imports torch; the window does not). The main window starts it once the catalog's first page is in, so the Train
tab knows its device when it is first opened; a Train tab on its own starts its own."""

from __future__ import annotations

import json
import sys

from PySide6.QtCore import QObject, QProcess, Signal
from shiboken6 import isValid

from core.training.devices import probe_arguments


class DeviceProbe(QObject):
    found = Signal(dict)  # core.training.devices.detect()'s answer ({} when the probe failed)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.result: dict | None = None
        self._process: QProcess | None = None

    def start(self) -> None:
        if self._process is not None or self.result is not None:
            return
        self._process = QProcess(self)
        self._process.finished.connect(self._finished)
        self._process.errorOccurred.connect(self._failed)  # a method: disconnected when the probe is deleted
        self._process.start(sys.executable, probe_arguments())

    def stop(self) -> None:
        """Kill the probe if it still runs (the window is closing)."""
        process = self._process
        if process is not None and process.state() != QProcess.ProcessState.NotRunning:
            process.finished.disconnect()
            process.errorOccurred.disconnect()
            process.kill()
            process.waitForFinished(1000)

    def _finished(self, code: int, _status: QProcess.ExitStatus) -> None:
        found: dict = {}
        if code == 0 and self._process is not None:
            try:
                found = json.loads(bytes(self._process.readAllStandardOutput()).decode().strip().splitlines()[-1])
            except (ValueError, IndexError):
                found = {}
        self._deliver(found)

    def _failed(self, _error: QProcess.ProcessError) -> None:
        self._deliver({})

    def _deliver(self, found: dict) -> None:
        if not isValid(self):  # the process's last signal while the probe itself is being destroyed
            return
        if self.result is None:
            self.result = found if isinstance(found, dict) else {}
            self.found.emit(self.result)
