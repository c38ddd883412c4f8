"""Helpers of the workbench tests: a window on a catalog, waiting for its workers, dumping the catalog."""

from __future__ import annotations

from tests.conftest import dump_tables
from workbench.app.application import create_main_window


def open_window(qtbot, location, *, show: bool = True):
    window = create_main_window(str(location))
    qtbot.addWidget(window)
    if show:
        window.show()
    qtbot.waitUntil(lambda: window.workspace.state is not None and window.view("browser").listed, timeout=15000)
    return window


def quiet(window) -> bool:
    """No worker running or delivering, no edit waiting to be applied or reported, no thumbnail pending, no
    single-shot timer of the window about to start more work (a debounced filter, a selection settling)."""
    from PySide6.QtCore import QTimer

    from workbench.workers import tasks

    timers = window.findChildren(QTimer)
    editor = window.workspace.editor
    edits = editor.pending() if editor is not None else 0
    waiting = any(t.isSingleShot() and t.isActive() for t in timers)
    return not tasks.busy() and edits == 0 and window.thumbs.pending() == 0 and not waiting


def idle(qtbot, window, timeout: int = 15000) -> None:
    """Wait until the window has nothing left to do."""
    qtbot.waitUntil(lambda: quiet(window), timeout=timeout)


def settle(qtbot, window, timeout: int = 15000) -> None:
    """Wait until pending edits are written and the views caught up."""
    window.workspace.editor.flush()
    idle(qtbot, window, timeout)


def dump(location) -> dict[str, list[tuple]]:
    from core.catalog.store import Catalog

    with Catalog(location) as catalog:
        return dump_tables(catalog)
