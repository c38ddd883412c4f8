"""The workbench window (pytest-qt, offscreen): grid paging, filters, annotation with undo/redo against the
database, label merge, the histogram against ``tailor stats``, imports with cancel, and screenshots."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from PySide6.QtCore import QItemSelection, QItemSelectionModel, QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent, QImage
from PySide6.QtWidgets import QDialog

from core.catalog.store import Catalog
from core.ingest.importer import import_source, run
from tests.conftest import make_garments, run_cli, write_image
from tests.qt_helpers import dump, idle, open_window, settle
from workbench.widgets import grid as grid_module
from workbench.widgets.grid import CellRole

COUNTS = {"long": 300, "short": 180, "sleeveless": 60, "cap": 12, "puff": 4}  # 556 images, ratio 75


@pytest.fixture
def shop(tmp_path) -> Path:
    location = tmp_path / "shop.sqlite"
    make_garments(tmp_path / "images", COUNTS, size=(20, 20))
    with Catalog.create(location) as catalog:
        run(import_source(catalog, tmp_path / "images", "sleeve"))
    return location


def select_rows(window, rows) -> None:
    grid, model = window.view("browser").grid, window.view("browser").model
    selection = QItemSelection()
    for row in rows:
        selection.select(model.index(row), model.index(row))
    grid.selectionModel().select(selection, QItemSelectionModel.SelectionFlag.ClearAndSelect)


def test_window_shows_the_catalog_with_thumbnails(qtbot, shop):
    window = open_window(qtbot, shop)
    model = window.view("browser").model
    assert model.rowCount() == sum(COUNTS.values())
    assert window.view("browser").filters.count.text() == "556 images"
    # newest requests are served first, so row 0 (asked for first) may come last: wait for it
    qtbot.waitUntil(
        lambda: model.loaded_pages() > 0 and model.data(model.index(0), Qt.ItemDataRole.DecorationRole) is not None,
        timeout=15000,
    )
    image = model.data(model.index(0), Qt.ItemDataRole.DecorationRole)
    assert image is not None and max(image.width(), image.height()) == 112  # delivered at cell size
    # opaque 32-bit, the backing store's format: a blit, not a per-pixel blend (30x the grid's paint time)
    assert image.format() == QImage.Format.Format_RGB32 and not image.hasAlphaChannel()
    assert model.data(model.index(0)) == "cap"  # cells show the labels of the current attribute
    assert model.data(model.index(0), CellRole) == (image, "cap")  # what the delegate paints, in one call
    assert window.attribute.currentText().startswith("sleeve")


def test_grid_pages_rows_on_demand_and_keeps_a_bounded_number(qtbot, shop, monkeypatch):
    monkeypatch.setattr(grid_module, "PAGE", 20)
    monkeypatch.setattr(grid_module, "MAX_PAGES", 5)
    window = open_window(qtbot, shop)
    model = window.view("browser").model
    for row in range(0, model.rowCount(), 20):  # touch every page, as scrolling to the end does
        model.data(model.index(row))
        qtbot.waitUntil(lambda r=row: model.row_info(r) is not None, timeout=5000)
        assert model.loaded_pages() <= 5
    last = model.row_info(model.rowCount() - 1)
    assert last is not None and last.id == model.image_id(model.rowCount() - 1)


def test_a_page_that_arrives_after_its_grid_was_deleted_goes_nowhere(qtbot, shop, tmp_path, monkeypatch):
    """A closed window's grid asked for a page; its answer came after Qt deleted the model (it raised 'Internal C++
    object already deleted' in the event loop)."""
    from array import array

    from shiboken6 import delete

    from workbench.workers import tasks
    from workbench.workers.thumbnails import ThumbnailLoader

    started = threading.Event()
    release = threading.Event()
    real_rows = grid_module._image_rows

    def slow_rows(*args):
        started.set()
        release.wait(10)
        return real_rows(*args)

    monkeypatch.setattr(grid_module, "_image_rows", slow_rows)
    thumbs = ThumbnailLoader(tmp_path / "thumbs")
    with Catalog(shop) as catalog:
        model = grid_module.ImageGridModel(thumbs)
        model.set_ids(catalog, array("q", [1, 2, 3]), None)
        assert model.data(model.index(0)) is None  # asks for the first page
        assert started.wait(10)
        delete(model)
        release.set()
        qtbot.waitUntil(lambda: not tasks.busy(), timeout=10000)  # the worker's results were delivered: nowhere
    thumbs.stop()


