"""Find similar in Browse: select images, press F (or the context menu), see the nearest images first with their
distance, narrow them with Unlabeled only, label them in bulk and undo."""

from __future__ import annotations

from tests.conftest import main_cli
from tests.features.test_feature_store import weights_file as weights_file
from tests.heads.test_heads import shapes as shapes
from tests.qt_helpers import idle, open_window
from tests.workbench.test_workbench import select_rows


def test_find_similar_shows_the_nearest_images_first_and_labels_them_undoably(qtbot, shapes, weights_file):
    trained = main_cli("train", shapes, "-a", "colour", "--head-only", "--backbone", "resnet32-cifar",
                       "--pretrained", weights_file, "--image-size", "16", "--epochs", "1")  # fmt: skip
    assert trained.returncode == 0, trained.stderr  # the attribute's newest run gives the features
    window = open_window(qtbot, shapes)
    browser = window.view("browser")
    model = browser.model
    qtbot.waitUntil(lambda: model.rowCount() == 29 and model.loaded_pages() > 0, timeout=15000)
    greens = [row for row in range(model.rowCount()) if "/green/" in model.row_info(row).path]
    select_rows(window, greens[:2])
    chosen = set(browser.grid.selected_ids())
    browser.find_similar_action.trigger()
    qtbot.waitUntil(lambda: browser.filters.similar_chip.isVisible() and not browser.similar_runner.running,
                    timeout=60000)  # fmt: skip
    assert browser.filters.similar_chip.text() == "Similar to 2 images  ✕"
    qtbot.waitUntil(lambda: model.rowCount() == 27 and model.loaded_pages() > 0, timeout=15000)
    assert not chosen & set(model.all_ids())  # the chosen images are left out
    first = [model.row_info(row) for row in range(6)]
    assert all("/green/" in info.path for info in first), [info.path for info in first]  # 8 greens, 2 chosen
    caption = model.data(model.index(0))
    assert caption.split(" · ")[0].replace(".", "").isdigit() and caption.endswith("green")
    # narrowed by the other filters: every image is labeled, so none is left
    browser.filters.unlabeled.setChecked(True)
    qtbot.waitUntil(lambda: model.rowCount() == 0, timeout=15000)
    browser.filters.unlabeled.setChecked(False)
    qtbot.waitUntil(lambda: model.rowCount() == 27, timeout=15000)
    # label the six nearest in bulk, then undo
    select_rows(window, range(6))
    red = next(info.id for info in browser.state.labels if info.name == "red")
    browser.assign_label(red)
    idle(qtbot, window)
    qtbot.waitUntil(lambda: model.data(model.index(0)).endswith("red"), timeout=15000)
    window.menu_actions.undo.trigger()
    idle(qtbot, window)
    qtbot.waitUntil(lambda: model.data(model.index(0)).endswith("green"), timeout=15000)
    # the chip clears the search
    browser.filters.similar_chip.click()
    qtbot.waitUntil(lambda: model.rowCount() == 29, timeout=15000)
    assert " · " not in (model.data(model.index(0)) or "")
    idle(qtbot, window)
