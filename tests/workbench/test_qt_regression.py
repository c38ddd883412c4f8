"""PySide6 6.12.0 on Python 3.11 loses a reference to None on every processEvents() and aborts the interpreter
after a few thousand calls (pytest-qt's waits call it). It is excluded in pyproject.toml; this catches a
regression whichever version gets installed."""

from __future__ import annotations

import sys

import pytest


def test_pyside6_version_is_not_the_broken_one():
    import PySide6

    assert PySide6.__version__ != "6.12.0"


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="None is immortal from Python 3.12 on")
def test_process_events_keeps_none_references(qapp):
    qapp.processEvents()
    before = sys.getrefcount(None)
    for _ in range(5000):
        qapp.processEvents()
    lost = before - sys.getrefcount(None)
    assert lost < 50, f"processEvents() lost {lost} references to None over 5000 calls"