def test_each_filter_changes_the_grid(qtbot, shop):
    window = open_window(qtbot, shop)
    bar, browser = window.view("browser").filters, window.view("browser")

    def count_after(change) -> int:
        with qtbot.waitSignal(browser.model.modelReset, timeout=5000):
            change()
        return browser.model.rowCount()

    puff = bar.label.findText("puff (4)")
    assert count_after(lambda: bar.label.setCurrentIndex(puff)) == 4
    assert count_after(lambda: bar.has.setCurrentIndex(1)) == 552
    assert count_after(lambda: bar.has.setCurrentIndex(0)) == 4
    assert count_after(lambda: bar.label.setCurrentIndex(0)) == 556
    assert count_after(lambda: bar.split.setCurrentIndex(bar.split.findData("none"))) == 556
    assert count_after(lambda: bar.split.setCurrentIndex(bar.split.findData("test"))) == 0
    assert count_after(lambda: bar.split.setCurrentIndex(0)) == 556
    assert count_after(lambda: bar.unlabeled.setChecked(True)) == 0
    assert count_after(lambda: bar.unlabeled.setChecked(False)) == 556
    assert count_after(lambda: bar.source.setCurrentIndex(bar.source.findData("human"))) == 0
    assert count_after(lambda: bar.source.setCurrentIndex(bar.source.findData("import"))) == 556
    assert count_after(lambda: bar.text.setText("cap-000")) == 10
    assert count_after(lambda: bar.sort.setCurrentIndex(bar.sort.findData("newest"))) == 10


def test_bulk_label_500_then_undo_and_redo_round_trip_the_database(qtbot, shop):
    window = open_window(qtbot, shop)
    before = dump(shop)
    select_rows(window, range(500))
    window.view("browser").grid.setFocus()
    labels = [info.name for info in window.workspace.state.labels]  # number keys follow this order
    qtbot.keyClick(window.view("browser").grid, Qt.Key.Key_1 + labels.index("puff"))
    settle(qtbot, window)
    after = dump(shop)
    with Catalog(shop) as catalog:
        counts = {c.name: c.count for c in catalog.label_counts("sleeve").labels}
    assert counts["puff"] == 500  # the first 500 by path include the 4 puffs already there
    assert sum(counts.values()) == 556  # single-label: one label per image, replaced not added
    assert window.workspace.editor.stack.count() == 1
    qtbot.waitUntil(
        lambda: dict(window.view("imbalance").bar_values()).get("puff") == 500, timeout=5000
    )  # view followed
    window.undo()
    settle(qtbot, window)
    assert dump(shop) == before
    window.redo()
    settle(qtbot, window)
    assert dump(shop) == after
    window.undo()
    settle(qtbot, window)
    assert dump(shop) == before
    # the views followed: the histogram shows the catalog's counts again
    qtbot.waitUntil(lambda: dict(window.view("imbalance").bar_values()) == COUNTS, timeout=5000)


def test_keys_move_select_and_clear(qtbot, shop):
    window = open_window(qtbot, shop)
    grid = window.view("browser").grid
    grid.setFocus()
    grid.setCurrentIndex(window.view("browser").model.index(0))
    qtbot.keyClick(grid, Qt.Key.Key_Right)
    assert grid.currentIndex().row() == 1
    qtbot.keyClick(grid, Qt.Key.Key_Right, Qt.KeyboardModifier.ShiftModifier)
    assert grid.selected_rows() == [1, 2]
    qtbot.keyClick(grid, Qt.Key.Key_0)  # clear the sleeve labels of the two
    settle(qtbot, window)
    with Catalog(shop) as catalog:
        assert catalog.label_counts("sleeve").images == 554


