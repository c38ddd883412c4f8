"""From model back to catalog in the window: Predict from the Runs tab, predictions under the thumbnails and in
Browse's filters, Accept predictions at 60% precision with Undo, the Label issues tab's Keep / Relabel with Undo,
and the Runs tab's warning about test images with a twin in training."""

from __future__ import annotations

import os

from PySide6.QtCore import Qt

from core.catalog import edits
from core.catalog.model_edits import set_labels
from core.catalog.store import Catalog
from tests.conftest import dump_tables
from tests.curation.test_curation import ids_of, label_id
from tests.curation.test_curation import trained as trained
from tests.curation.test_curation import weights as weights
from tests.curation.test_curation import weights_file as weights_file
from tests.qt_helpers import dump, idle, open_window, settle
from workbench.viewmodels.requests import PredictRun


def wait_job(qtbot, window) -> None:
    from workbench.widgets.job_runner import JobRunner

    running = [runner for runner in window.findChildren(JobRunner) if runner.running]
    assert len(running) == 1
    with qtbot.waitSignal(running[0].finished, timeout=120000):
        pass


def test_predict_then_accept_at_60_percent_precision_and_undo_row_for_row(qtbot, trained):
    location, run_id = trained
    with Catalog(location) as cat:
        attribute = cat.attribute("colour")
        unlabeled = ids_of(cat, "red")[:4] + ids_of(cat, "blue")[:2]
        edits.clear(cat, unlabeled, attribute.id)
        person = ids_of(cat, "green")[0]
        set_labels(cat, person, attribute.id, [label_id(cat, "green")])
    window = open_window(qtbot, location)
    browser = window.view("browser")
    assert browser.predictions.run_id is None and not browser.predictions.isVisibleTo(browser)  # no predictions yet
    window.workspace.request(PredictRun(run_id, "unlabeled"))
    wait_job(qtbot, window)
    qtbot.waitUntil(lambda: browser.predictions.run_id == run_id, timeout=15000)
    assert browser.predictions.accept.isEnabled() and browser.predictions.isVisibleTo(browser)
    assert window.tabs.currentWidget() is browser
    # what was predicted is shown at once: the unlabeled images with their predictions (issue 30)
    qtbot.waitUntil(lambda: browser.model.prediction_run == run_id and browser.model.rowCount() == 6, timeout=15000)
    assert browser.filters.unlabeled.isChecked() and "the unlabeled ones" in window.statusBar().currentMessage()
    qtbot.waitUntil(lambda: browser.model.row_info(0) is not None, timeout=15000)
    caption = browser.model.caption(browser.model.row_info(0))
    assert caption.startswith("→ ") and caption.endswith("%"), caption
    before = dump(location)
    browser.predictions.precision.setValue(60)
    browser.predictions.accept_above.trigger()
    # issue 26: a preview first, per label; labels with too few test images start unchecked and say so
    qtbot.waitUntil(lambda: browser.accept_dialog is not None and browser.accept_dialog.isVisible(), timeout=30000)
    dialog = browser.accept_dialog
    assert sorted(row.label for row in dialog.rows) == ["blue", "green", "red"]  # the run's output order
    assert dump(location) == before  # nothing written yet
    table = dialog.table
    for r, row in enumerate(dialog.rows):
        assert (table.item(r, 0).checkState() == Qt.CheckState.Checked) == (row.enough and row.images > 0)
        if not row.enough:
            assert f"only {row.test_positives} test image" in table.item(r, 3).text()
    red = next(r for r, row in enumerate(dialog.rows) if row.label == "red")
    assert dialog.rows[red].images > 0
    table.item(red, 0).setCheckState(Qt.CheckState.Checked)  # the user vouches for red
    dialog.accept()
    settle(qtbot, window)
    after = dump(location)
    new = [row for row in after["annotation"] if row not in before["annotation"]]
    assert new and all("model" in row for row in new) and {row[1] for row in new} <= set(unlabeled)
    assert [r for r in after["annotation"] if r[1] == person] == [r for r in before["annotation"] if r[1] == person]
    window.undo()
    settle(qtbot, window)
    assert dump(location) == before
    window.redo()
    settle(qtbot, window)
    assert dump(location) == after


