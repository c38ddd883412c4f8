"""Latest delivers only the newest request's result, and nothing to a view Qt has deleted meanwhile (a closed
window's Runs tab once got a duplicate check's answer after its table was gone: 'Internal C++ object already
deleted' in the event loop)."""

from __future__ import annotations

import threading

from PySide6.QtWidgets import QWidget
from shiboken6 import isValid

from workbench.workers import tasks
from workbench.workers.tasks import Latest


def test_a_result_for_a_deleted_owner_is_dropped(qtbot):
    owner, release, arrived, finished = QWidget(), threading.Event(), [], threading.Event()
    latest = Latest(owner)

    def slow() -> str:
        release.wait(10)
        finished.set()
        return "late"

    latest.run(slow, on_return=arrived.append, on_error=arrived.append)
    owner.deleteLater()
    qtbot.waitUntil(lambda: not isValid(owner), timeout=5000)
    release.set()
    qtbot.waitUntil(finished.is_set, timeout=5000)
    qtbot.waitUntil(lambda: not tasks.busy(), timeout=5000)  # the result's signal reached the GUI thread
    assert arrived == []


def test_only_the_newest_result_arrives(qtbot):
    owner = QWidget()
    qtbot.addWidget(owner)
    latest, arrived = Latest(owner), []
    for value in range(3):
        latest.run(lambda v=value: v, on_return=arrived.append)
    qtbot.waitUntil(lambda: arrived == [2], timeout=5000)