def test_multi_label_click_adds_and_remove_button_removes(qtbot, tmp_path):
    location = tmp_path / "styles.sqlite"
    manifest = tmp_path / "m.csv"
    lines = ["path,labels"]
    for i in range(8):
        path = write_image(tmp_path / "img" / f"{i}.png", colour=(i * 20, 0, 0))
        lines.append(f"{path},{'boho|retro' if i < 3 else 'minimal'}")
    manifest.write_text("\n".join(lines) + "\n")
    with Catalog.create(location) as catalog:
        run(import_source(catalog, manifest, "style", multi_label=True))
    window = open_window(qtbot, location)
    select_rows(window, range(8))
    window.view("browser")._selection_settled()
    panel = window.view("browser").labels
    retro = next(i for i in range(panel.list.count()) if panel.list.item(i).text().split()[1] == "retro")
    panel.list.itemClicked.emit(panel.list.item(retro))  # a click only picks the label
    settle(qtbot, window)
    with Catalog(location) as catalog:
        assert {c.name: c.count for c in catalog.label_counts("style").labels}["retro"] == 3
    panel.list.setCurrentRow(retro)
    assert panel.assign_button.text() == "Apply 'retro'"
    panel.assign_button.click()
    settle(qtbot, window)
    with Catalog(location) as catalog:
        assert {c.name: c.count for c in catalog.label_counts("style").labels} == {"retro": 8, "boho": 3, "minimal": 5}
    panel.list.setCurrentRow(retro)
    panel.remove_button.click()
    settle(qtbot, window)
    with Catalog(location) as catalog:
        assert {c.name: c.count for c in catalog.label_counts("style").labels}["retro"] == 0


def test_label_merge_from_the_dialog_and_undo(qtbot, shop, monkeypatch):
    from workbench.dialogs import labels as labels_dialog

    window = open_window(qtbot, shop)
    before = dump(shop)
    dialog = labels_dialog.LabelsDialog(window.workspace.catalog, window.workspace.editor, window)
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: dialog.tree.topLevelItemCount() == 1, timeout=5000)
    top = dialog.tree.topLevelItem(0)
    puff = next(top.child(i) for i in range(top.childCount()) if top.child(i).text(0) == "puff")
    dialog.tree.setCurrentItem(puff)
    monkeypatch.setattr(labels_dialog._ChooseLabel, "exec", lambda self: QDialog.DialogCode.Accepted)
    monkeypatch.setattr(
        labels_dialog._ChooseLabel,
        "choice",
        lambda self: next(info for _, items in dialog.data for info in items if info.name == "cap"),
    )
    asked = []
    monkeypatch.setattr(labels_dialog.plain, "ask", lambda *args: asked.append(args[2]) or True)
    dialog.merge()
    settle(qtbot, window)
    assert "4 images of 'puff'" in asked[0]
    with Catalog(shop) as catalog:
        counts = {c.name: c.count for c in catalog.label_counts("sleeve").labels}
    assert counts["cap"] == 16 and "puff" not in counts
    qtbot.waitUntil(
        lambda: (
            "puff"
            not in [
                t.text(0)
                for t in (dialog.tree.topLevelItem(0).child(i) for i in range(dialog.tree.topLevelItem(0).childCount()))
            ]
        ),
        timeout=5000,
    )
    window.undo()
    settle(qtbot, window)
    assert dump(shop) == before


