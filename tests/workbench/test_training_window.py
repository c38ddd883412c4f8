"""Train, compare and review from the window: the panel's queue, live plots, cancel, runs table, review gallery."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QItemSelection, QItemSelectionModel, QPoint, QPointF, Qt

from core.analysis.review import label_thresholds, load_review, misclassified
from core.catalog.runs import final_scores, list_runs
from core.catalog.store import Catalog
from core.ingest.importer import import_source, run
from core.training.events import BatchProgress
from tests.conftest import make_garments
from tests.qt_helpers import dump, idle, open_window, settle
from workbench.viewmodels.requests import ReviewRun

COUNTS = {"long": 40, "short": 24, "cap": 8, "puff": 5}


@pytest.fixture
def wardrobe(tmp_path) -> Path:
    location = tmp_path / "wardrobe.sqlite"
    make_garments(tmp_path / "images", COUNTS, size=(20, 20))
    with Catalog.create(str(location)) as catalog:
        run(import_source(catalog, tmp_path / "images", "sleeve"))
    return location


def tiny(panel, epochs: int = 2) -> None:
    """Settings small enough for CI: the CIFAR ResNet-32 on 16 px images."""
    panel.backbone.setCurrentText("resnet32-cifar")
    panel.pretrained.setCurrentIndex(0)
    panel.epochs.setValue(epochs)
    panel.batch_size.setValue(8)
    panel.image_size.setValue(16)


def train_and_wait(qtbot, window, variants, epochs=2):
    panel = window.view("training")
    tiny(panel, epochs)
    panel.set_variants(variants)
    ended = []
    window.workspace.queue.jobEnded.connect(ended.append)
    qtbot.waitUntil(panel.train_button.isEnabled, timeout=60000)  # disabled while the device is detected
    panel.train_button.click()
    qtbot.waitUntil(lambda: len(ended) == len(variants), timeout=120000)
    return ended


def test_opening_the_train_tab_loads_the_training_engine_in_the_background(qtbot, wardrobe, monkeypatch):
    import threading

    from workbench.workers import torch_loading

    monkeypatch.setattr(torch_loading, "_LOADED", threading.Event())  # as in a new session, whatever ran before
    window = open_window(qtbot, wardrobe)
    panel = window.view("training")
    with qtbot.waitSignal(window.workspace.queue.prepared, timeout=60000) as blocker:
        window.tabs.setCurrentWidget(panel)
    assert blocker.args == [""]
    assert window.workspace.queue.engine_ready()
    assert panel.progress_text.text().startswith("Ready to train")
    assert window.workspace.queue.prepare() is False  # once per session


def test_train_from_the_panel_plots_each_epoch_and_lists_the_run(qtbot, wardrobe):
    window = open_window(qtbot, wardrobe)
    assert window.view("training").attribute.currentText() == "sleeve"
    jobs = train_and_wait(qtbot, window, ["nw", "iew"])
    assert [job.status for job in jobs] == ["finished", "finished"], [job.message for job in jobs]
    plots = window.view("training").plots
    for job in jobs:
        series = plots.series[job.run_id]
        assert [e["epoch"] for e in series.epochs] == [0, 1]  # one point per epoch
        assert series.last is not None and series.counts and sum(series.counts) > 0
    qtbot.waitUntil(lambda: len(plots.test_curve.getData()[0]) == 2, timeout=2000)  # redraws are throttled
    x, y = plots.test_curve.getData()
    assert list(x) == [1, 2] and np.all(np.isfinite(y))
    assert len(plots.bar_heights()) == 2  # both runs overlaid
    with Catalog(str(wardrobe)) as catalog:  # what `tailor runs` lists
        listed = {r.id: r.status for r in list_runs(catalog)}
    assert listed == {jobs[0].run_id: "finished", jobs[1].run_id: "finished"}
    window.view("runs").refresh()
    qtbot.waitUntil(lambda: window.view("runs").row_count() == 1, timeout=10000)  # two variants of one click: a group
    group = window.view("runs").table.topLevelItem(0)
    assert group.text(1) == "variants · 2 runs" and group.childCount() == 2 and not group.isExpanded()

    # compare: select both runs -> runs x labels AP table, exported as CSV and Markdown
    runs_view = window.view("runs")
    captions: list[str] = []
    set_caption = runs_view.compare_caption.setText
    runs_view.compare_caption.setText = lambda text: (captions.append(text), set_caption(text))
    runs_view.select_runs([jobs[0].run_id, jobs[1].run_id])
    qtbot.waitUntil(lambda: runs_view.table_data is not None, timeout=10000)
    # while the bootstrap runs on its worker the caption says so (it kept asking to select runs)
    assert any(c.startswith("Comparing 2 runs") for c in captions[:-1]), captions
    assert "bootstrap interval" in captions[-1]
    assert runs_view.compare_table.rowCount() == 2
    assert runs_view.compare_table.columnCount() == 1 + len(COUNTS) + 4
    csv_path = runs_view.export("csv", str(wardrobe.parent / "cmp.csv"))
    md_path = runs_view.export("md", str(wardrobe.parent / "cmp.md"))
    assert Path(csv_path).read_text().startswith("run_id,variant,backbone,seed,measure,label")
    acsa = runs_view.compare_table.item(0, 1 + len(COUNTS) + 1).text()  # the baseline's ACSA and its interval
    assert "[" in acsa and "–" in acsa and "bootstrap interval" in runs_view.compare_caption.text()
    assert "| run | variant |" in Path(md_path).read_text()
    # operating points: one table for the selected runs, a run column first; labels with fewer than 10 test images
    # marked; a row's PR curve with its band; a click on the curve saves that label's threshold with the run
    panel = runs_view.operating
    qtbot.waitUntil(lambda: panel.table.rowCount() == 2 * len(COUNTS), timeout=20000)
    runs = {panel.table.item(r, 0).text() for r in range(2 * len(COUNTS))}
    assert runs == {str(jobs[0].run_id), str(jobs[1].run_id)}
    assert "too few to compare" in panel.table.item(0, 2).text()
    panel.target.setValue(0.9)
    qtbot.waitUntil(lambda: "90%" in panel.caption.text() and "Computing" not in panel.caption.text(), timeout=20000)
    exported = Path(panel.export_csv(str(wardrobe.parent / "thresholds.csv"))).read_text().splitlines()
    assert exported[0].startswith("run_id,label,test_positives,too_few_to_compare,ap_pct,threshold,precision_pct")
    assert len(exported) == 1 + 2 * len(COUNTS) and ",90.0," in exported[1]
    row = max(range(len(panel.flat)), key=lambda r: panel.flat[r][1].positives)
    panel.table.selectRow(row)
    assert panel.curve.getData()[0] is not None and len(panel.curve.getData()[0]) > 0
    assert len(panel.band_low.getData()[0]) > 0  # the bootstrap band
    run_id, point = panel.flat[row]
    view_box = panel.plot.getPlotItem().vb
    clicked = panel.plot.mapFromScene(view_box.mapViewToScene(QPointF(0.5, 0.5)))
    qtbot.mouseClick(panel.plot.viewport(), Qt.MouseButton.LeftButton, pos=clicked)  # a click on the curve
    qtbot.waitUntil(lambda: "picked on the curve" in panel.table.item(row, 7).text(), timeout=20000)
    with Catalog(str(wardrobe)) as cat:
        picked = label_thresholds(cat, run_id, 0.9)[point.label_id]  # what Accept predictions uses
    at = point.curve["threshold"].index(picked)  # a point of the curve: the nearest to the click (a pixel's slack)
    x = view_box.mapSceneToView(panel.plot.mapToScene(clicked)).x()
    nearest = min(abs(r - x) for r in point.curve["recall"])
    assert abs(point.curve["recall"][at] - x) <= nearest + 0.02


def test_the_convex_gan_variant_trains_a_base_run_then_oversamples_it(qtbot, wardrobe):
    window = open_window(qtbot, wardrobe)
    panel = window.view("training")
    panel.set_variants(["convex-gan"])
    [job] = train_and_wait(qtbot, window, ["convex-gan"], epochs=1)
    assert job.status == "finished", job.message
    assert job.title.startswith("nw + convex-gan")
    with Catalog(str(wardrobe)) as catalog:
        runs = {r.id: r for r in list_runs(catalog)}
    oversampled = runs[job.run_id]
    assert oversampled.loss == "convex-gan" and runs[oversampled.base_run_id].loss == "nw"
    assert set(panel.plots.series) == set(runs)  # both runs were plotted live
    assert len(panel.plots.series[job.run_id].epochs) == 10  # Phase 2's default 10 epochs


def test_cancel_stops_the_run_within_two_seconds_and_records_it(qtbot, wardrobe):
    window = open_window(qtbot, wardrobe)
    panel = window.view("training")
    tiny(panel, epochs=50)
    panel.set_variants(["nw", "ifw"])
    seen, ended = [], []
    window.workspace.queue.runEvent.connect(lambda e: seen.append(e) if isinstance(e, BatchProgress) else None)
    window.workspace.queue.jobEnded.connect(ended.append)
    qtbot.waitUntil(panel.train_button.isEnabled, timeout=60000)
    panel.train_button.click()
    qtbot.waitUntil(lambda: bool(seen), timeout=60000)
    waiting = window.workspace.queue.waiting()
    assert len(waiting) == 1
    window.workspace.queue.remove(waiting[0])  # the user removes the waiting run, then cancels the running one
    started = time.perf_counter()
    panel.cancel_button.click()
    qtbot.waitUntil(lambda: bool(ended), timeout=2000)
    assert time.perf_counter() - started < 2.0
    assert ended[0].status == "cancelled"
    qtbot.waitUntil(lambda: not window.workspace.queue.busy(), timeout=5000)
    with Catalog(str(wardrobe)) as catalog:
        assert [r.status for r in list_runs(catalog)] == ["cancelled"]


def test_a_failed_run_shows_its_message_and_the_window_lives(qtbot, wardrobe):
    window = open_window(qtbot, wardrobe)
    for path in (wardrobe.parent / "images" / "puff").iterdir():
        path.write_bytes(b"not an image")  # unreadable images fail the run
    jobs = train_and_wait(qtbot, window, ["nw"], epochs=1)
    assert jobs[0].status == "failed" and "puff" in jobs[0].message
    assert "failed" in window.view("training").jobs.item(0).text()
    assert window.isVisible()
    # issue 30: a long failure message never widens the settings past the window (nor cuts the Train button)
    panel = window.view("training")
    window.tabs.setCurrentWidget(panel)
    window.resize(1024, 700)
    settle(qtbot, window)
    content = panel.train_button.parentWidget()
    before = content.minimumSizeHint().width()
    panel.progress_text.setText("failed: /a/" + "very_long_unbroken_folder_name/" * 12 + "image.png is unreadable")
    settle(qtbot, window)
    assert content.minimumSizeHint().width() == before
    button = panel.train_button
    assert button.mapTo(window, QPoint(button.width(), 0)).x() <= window.width()
    assert panel.splitter.sizes()[1] >= 500  # the plots keep their room (the settings pane is 442 px at least)


def test_review_gallery_lists_the_misclassified_images_and_fixes_a_label(qtbot, wardrobe):
    window = open_window(qtbot, wardrobe)
    jobs = train_and_wait(qtbot, window, ["nw", "ifw"], epochs=1)
    run_id = jobs[0].run_id
    review_view = window.view("review")
    window.workspace.request(
        ReviewRun(jobs[1].run_id)
    )  # the tab shows one run, then another is asked for while it is hidden
    qtbot.waitUntil(
        lambda: review_view.review is not None and review_view.review.run_id == jobs[1].run_id, timeout=10000
    )
    window.tabs.setCurrentWidget(window.view("browser"))
    with Catalog(str(wardrobe)) as catalog:  # independently of core.analysis.review: off the arg-max
        ids, _paths, targets, scores = final_scores(catalog, run_id)
        expected = {i for i, t, s in zip(ids, targets, scores) if int(np.argmax(s)) != t[0]}
        review = load_review(catalog, run_id)
    listed = []
    review_view.model.modelReset.connect(lambda: listed.append(True))
    window.workspace.request(ReviewRun(run_id))
    qtbot.waitUntil(lambda: bool(listed) and review_view.review is not None, timeout=10000)
    assert review_view.review.run_id == run_id and review_view.run.currentData() == run_id
    shown = {review_view.model.image_id(r) for r in range(review_view.model.rowCount())}
    assert shown == expected and len(misclassified(review)) == len(expected)
    if not expected:
        pytest.skip("the run made no mistake to review")
    # a confusion cell lists exactly its images
    row = review_view.items[0]
    true_j, pred_j = review.labels.index(row.truth[0]), review.labels.index(row.predicted[0])
    review_view.show_cell(true_j, pred_j)
    assert row.image_id in {item.image_id for item in review_view.items}
    assert all(item.truth == row.truth and item.predicted == row.predicted for item in review_view.items)

    before = dump(wardrobe)
    model = review_view.model
    review_view.gallery.selectionModel().select(
        QItemSelection(model.index(0), model.index(0)), QItemSelectionModel.SelectionFlag.ClearAndSelect
    )
    # "Give label" starts at the prediction; the run under review is never offered as the run to compare with
    assert review_view.fix_label.currentText() == row.predicted[0]
    offered = [review_view.versus.itemData(i) for i in range(review_view.versus.count())]
    assert run_id not in offered and jobs[1].run_id in offered
    assert review_view.matrix_box.isVisible() or not review_view.isVisible()
    review_view.accept_selected()  # the model's prediction becomes the label, source "model"
    settle(qtbot, window)
    qtbot.waitUntil(lambda: review_view.items[0].image_id in review_view.fixed, timeout=5000)
    caption = model.data(model.index(0), Qt.ItemDataRole.ToolTipRole)
    assert caption.startswith("<p") and "✓ " in caption and "(fixed)" in caption  # the accepted image is marked
    after = dump(wardrobe)
    assert after != before
    with Catalog(str(wardrobe)) as catalog:
        from sqlalchemy import text

        source = (
            catalog.engine.connect()
            .execute(
                text(
                    "select a.source, l.name from annotation a join label l on l.id = a.label_id where a.image_id = :i"
                ),
                {"i": review_view.items[0].image_id},
            )
            .all()
        )
    assert source == [("model", row.predicted[0])]
    window.undo()
    settle(qtbot, window)
    assert dump(wardrobe) == before
    # the catalog was reverted: the gallery no longer says fixed (it did before issue 30)
    assert review_view.items[0].image_id not in review_view.fixed
    assert "(fixed)" not in model.data(model.index(0), Qt.ItemDataRole.ToolTipRole)
    window.redo()
    settle(qtbot, window)
    assert "(fixed)" in model.data(model.index(0), Qt.ItemDataRole.ToolTipRole)


@pytest.mark.skipif(not os.environ.get("TAILOR_SCREENSHOTS"), reason="set TAILOR_SCREENSHOTS=DIR to write them")
def test_screenshots_of_training_compare_and_review(qtbot, wardrobe):
    out = Path(os.environ["TAILOR_SCREENSHOTS"])
    out.mkdir(parents=True, exist_ok=True)
    window = open_window(qtbot, wardrobe)
    window.resize(1400, 900)
    jobs = train_and_wait(qtbot, window, ["nw", "iew"], epochs=4)
    window.tabs.setCurrentWidget(window.view("training"))
    idle(qtbot, window)
    window.view("training").plots.flush()
    window.grab().save(str(out / "train.png"))
    window.tabs.setCurrentWidget(window.view("runs"))
    qtbot.waitUntil(lambda: window.view("runs").row_count() == 1, timeout=10000)
    window.view("runs").select_runs([j.run_id for j in jobs])
    qtbot.waitUntil(lambda: window.view("runs").table_data is not None, timeout=10000)
    idle(qtbot, window)
    window.grab().save(str(out / "compare.png"))
    window.workspace.request(ReviewRun(jobs[0].run_id))
    qtbot.waitUntil(lambda: window.view("review").review is not None, timeout=10000)
    settle(qtbot, window)
    window.grab().save(str(out / "review.png"))


def test_an_interrupted_run_is_resumed_from_the_runs_tab(qtbot, wardrobe):
    import threading

    from core.config import TrainConfig
    from core.training.events import CheckpointSaved
    from core.training.loop import train

    cancel = threading.Event()
    config = TrainConfig(attribute="sleeve", backbone="resnet32-cifar", epochs=3, batch_size=8, image_size=16)
    for event in train(str(wardrobe), config, cancel=cancel):
        if isinstance(event, CheckpointSaved):
            cancel.set()  # stopped after epoch 1 of 3
    window = open_window(qtbot, wardrobe)
    runs = window.view("runs")
    window.tabs.setCurrentWidget(runs)
    qtbot.waitUntil(lambda: len(runs.runs) == 1, timeout=10000)
    assert not runs.resume_button.isEnabled()
    runs.select_runs([1])
    assert runs.resume_button.isEnabled() and runs.runs[0].status == "cancelled"
    ended = []
    window.workspace.queue.jobEnded.connect(ended.append)
    runs.resume_button.click()
    assert window.tabs.currentWidget() is window.view("training")
    assert window.view("training").jobs.item(0).text().find("resume run 1") >= 0
    qtbot.waitUntil(lambda: bool(ended), timeout=120000)
    assert ended[0].status == "finished" and ended[0].run_id == 1, ended[0].message
    with Catalog(str(wardrobe)) as catalog:
        info = [r for r in list_runs(catalog)][0]
    assert info.status == "finished" and info.epochs_done == 3
    qtbot.waitUntil(lambda: runs.runs and runs.runs[0].status == "finished", timeout=10000)
    runs.select_runs([1])
    assert not runs.resume_button.isEnabled()


def test_a_window_run_polled_by_another_process_is_recorded_whole(qtbot, wardrobe):
    """A colleague's `tailor runs` every few moments while the window trains: the run ends finished in the catalog
    with all its epochs (the reader's process once deleted the WAL under the window and its writes were lost)."""
    import json
    import threading

    from tests.conftest import run_cli

    window = open_window(qtbot, wardrobe)
    stop, seen = threading.Event(), []

    def poll() -> None:
        while not stop.is_set():
            listed = run_cli("runs", str(wardrobe), "--json")
            seen.extend((r["status"], r["epochs_done"]) for r in json.loads(listed.stdout or "[]"))
            stop.wait(1.0)

    poller = threading.Thread(target=poll)
    poller.start()
    try:
        jobs = train_and_wait(qtbot, window, ["nw"], epochs=3)
    finally:
        stop.set()
        poller.join()
    assert jobs[0].status == "finished", jobs[0].message
    assert seen and ("interrupted", 0) not in seen and all(status in ("running", "finished") for status, _ in seen)
    listed = json.loads(run_cli("runs", str(wardrobe), "--json").stdout)
    assert [(r["status"], r["epochs_done"]) for r in listed] == [("finished", 3)]
    with Catalog(str(wardrobe)) as catalog:
        from core.catalog.runs import epochs

        assert [e["epoch"] for e in epochs(catalog, jobs[0].run_id)] == [0, 1, 2]


def test_train_settings_are_remembered_and_the_button_says_why_it_waits(qtbot, wardrobe):
    window = open_window(qtbot, wardrobe)
    panel = window.view("training")
    if panel.detecting:  # the device probe runs in its own process; Train waits for it and says so
        assert not panel.train_button.isEnabled() and "Detecting the device" in panel.train_button.toolTip()
    qtbot.waitUntil(panel.train_button.isEnabled, timeout=60000)
    assert panel.train_button.text() == "Train"
    assert not panel.gan_box.isVisibleTo(panel)
    panel.set_variants(["iew", "convex-gan"])
    assert panel.gan_box.isVisibleTo(panel)  # the convex-GAN's own settings appear with it
    panel.epochs.setValue(7)
    panel.gan_epochs.setValue(3)
    panel.gan_head_loss.setCurrentText("focal")
    assert panel.oversample_config().epochs == 3 and panel.oversample_config().head_loss == "focal"
    window.close()
    again = open_window(qtbot, wardrobe)
    restored = again.view("training")
    assert restored.checked_variants() == ["iew", "convex-gan"]
    assert restored.epochs.value() == 7 and restored.gan_epochs.value() == 3
    assert restored.gan_head_loss.currentText() == "focal"
