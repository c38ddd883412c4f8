"""The Label next tab: a batch of questions about the rare label, answered with the Y / N / S keys, each undone row
for row."""

from __future__ import annotations

import os

from PySide6.QtCore import Qt

from core.catalog.store import Catalog
from core.heads.train import train_head
from tests.conftest import dump_tables
from tests.curation.test_suggest import pool as pool
from tests.features.test_feature_store import head_config
from tests.features.test_feature_store import weights_file as weights_file
from tests.heads.test_heads import shapes as shapes
from tests.qt_helpers import idle, open_window, settle
from tests.workbench.test_curation_window import wait_job

TABLES = ("annotation", "label_answer")


def test_a_label_next_batch_answered_with_keys_and_undone_row_for_row(qtbot, pool, weights_file):
    location, ids = pool
    list(train_head(location, head_config(weights_file, epochs=30, lr=0.01)))
    with Catalog(location) as cat:
        before = dump_tables(cat, TABLES)
    window = open_window(qtbot, location)
    view = window.view("label_next")
    window.tabs.setCurrentWidget(view)
    qtbot.waitUntil(lambda: view.find_button.isEnabled() and view.label_box.count() == 4, timeout=15000)
    assert view.label_box.itemText(0) == "the tail labels in turn"
    view.label_box.setCurrentText("blue")
    view.batch.setValue(3)
    view.find_button.click()
    wait_job(qtbot, window)
    report = view.report
    assert report is not None and view.table.rowCount() == len(report.suggestions) >= 2
    assert all(s.label == "blue" for s in report.suggestions)
    assert "'blue': " in view.summary.text() and "more test images to compare runs" in view.summary.text()
    first, second = report.suggestions[0], report.suggestions[1]
    assert view.current() == first and view.yes_button.text() == "Yes, it is blue (Y)"
    assert f"Is image {first.image_id} blue?" in view.question.text()
    view.table.setFocus()
    needs = report.labels[0]
    assert needs.describe() in view.summary.text()
    qtbot.keyClick(view.table, Qt.Key.Key_Y)
    settle(qtbot, window)
    assert view.marks.decided == {first.image_id: "yes"} and view.current() == second
    grown = needs.after([first.split])  # the Yes counts at once, in the split the image is in
    assert grown.describe() in view.summary.text() and grown != needs
    qtbot.keyClick(view.table, Qt.Key.Key_N)
    settle(qtbot, window)
    assert view.marks.decided[second.image_id] == "no"
    with Catalog(location) as cat:
        after = dump_tables(cat, TABLES)
        blue = first.label_id
    assert [r[1] for r in after["label_answer"]] == [second.image_id]
    added = [r for r in after["annotation"] if r not in before["annotation"]]
    assert len(added) == 1 and added[0][1] == first.image_id and blue in added[0] and "human" in added[0]
    if len(report.suggestions) > 2:
        qtbot.keyClick(view.table, Qt.Key.Key_S)
        assert view.marks.decided[report.suggestions[2].image_id] == "skipped"
        window.undo()
        assert report.suggestions[2].image_id not in view.marks.decided
    window.undo()
    settle(qtbot, window)
    assert second.image_id not in view.marks.decided and view.marks.decided == {first.image_id: "yes"}
    window.undo()
    settle(qtbot, window)
    assert view.marks.decided == {} and needs.describe() in view.summary.text()
    with Catalog(location) as cat:
        assert dump_tables(cat, TABLES) == before
    window.redo()
    settle(qtbot, window)
    assert view.marks.decided == {first.image_id: "yes"}  # redo brings the answer back
    if os.environ.get("TAILOR_SCREENSHOTS"):
        window.resize(1024, 700)
        idle(qtbot, window)
        window.grab().save(os.path.join(os.environ["TAILOR_SCREENSHOTS"], "label-next.png"))


def test_without_a_run_the_tab_says_what_to_do(qtbot, shapes):
    window = open_window(qtbot, shapes)
    view = window.view("label_next")
    window.tabs.setCurrentWidget(view)
    qtbot.waitUntil(lambda: "Train a run of this attribute first" in view.summary.text(), timeout=15000)
    assert not view.find_button.isEnabled() and not view.yes_button.isEnabled()
