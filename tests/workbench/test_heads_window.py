"""Heads on frozen features from the window: the CPU default, head-only runs reusing the feature store, the
download dialog with Cancel, and the Runs tab's post-hoc adjustment slider with Keep as run."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from core.analysis.posthoc import slider_data
from core.catalog.runs import get_run, list_runs
from core.catalog.store import Catalog
from core.training.events import FeatureProgress, WeightsDownload
from tests.features.test_feature_store import weights_file as weights_file
from tests.qt_helpers import idle, open_window
from tests.training.test_bundled_weights import fake_bundle as fake_bundle
from tests.workbench.test_training_window import wardrobe as wardrobe


def ready_panel(qtbot, wardrobe):
    window = open_window(qtbot, wardrobe)
    panel = window.view("training")
    window.tabs.setCurrentWidget(panel)
    qtbot.waitUntil(lambda: not panel.detecting and panel.source.table is not None, timeout=60000)
    return window, panel


def table(present: set[str]) -> dict:
    from core.training.backbone_list import BackboneInfo
    from core.training.dataset import IMAGENET_MEAN, IMAGENET_STD
    from workbench.views.model_source import CHOICES

    def info(name: str) -> BackboneInfo:
        here = name in present
        weights, detail = ("cached", "ImageNet weights present") if here else ("download", "download 9 MB")
        return BackboneInfo(name, weights, detail, 0.0 if here else 9.0, 224, "imagenet", IMAGENET_MEAN, IMAGENET_STD,
                            None)  # fmt: skip

    return {name: info(name) for name in CHOICES}


def test_without_weights_the_cpu_default_is_from_scratch_with_a_notice(qtbot, wardrobe, no_bundled_weights):
    _window, panel = ready_panel(qtbot, wardrobe)
    assert panel.source.whole.isChecked()
    assert panel.source.notice.isVisibleTo(panel) and "Training from scratch" in panel.source.notice.text()
    assert "download" in panel.source.weights_note.text() or "no ImageNet" in panel.source.weights_note.text()


def test_with_weights_present_the_cpu_default_is_heads_on_that_backbone(qtbot, wardrobe, no_bundled_weights):
    _window, panel = ready_panel(qtbot, wardrobe)
    panel.source.weights_known(table({"timm:efficientnet_lite0"}))
    config = panel.config()
    assert config.head_only and config.backbone == "timm:efficientnet_lite0" and config.pretrained == "imagenet"
    assert "Heads on frozen features of timm:efficientnet_lite0" in panel.source.notice.text()
    panel.source.whole.click()  # the user's choice is never overridden afterwards
    panel.source.weights_known(table({"resnet18"}))
    assert not panel.config().head_only


def test_a_fresh_window_defaults_to_heads_on_the_bundled_backbone_before_the_engine_loads(qtbot, wardrobe, fake_bundle):
    """Bundled weights are known without torch: the default is heads on them, with their own statistics."""
    window = open_window(qtbot, wardrobe)
    panel = window.view("training")
    window.tabs.setCurrentWidget(panel)
    qtbot.waitUntil(lambda: not panel.detecting and panel.source.bundled is not None, timeout=60000)
    config = panel.config()
    assert config.head_only and config.backbone == "timm:efficientnet_lite0" and config.pretrained == "imagenet"
    assert config.normalization == "auto" and panel.source.normalization.currentText() == "the weights' own"
    assert "bundled with Tailor" in panel.source.notice.text()
    assert "inception (mean 0.5, std 0.5), the weights' own" in panel.source.weights_note.text()
    idle(qtbot, window)


def test_the_weights_file_and_the_normalization_are_remembered(qtbot, wardrobe, tmp_path, no_bundled_weights):
    from workbench.viewmodels import settings

    weights = str(tmp_path / "my-weights.pth")
    _window, panel = ready_panel(qtbot, wardrobe)
    panel.source.set_pretrained(weights)
    panel.source.set_normalization("inception")
    settings.save_train_settings(panel.saved_settings())
    window = open_window(qtbot, wardrobe)
    again = window.view("training")
    assert again.source.chosen_pretrained() == weights and again.pretrained.currentText() == "file: my-weights.pth"
    assert again.config().normalization == "inception"
    idle(qtbot, window)


def test_the_feature_pass_says_which_path_runs(qtbot, wardrobe):
    from core.training.events import Note

    _window, panel = ready_panel(qtbot, wardrobe)
    panel._event(Note(0, "feature pass in bfloat16 autocast, channels_last (the CPU has AVX-512 BF16)"))
    assert panel.progress_text.text() == "feature pass in bfloat16 autocast, channels_last (the CPU has AVX-512 BF16)"


def test_heads_without_weights_are_refused_in_one_line(qtbot, wardrobe):
    _window, panel = ready_panel(qtbot, wardrobe)
    panel.source.heads.click()
    panel.pretrained.setCurrentIndex(0)
    messages = []
    panel.status.connect(messages.append)
    assert panel.train() == [] and "need pretrained weights" in messages[-1]


def test_a_download_shows_a_dialog_whose_cancel_cancels_the_run(qtbot, wardrobe, monkeypatch):
    _window, panel = ready_panel(qtbot, wardrobe)
    cancelled = []
    monkeypatch.setattr(panel, "cancel", lambda: cancelled.append(True))
    panel.source.changed.disconnect()  # keep the test's own settings
    panel._event(WeightsDownload(0, 3_000_000, 9_000_000, "http://127.0.0.1/x/resnet18-f37072fd.pth", "/cache/r.pth"))
    dialog = panel.download
    assert dialog is not None and dialog.isVisible()
    assert "resnet18-f37072fd.pth: 3.0 of 9.0 MB" in dialog.labelText() and "/cache/r.pth" in dialog.labelText()
    from PySide6.QtWidgets import QPushButton

    dialog.findChild(QPushButton).click()
    assert cancelled == [True]


def test_heads_from_the_window_reuse_the_features_then_adjust_and_keep(qtbot, wardrobe, weights_file):
    window, panel = ready_panel(qtbot, wardrobe)
    panel.source.heads.click()
    panel.backbone.setCurrentText("resnet32-cifar")
    panel.source.pretrained_file = weights_file
    panel.pretrained.setCurrentIndex(panel.pretrained.findData("file"))
    panel.epochs.setValue(3)
    panel.batch_size.setValue(16)
    panel.image_size.setValue(16)
    panel.set_variants(["nw", "crt"])
    passes, ended = [], []
    window.workspace.queue.runEvent.connect(lambda e: passes.append(e) if isinstance(e, FeatureProgress) else None)
    window.workspace.queue.jobEnded.connect(ended.append)
    panel.train_button.click()
    qtbot.waitUntil(lambda: len(ended) == 2, timeout=120000)
    assert [job.status for job in ended] == ["finished", "finished"]
    assert passes[-1].cached == passes[-1].total == 77  # the second run computed nothing
    with Catalog(str(wardrobe)) as cat:
        runs = list_runs(cat)
        assert [r.config.head_only for r in runs] == [True, True] and runs[1].loss == "crt"

    runs_view = window.view("runs")
    window.tabs.setCurrentWidget(runs_view)
    qtbot.waitUntil(lambda: runs_view.row_count() == 1, timeout=15000)  # nw and crt of one click: one group
    runs_view.select_runs([ended[0].run_id])
    assert runs_view.table.topLevelItem(0).isExpanded()  # the group opened to show the run selected in it
    runs_view.bottom.setCurrentWidget(runs_view.adjust)
    adjust = runs_view.adjust
    qtbot.waitUntil(lambda: adjust.data is not None and adjust.current is not None, timeout=30000)
    adjust.slider.setValue(20)  # tau 1
    qtbot.waitUntil(lambda: adjust.metrics.text().startswith("τ = 1.00"), timeout=30000)
    with Catalog(str(wardrobe)) as cat:
        expected = slider_data(cat, ended[0].run_id).at(1.0)
    assert f"ACSA {100 * adjust.trained['acsa']:.1f}% → {100 * expected['acsa']:.1f}%" in adjust.metrics.text()
    heights = adjust.bars_adjusted.opts["height"]
    assert np.allclose(heights, [p["accuracy"] or 0 for p in expected["per_label"]])
    if os.environ.get("TAILOR_SCREENSHOTS"):
        window.resize(1024, 700)
        idle(qtbot, window)
        window.grab().save(str(Path(os.environ["TAILOR_SCREENSHOTS"]) / "adjust.png"))
    adjust.keep_button.click()
    qtbot.waitUntil(lambda: len(ended) == 3, timeout=60000)
    assert ended[2].status == "finished"
    with Catalog(str(wardrobe)) as cat:
        derived = get_run(cat, ended[2].run_id)
    assert derived.base_run_id == ended[0].run_id and derived.config.posthoc == {"tau": 1.0}
    assert derived.config.batch is None and runs[0].config.batch == runs[1].config.batch is not None
    runs_view.refresh()
    qtbot.waitUntil(lambda: runs_view.row_count() == 2, timeout=15000)  # kept alone, not in the group
    assert derived.last["acsa"] == pytest.approx(expected["acsa"])


def test_seeds_from_the_train_tab_make_a_group_the_runs_tab_summarises(qtbot, wardrobe, weights_file):
    window, panel = ready_panel(qtbot, wardrobe)
    panel.source.heads.click()
    panel.backbone.setCurrentText("resnet32-cifar")
    panel.source.pretrained_file = weights_file
    panel.pretrained.setCurrentIndex(panel.pretrained.findData("file"))
    panel.epochs.setValue(2)
    panel.image_size.setValue(16)
    panel.set_variants(["nw"])
    panel.seed.setValue(7)
    panel.seed_count.setValue(2)
    ended = []
    window.workspace.queue.jobEnded.connect(ended.append)
    jobs = panel.train()
    assert [job.title.endswith(f"seed {s}") for job, s in zip(jobs, (7, 8))] == [True, True]
    qtbot.waitUntil(lambda: len(ended) == 2, timeout=120000)
    with Catalog(str(wardrobe)) as cat:
        runs = list_runs(cat)
    assert [(r.config.seed, r.config.split_seed) for r in runs] == [(7, 7), (8, 7)]
    runs_view = window.view("runs")
    window.tabs.setCurrentWidget(runs_view)
    qtbot.waitUntil(lambda: runs_view.row_count() == 1, timeout=15000)  # one row: the seed set, opening to its runs
    group = runs_view.table.topLevelItem(0)
    assert group.childCount() == 2 and group.text(1) == "seed set · 2 runs" and group.text(3) == "2 finished"
    group.setSelected(True)  # selecting the group selects its runs
    qtbot.waitUntil(lambda: runs_view.table_data is not None, timeout=30000)
    table = runs_view.compare_table
    assert table.rowCount() == 3 and "× 2 seeds" in table.item(2, 0).text() and "±" in table.item(2, 1).text()
