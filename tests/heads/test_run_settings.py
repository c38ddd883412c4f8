"""Runs say how they were made: ``tailor runs --json`` carries the settings, and a comparison says which settings
its runs differ in (CLI JSON, Markdown and the Runs tab)."""

from __future__ import annotations

import json

from core.analysis.compare import compare
from core.analysis.compare_exports import compare_json, compare_markdown
from core.catalog.runs import describe_settings, get_run, settings
from core.catalog.store import Catalog
from core.heads.train import train_head
from tests.conftest import main_cli
from tests.features.test_feature_store import head_config
from tests.features.test_feature_store import weights_file as weights_file
from tests.heads.test_heads import finished
from tests.heads.test_heads import shapes as shapes
from tests.qt_helpers import open_window


def two_runs(shapes: str, weights_file: str) -> tuple[int, int]:
    first = finished(train_head(shapes, head_config(weights_file, batch_size=8))).run_id
    second = finished(train_head(shapes, head_config(weights_file, batch_size=4, lr=0.01))).run_id
    return first, second


def test_runs_json_carries_the_settings_and_a_comparison_says_what_differs(shapes, weights_file):
    first, second = two_runs(shapes, weights_file)
    listed = json.loads(main_cli("runs", shapes, "--json").stdout)
    run = next(item for item in listed if item["run_id"] == first)
    assert {k: run[k] for k in ("image_size", "batch_size", "normalization", "epochs", "lr", "optimizer")} == {
        "image_size": 16, "batch_size": 8, "normalization": "auto", "epochs": 2, "lr": 0.001, "optimizer": "adam",
    }  # fmt: skip
    assert run["weights"] == "resnet32.pth"
    with Catalog(shapes) as cat:
        info = get_run(cat, second)
        assert describe_settings(settings(info)) == "16 px · batch 4 · auto · resnet32.pth · 2 ep · lr 0.01 · adam"
        table = compare(cat, [first, second], resamples=0)
    assert table["differences"] == ["batch size 8 / 4", "learning rate 0.001 / 0.01"]
    assert compare_json(table)["differences"] == table["differences"]
    assert "differ in settings, not only in variant: batch size 8 / 4; learning rate 0.001 / 0.01" in compare_markdown(
        table
    )


def test_the_runs_tab_shows_the_settings_and_warns_when_compared_runs_differ(qtbot, shapes, weights_file):
    first, second = two_runs(shapes, weights_file)
    window = open_window(qtbot, shapes)
    runs = window.view("runs")
    window.tabs.setCurrentWidget(runs)
    qtbot.waitUntil(lambda: runs.row_count() == 2, timeout=15000)
    header = runs.table.headerItem()
    column = [header.text(c) for c in range(runs.table.columnCount())].index("settings")
    cells = {runs.table.topLevelItem(r).text(column) for r in range(2)}
    assert any("batch 4" in text for text in cells) and any("batch 8" in text for text in cells)
    runs.select_runs([first, second])
    qtbot.waitUntil(lambda: "differ in settings" in runs.compare_caption.text(), timeout=30000)
    assert "batch size" in runs.compare_caption.text() and "learning rate" in runs.compare_caption.text()


def test_runs_of_one_seed_are_not_a_seed_group(shapes, weights_file):
    """Two runs of the same settings and seed (trained again after labels changed) are not 'x 2 seeds'."""
    first = finished(train_head(shapes, head_config(weights_file))).run_id
    second = finished(train_head(shapes, head_config(weights_file))).run_id
    third = finished(train_head(shapes, head_config(weights_file, seed=1))).run_id
    with Catalog(shapes) as cat:
        assert compare(cat, [first, second], resamples=0)["seed_groups"] == []
        groups = compare(cat, [first, third], resamples=0)["seed_groups"]
    assert [group["seeds"] for group in groups] == [[0, 1]]