def test_label_issues_tab_keep_relabel_and_undo(qtbot, trained):
    location, _run_id = trained
    with Catalog(location) as cat:
        hidden_tail = ids_of(cat, "blue")[0]
        edits.assign(cat, [hidden_tail], label_id(cat, "red"))
    window = open_window(qtbot, location)
    view = window.view("issues")
    window.tabs.setCurrentWidget(view)
    qtbot.waitUntil(lambda: view.find_button.isEnabled(), timeout=15000)
    view.find_button.click()
    wait_job(qtbot, window)
    report = view.report
    assert report is not None and view.table.rowCount() == len(report.issues) > 0
    row = next(r for r, issue in enumerate(report.issues) if issue.image_id == hidden_tail)
    view.table.selectRow(row)
    assert "labeled red, the features suggest blue" in view.verdict.text()
    assert "label quality " in view.verdict.text() and "e-0" not in view.verdict.text()  # a percentage, never 6.87e-06
    assert view.table.item(row, 4).text().endswith("%")
    before = dump(location)
    view.keep_button.click()
    settle(qtbot, window)
    with Catalog(location) as cat:
        kept = dump_tables(cat, ("label_review",))["label_review"]
    assert len(kept) == 1 and kept[0][1] == hidden_tail and view.marks.decided == {hidden_tail: "kept"}
    window.undo()
    settle(qtbot, window)
    assert hidden_tail not in view.marks.decided and view.table.item(row, 6).text() == ""
    with Catalog(location) as cat:
        assert dump_tables(cat, ("label_review",))["label_review"] == []
    window.redo()
    settle(qtbot, window)
    assert view.marks.decided == {hidden_tail: "kept"} and view.table.item(row, 6).text() == "kept"  # not "edited"
    window.undo()
    settle(qtbot, window)
    view.table.selectRow(row)
    view.relabel_button.click()
    settle(qtbot, window)
    after = dump(location)
    changed = [r for r in after["annotation"] if r[1] == hidden_tail]
    assert len(changed) == 1 and "human" in changed[0] and changed[0][2] == label_id(Catalog(location), "blue")
    window.undo()
    settle(qtbot, window)
    assert dump(location) == before
    if os.environ.get("TAILOR_SCREENSHOTS"):
        window.resize(1280, 800)
        view.table.selectRow(0)
        idle(qtbot, window)
        window.grab().save(os.path.join(os.environ["TAILOR_SCREENSHOTS"], "label-issues.png"))


def test_runs_tab_warns_about_test_images_with_a_twin_in_training(qtbot, trained, tmp_path):
    location, run_id = trained
    window = open_window(qtbot, location)
    runs = window.view("runs")
    window.tabs.setCurrentWidget(runs)
    qtbot.waitUntil(lambda: runs.row_count() == 1, timeout=15000)
    runs.select_runs([run_id])
    # the same colour with a little noise: near-identical features (the head-only run's store is complete)
    qtbot.waitUntil(lambda: runs.duplicates_note.isVisibleTo(runs), timeout=90000)
    text = runs.duplicates_note.text()
    assert "twin in its training split" in text and f"tailor duplicates CATALOG --run {run_id}" in text
    assert runs.predict_button.isEnabled()
    window.view("browser").filters.text.setText(
        "red"
    )  # Browse shows the 30 red images: Predict ▸ The images Browse shows
    qtbot.waitUntil(lambda: window.view("browser").model.rowCount() == 30, timeout=15000)
    window.workspace.request(PredictRun(run_id, "shown"))
    wait_job(qtbot, window)
    from core.catalog import predictions

    with Catalog(location) as cat:
        assert predictions.count(cat, run_id) == 30
