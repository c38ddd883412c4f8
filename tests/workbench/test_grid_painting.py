"""The grid paints its exposed cells in one Python call (no C++ -> Python hand-over per cell), exactly the cells Qt
lays out there, selected ones as selected; while it scrolls fast its cells ask for no thumbnail, and once it stays
put they do; finished thumbnails reach the GUI thread in batches."""

from __future__ import annotations

from PySide6.QtCore import QItemSelectionModel

from tests.qt_helpers import idle, open_window
from tests.workbench.test_workbench import shop as shop
from workbench.widgets import grid as grid_module


def _painted(qtbot, view, monkeypatch) -> list[tuple[int, bool]]:
    painted: list[tuple[int, bool]] = []
    real = view.delegate.paint

    def paint(painter, option, index) -> None:
        painted.append((index.row(), bool(option.state & grid_module.QStyle.StateFlag.State_Selected)))
        real(painter, option, index)

    monkeypatch.setattr(view.delegate, "paint", paint)
    view.viewport().repaint()
    monkeypatch.setattr(view.delegate, "paint", real)
    return painted


def test_the_grid_paints_exactly_the_cells_qt_lays_out_on_screen(qtbot, shop, monkeypatch):
    window = open_window(qtbot, shop)
    view, model = window.view("browser").grid, window.view("browser").model
    view.verticalScrollBar().setValue(view.verticalScrollBar().maximum() // 3)
    idle(qtbot, window)
    on_screen = view.viewport().rect()
    expected = [r for r in range(model.rowCount()) if view.visualRect(model.index(r)).intersects(on_screen)]
    view.selectionModel().select(model.index(expected[1]), QItemSelectionModel.SelectionFlag.ClearAndSelect)
    painted = _painted(qtbot, view, monkeypatch)
    assert [row for row, _ in painted] == expected and len(expected) > 10
    assert [row for row, selected in painted if selected] == [expected[1]]


def test_scrolling_fast_asks_for_no_thumbnail_until_the_grid_stays_put(qtbot, shop, monkeypatch):
    window = open_window(qtbot, shop)
    view, model = window.view("browser").grid, window.view("browser").model
    idle(qtbot, window)
    asked: list[str] = []
    real = window.thumbs.get
    monkeypatch.setattr(
        window.thumbs, "get", lambda image_id, path, digest: asked.append(path) or real(image_id, path, digest)
    )
    bar = view.verticalScrollBar()
    for _ in range(5):  # a fling: a page every frame
        bar.setValue(bar.value() + bar.pageStep())
        view.viewport().repaint()
    assert asked == [] and not model.loading
    qtbot.waitUntil(lambda: model.loading and bool(asked), timeout=5000)  # SETTLE_MS later the cells on screen ask
    idle(qtbot, window)
    on_screen = view.viewport().rect()
    shown = [r for r in range(model.rowCount()) if view.visualRect(model.index(r)).intersects(on_screen)]
    assert all(window.thumbs.cached(model.row_info(r).path, model.row_info(r).content_hash) for r in shown)


def test_thumbnails_reach_the_gui_thread_in_batches(qtbot, shop):
    window = open_window(qtbot, shop)
    batches: list[list[int]] = []
    window.thumbs.ready.connect(batches.append)
    view = window.view("browser").grid
    view.verticalScrollBar().setValue(view.verticalScrollBar().maximum())
    qtbot.waitUntil(lambda: bool(batches), timeout=5000)
    idle(qtbot, window)
    assert all(isinstance(batch, list) and batch == sorted(batch) for batch in batches)
    assert sum(len(batch) for batch in batches) >= len(batches)