def test_histogram_equals_tailor_stats_and_click_filters_the_browser(qtbot, shop):
    window = open_window(qtbot, shop)
    view = window.view("imbalance")
    qtbot.waitUntil(lambda: view.stats is not None, timeout=5000)
    stats = json.loads(run_cli("stats", str(shop), "--attribute", "sleeve", "--json").stdout)
    assert view.bar_values() == [(item["name"], item["count"]) for item in stats["labels"]]
    assert view.stats["imbalance_ratio"] == pytest.approx(stats["imbalance_ratio"]) == 75.0
    heights, base = view.count_bars.item.opts["height"], view.count_bars.item.opts["y0"]
    tops = [base + h for h in heights]  # log bars start at half an image: a label with one image still shows
    assert tops == pytest.approx([__import__("math").log10(c) for _, c in view.bar_values()])
    assert base < 0 and min(heights) > 0.29
    view.log.setChecked(False)
    assert list(view.count_bars.item.opts["height"]) == [c for _, c in view.bar_values()]
    # weights at another beta equal the CLI's
    view.beta.setValue(200)  # beta = 0.999
    stats = json.loads(run_cli("stats", str(shop), "--attribute", "sleeve", "--json", "--beta", "0.999").stdout)
    for mine, theirs in zip(view.stats["labels"], stats["labels"]):
        assert mine["weights"]["iew"] == pytest.approx(theirs["weights"]["iew"])
    # clicking the 'puff' bar shows its images in the browser
    window.tabs.setCurrentWidget(view)
    qtbot.waitExposed(view.count_plot)
    index = [name for name, _ in view.bar_values()].index("puff")
    plot = view.count_plot.getPlotItem()
    scene_pos = plot.vb.mapViewToScene(QPointF(index, 1.0))
    event = type("Click", (), {"scenePos": lambda self: scene_pos})()
    with qtbot.waitSignal(window.view("browser").model.modelReset, timeout=5000):
        view._clicked(event)
    assert window.tabs.currentWidget() is window.view("browser")
    assert window.view("browser").model.rowCount() == 4


def test_split_view_counts_one_split(qtbot, tmp_path):
    location = tmp_path / "split.sqlite"
    make_garments(tmp_path / "tree" / "train", {"a": 8, "b": 2})
    make_garments(tmp_path / "tree" / "test", {"a": 3, "b": 3})
    with Catalog.create(location) as catalog:
        run(import_source(catalog, tmp_path / "tree", "x"))
    window = open_window(qtbot, location)
    view = window.view("imbalance")
    qtbot.waitUntil(lambda: view.stats is not None, timeout=5000)
    # the catalog has a training split: shown first (a balanced test set would hide the imbalance), and said
    assert dict(view.bar_values()) == {"a": 8, "b": 2} and view.split.currentData() == "train"
    assert "(train split)" in view.summary.text() and "imbalance ratio <b>4.0" in view.summary.text()
    assert view.count_axis.names == view.name_axis.names == ["a", "b"]  # every count bar named
    stats = json.loads(run_cli("stats", str(location), "-a", "x", "--json").stdout)
    assert stats["split"] == "train" and stats["imbalance_ratio"] == 4.0
    view.split.setCurrentIndex(view.split.findData(None))
    qtbot.waitUntil(lambda: view.stats["split"] is None, timeout=5000)
    assert dict(view.bar_values()) == {"a": 11, "b": 5} and "(all splits)" in view.summary.text()
    stats = json.loads(run_cli("stats", str(location), "-a", "x", "--split", "all", "--json").stdout)
    assert stats["split"] == "all" and {i["name"]: i["count"] for i in stats["labels"]} == {"a": 11, "b": 5}
    view.split.setCurrentIndex(view.split.findData("test"))
    qtbot.waitUntil(lambda: view.stats["split"] == "test", timeout=5000)
    assert dict(view.bar_values()) == {"a": 3, "b": 3}
    window.workspace.state.refresh()  # an edit re-reads the counts: the person's choice of split is kept
    settle(qtbot, window)
    assert view.split.currentData() == "test"


def test_import_from_the_window_reports_skipped_files_and_saves_them(qtbot, tmp_path):
    location = tmp_path / "new.sqlite"
    Catalog.create(location).close()
    make_garments(tmp_path / "drop", {"red": 5, "blue": 2})
    (tmp_path / "drop" / "red" / "broken.png").write_bytes(b"\x89PNG not really")
    window = open_window(qtbot, location)
    with qtbot.waitSignal(window.importer.finished, timeout=20000) as finished:
        window.imports.start(str(tmp_path / "drop"), "colour")
    report = finished.args[0]
    assert report.new == 7 and len(report.skipped) == 1
    dialog = window.imports.last_report
    assert dialog.table.rowCount() == 1 and "broken.png" in dialog.table.item(0, 0).text()
    out = tmp_path / "skipped.csv"
    dialog.save_to(str(out))
    qtbot.waitUntil(out.exists, timeout=5000)
    assert "broken.png" in out.read_text()
    qtbot.waitUntil(lambda: window.view("browser").model.rowCount() == 7, timeout=5000)


