"""Helpers of the workbench tests: a window on a catalog, waiting for its workers, dumping the catalog."""

from __future__ import annotations

from tests.conftest import dump_tables
from workbench.app.application import create_main_window


def open_window(qtbot, location, *, show: bool = True):
    window = create_main_window(str(location))
    qtbot.addWidget(window)
    if show:
        window.show()
    qtbot.waitUntil(
        lambda: window.state is not None and window.state.loaded and window.browser.query_count > 0, timeout=15000
    )
    return window


def settle(qtbot, window, timeout: int = 15000) -> None:
    """Wait until pending edits are written and the views caught up."""
    window.editor.flush()
    qtbot.waitUntil(lambda: window.thumbs.pending() == 0, timeout=timeout)
    qtbot.wait(150)


def dump(location) -> dict[str, list[tuple]]:
    from core.catalog.store import Catalog

    with Catalog(location) as catalog:
        return dump_tables(catalog)