def test_import_cancel_leaves_the_catalog_unchanged(qtbot, tmp_path, monkeypatch):
    from core.ingest import importer

    location = tmp_path / "cancel.sqlite"
    Catalog.create(location).close()
    make_garments(tmp_path / "many", {"a": 150, "b": 150})
    monkeypatch.setattr(importer, "CHUNK", 10)  # many progress events, so the cancel lands mid-import
    window = open_window(qtbot, location)
    before = dump(location)
    seen = []

    def on_event(progress):
        seen.append(progress.text.split(":")[0])
        if progress.text.startswith("Reading") and progress.done >= 50:
            window.importer.cancel()

    with qtbot.waitSignal(window.importer.finished, timeout=20000, check_params_cb=lambda report: report is None):
        window.imports.start(str(tmp_path / "many"), "letters")
        window.importer.worker.yielded.connect(on_event)
    assert "Reading and checking images" in seen and not window.importer.running
    assert dump(location) == before


def test_dropping_a_folder_opens_the_import_dialog(qtbot, shop, tmp_path, monkeypatch):
    window = open_window(qtbot, shop)
    asked = []
    monkeypatch.setattr(window.imports, "ask", lambda source="": asked.append(source))
    data = QMimeData()
    data.setUrls([QUrl.fromLocalFile(str(tmp_path))])
    event = QDropEvent(
        QPointF(10, 10), Qt.DropAction.CopyAction, data, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    window.dropEvent(event)
    qtbot.waitUntil(lambda: asked == [str(tmp_path)], timeout=2000)


def test_window_state_and_recent_catalogs_are_remembered(qtbot, shop):
    from workbench.viewmodels import settings

    window = open_window(qtbot, shop)
    window.resize(640, 470)  # inside the offscreen screen (restoreGeometry keeps windows on screen)
    window.close()
    assert settings.recent_catalogs()[0] == str(shop)
    again = open_window(qtbot, shop)
    assert again.size().height() == 470  # (the width is held up by the toolbars' minimum on a small screen)
    assert settings.settings().value("window/geometry") is not None


def test_screenshots_of_each_main_view(qtbot, tmp_path):
    """Writes browse.png and imbalance.png (to $TAILOR_SCREENSHOTS, default a temp folder) from the demo."""
    from core.ingest.demo import generate

    out = Path(os.environ.get("TAILOR_SCREENSHOTS", tmp_path / "shots"))
    out.mkdir(parents=True, exist_ok=True)
    images, manifest = generate(tmp_path / "demo")
    location = tmp_path / "demo" / "catalog.sqlite"
    with Catalog.create(location) as catalog:
        run(import_source(catalog, images, "sleeve"))
        run(import_source(catalog, manifest, "style", multi_label=True))
    window = open_window(qtbot, location)
    window.resize(1280, 800)
    window.view("browser").grid.setCurrentIndex(window.view("browser").model.index(3))
    qtbot.waitUntil(
        lambda: window.view("browser").detail.detail is not None and window.thumbs.cached_count > 20, timeout=15000
    )
    settle(qtbot, window)
    assert window.grab().save(str(out / "browse.png"))
    window.tabs.setCurrentWidget(window.view("imbalance"))
    qtbot.waitUntil(lambda: window.view("imbalance").stats is not None, timeout=5000)
    idle(qtbot, window)
    assert window.grab().save(str(out / "imbalance.png"))
    assert (out / "browse.png").stat().st_size > 20000


def test_window_start_does_not_import_torch_or_scikit_learn(shop):
    # At the first paint nothing but Qt, Pillow and Tailor's own light modules is loaded; by the first page of
    # thumbnails the catalog's (SQLAlchemy) and superqt, but still no plotting, analysis, training or Alembic.
    code = (
        "import sys\nfrom PySide6.QtCore import QEvent, QObject\nfrom PySide6.QtWidgets import QApplication\n"
        "from workbench.app.application import create_main_window\n"
        "HEAVY = ('torch', 'torchvision', 'sklearn', 'scipy', 'pandas', 'pyqtgraph', 'numpy', 'alembic', "
        "'sqlalchemy', 'superqt')\n"
        "def loaded(): return sorted({m.split('.')[0] for m in sys.modules} & set(HEAVY))\n"
        "at_paint = []\n"
        "class Spy(QObject):\n"
        "    def eventFilter(self, obj, event):\n"
        "        if event.type() == QEvent.Type.Paint and not at_paint: at_paint.append(loaded())\n"
        "        return False\n"
        f"w = create_main_window({str(shop)!r}); spy = Spy(); w.installEventFilter(spy); w.show()\n"
        "app = QApplication.instance()\n"
        "import time; end = time.time() + 5\n"
        "b = w.view('browser')\n"
        "while time.time() < end and not (b.model.rowCount() and b.model.loaded_pages()):\n"
        "    app.processEvents(); time.sleep(0.01)\n"
        "assert w.view('browser').model.rowCount() == 556, w.view('browser').model.rowCount()\n"
        "print(at_paint[0]); print(loaded(), flush=True)\n"
        "w.close()\nfrom workbench.app.application import finish\nfinish(0)\n"  # ends as `tailor gui` does
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    at_paint, at_first_page = result.stdout.strip().splitlines()[-2:]
    assert at_paint == "[]"
    assert at_first_page == "['sqlalchemy', 'superqt']"


def test_a_process_that_ends_with_a_read_still_running_ends_quietly():
    """A process that opened a window ends through ``finish``: the read still running is let finish, then the
    process leaves without tearing the interpreter down under the pool (falling off the end instead printed
    "Signal source has been deleted" tracebacks, and under load the window-start test's script aborted:
    "terminate called without an active exception")."""
    code = (
        "import time\nfrom PySide6.QtWidgets import QApplication\napp = QApplication([])\n"
        "from workbench.workers.tasks import run_function\n"
        "run_function(lambda: (time.sleep(0.3), print('read done', flush=True)))\napp.processEvents()\n"
        "from workbench.app.application import finish\nfinish(0)\n"
    )
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    ended = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)
    assert (ended.returncode, ended.stdout, ended.stderr) == (0, "read done\n", "")


def test_cli_gui_screenshot_and_bad_catalog(shop, tmp_path):
    result = run_cli("gui", str(tmp_path / "missing.sqlite"))
    assert result.returncode == 2 and "does not exist" in result.stderr and "Traceback" not in result.stderr
    shot = tmp_path / "shot.png"
    env_result = subprocess.run(
        [
            str(Path(sys.executable).with_name("tailor")),
            "gui",
            str(shop),
            "--screenshot",
            str(shot),
            "--view",
            "imbalance",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    assert env_result.returncode == 0, env_result.stderr[-2000:]
    assert shot.stat().st_size > 10000
    no_display = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY")}
    result = subprocess.run(
        [str(Path(sys.executable).with_name("tailor")), "gui", str(shop)],
        capture_output=True,
        text=True,
        timeout=60,
        env=no_display,
    )
    assert result.returncode == 2 and "no display" in result.stderr


def test_missing_x11_libraries_are_named_instead_of_qt_aborting(monkeypatch):
    import ctypes.util

    from workbench.app.application import display_problem

    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setenv("DISPLAY", ":99")
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: None if name == "xcb-cursor" else f"lib{name}.so")
    assert "libxcb-cursor0" in display_problem() and "apt install libxcb-cursor0" in display_problem()
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: f"lib{name}.so")
    assert display_problem() is None


def test_a_label_changed_elsewhere_is_not_overwritten_and_refresh_shows_it(qtbot, shop):
    from core.catalog import edits

    window = open_window(qtbot, shop)
    model = window.view("browser").model
    qtbot.waitUntil(lambda: model.row_info(0) is not None, timeout=5000)
    image, shown = model.image_id(0), model.row_info(0).labels
    ids = {info.name: info.id for info in window.workspace.state.labels}
    other = "puff" if shown != ("puff",) else "cap"
    with Catalog(shop) as elsewhere:  # a colleague relabels the image in another process
        edits.assign(elsewhere, [image], ids[other])
    before = dump(shop)
    failures = []
    window.workspace.editor.failed.connect(failures.append)
    select_rows(window, [0])
    window.view("browser").assign_label(ids["sleeveless"])  # over what this window still shows
    settle(qtbot, window)
    assert failures and "relabelled elsewhere" in failures[0] and "refresh" in failures[0]
    assert dump(shop) == before and window.workspace.editor.stack.count() == 0  # nothing written, nothing to undo
    assert "relabelled elsewhere" in window.statusBar().currentMessage()
    window.refresh()  # F5 shows the colleague's label
    qtbot.waitUntil(lambda: model.row_info(0) is not None and model.row_info(0).labels == (other,), timeout=5000)
    select_rows(window, [0])
    window.view("browser").assign_label(ids["sleeveless"])  # now it is a deliberate change
    settle(qtbot, window)
    with Catalog(shop) as catalog:
        counts = {c.name: c.count for c in catalog.label_counts("sleeve").labels}
    assert counts["sleeveless"] == COUNTS["sleeveless"] + 1


def test_the_window_works_on_a_postgresql_catalog_too(qtbot, location, tmp_path):
    make_garments(tmp_path / "images", {"long": 30, "short": 12, "puff": 3}, size=(20, 20))
    with Catalog.create(location) as catalog:
        run(import_source(catalog, tmp_path / "images", "sleeve"))
    window = open_window(qtbot, location)
    model = window.view("browser").model
    qtbot.waitUntil(lambda: model.rowCount() == 45 and model.row_info(0) is not None, timeout=10000)
    before = dump(location)
    select_rows(window, range(5))
    window.view("browser").assign_label(next(info.id for info in window.workspace.state.labels if info.name == "puff"))
    settle(qtbot, window)
    with Catalog(location) as catalog:
        assert {c.name: c.count for c in catalog.label_counts("sleeve").labels}["puff"] == 8
    qtbot.waitUntil(lambda: dict(window.view("imbalance").bar_values()).get("puff") == 8, timeout=5000)
    window.undo()
    settle(qtbot, window)
    assert dump(location) == before


def test_help_lists_every_shortcut_and_the_toolbar_keeps_its_width(qtbot, shop, monkeypatch):
    from PySide6.QtGui import QAction, QKeySequence

    from workbench.app import menus

    window = open_window(qtbot, shop)
    keys = {
        sequence.toString(QKeySequence.SequenceFormat.PortableText)
        for action in window.findChildren(QAction)
        for sequence in action.shortcuts()
    }
    assert {"Ctrl+1", "Ctrl+5", "Ctrl+N", "Ctrl+O", "Ctrl+Q", "Ctrl+Z", "F5"} <= keys
    for key in keys:
        assert key in menus.shortcuts_text(window.declared), key
    shown = []
    monkeypatch.setattr(menus.plain, "inform", lambda _parent, title, text: shown.append((title, text)))
    menus.show_about(window)
    assert menus.tailor_version() in shown[-1][1]
    width = window.menu_actions.undo_tool.text()
    select_rows(window, [0, 1])
    window.view("browser").assign_label(window.view("browser").state.labels[0].id)
    settle(qtbot, window)
    assert window.menu_actions.undo.text().startswith("&Undo label 2")  # the menu says what it undoes
    assert (
        window.menu_actions.undo_tool.text() == width == "Undo" and window.menu_actions.undo_tool.isEnabled()
    )  # the toolbar keeps its text
