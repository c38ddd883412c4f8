"""The comparison table marks a significant difference (▲ green / ▼ red), never one of a label with too few test
images, and shows every value's interval."""

from __future__ import annotations

from workbench.widgets.comparison_table import BETTER, TOO_FEW, WORSE, ComparisonTable


def table() -> dict:
    base = {"run_id": 1, "loss": "nw", "variant": "nw", "ap": [0.5, 0.4], "top1": 0.6, "acsa": 0.5, "gm": 0.4,
            "macro_ap": 0.45, "delta": {}, "ci": {"acsa": [0.45, 0.55]}, "ap_ci": [[0.4, 0.6], [0.1, 0.7]]}  # fmt: skip
    other = {
        **base, "run_id": 2, "variant": "crt", "ap": [0.7, 0.9], "acsa": 0.58,
        "delta": {"top1": 0.0, "acsa": 0.08, "gm": -0.05, "macro_ap": 0.35},
        "delta_ci": {"top1": [-0.01, 0.01], "acsa": [0.02, 0.14], "gm": [-0.09, -0.01], "macro_ap": [0.2, 0.5]},
        "significant": {"top1": False, "acsa": True, "gm": True, "macro_ap": True},
        "ap_delta": [0.2, 0.5], "ap_delta_ci": [[0.1, 0.3], [0.2, 0.8]], "ap_significant": [True, False],
    }  # fmt: skip
    return {"labels": ["short", "puff"], "train_counts": [600, 6], "test_counts": [150, 4], "too_few": [False, True],
            "min_test_images": 10, "baseline": 1, "best_ap": [0.7, 0.9], "rows": [base, other],
            "paired_on": 154, "resamples": 2000, "seed_groups": []}  # fmt: skip


def test_significant_differences_are_marked_and_too_few_never_is(qtbot):
    widget = ComparisonTable()
    qtbot.addWidget(widget)
    widget.show_table(table())
    short, puff = widget.item(1, 1), widget.item(1, 2)
    assert short.text() == "70.0 [40.0–60.0]\n+20.0 ▲"
    assert "▲" in short.text() and short.foreground().color() == BETTER
    assert "▲" not in puff.text() and puff.foreground().color() == TOO_FEW  # 4 test images: grey, no mark
    acsa, gm, top1 = widget.item(1, 4), widget.item(1, 5), widget.item(1, 3)
    assert "▲" in acsa.text() and "▼" in gm.text() and gm.foreground().color() == WORSE
    assert "▲" not in top1.text() and "▼" not in top1.text()
    assert "[45.0–55.0]" in widget.item(0, 4).text()  # the baseline's ACSA with its interval
    assert "interval excludes 0" in widget.caption()


def test_seed_group_rows_show_their_difference_across_seeds(qtbot):
    data = table()
    same = {"delta": 0.0, "ci": [-0.02, 0.02], "significant": False}
    data["seed_groups"] = [
        {"variant": "crt", "runs": [2, 3], "seeds": [0, 1], "baseline_runs": [1, 4],
         "mean": {"top1": 0.6, "acsa": 0.58, "gm": 0.4, "macro_ap": 0.5}, "sd": {"top1": 0.01, "acsa": 0.01,
         "gm": 0.01, "macro_ap": 0.01}, "ap_mean": [0.7, 0.9], "ap_sd": [0.01, 0.02],
         "delta_seeds": {"top1": same, "acsa": {"delta": 0.08, "ci": [0.03, 0.13], "significant": True},
                         "gm": same, "macro_ap": same},
         "ap_delta_seeds": [same, {"delta": 0.5, "ci": [0.2, 0.8], "significant": False}]},
    ]  # fmt: skip
    widget = ComparisonTable()
    qtbot.addWidget(widget)
    widget.show_table(data)
    acsa = widget.item(2, 4)
    assert acsa.text() == "58.0 ± 1.0\n+8.0  [+3.0, +13.0] ▲" and acsa.foreground().color() == BETTER
    assert "Welch t-interval across seeds" in acsa.toolTip() and "runs 1, 4" in acsa.toolTip()
    assert "▲" not in widget.item(2, 2).text()  # puff: not significant
    assert "across seeds" in widget.caption()


def test_runs_tested_on_other_splits_say_so_in_the_caption(qtbot):
    data = {**table(), "same_test_images": False, "test_images": {1: 160, 2: 170}}
    widget = ComparisonTable()
    qtbot.addWidget(widget)
    widget.show_table(data)
    assert "tested on different images (other splits; run 1: 160, run 2: 170" in widget.caption()
    assert "computed on the 154 test images all of them have" in widget.caption()


def test_the_run_column_stays_in_view_when_the_labels_scroll_sideways(qtbot):
    data = table()
    labels = [f"label {j}" for j in range(12)]
    data.update(labels=labels, train_counts=[100] * 12, test_counts=[50] * 12, too_few=[False] * 12,
                best_ap=[0.5] * 12)  # fmt: skip
    for row in data["rows"]:
        row["ap"] = [0.5] * 12
        row.pop("ap_ci", None), row.pop("ap_delta", None), row.pop("ap_delta_ci", None), row.pop("ap_significant", None)
    widget = ComparisonTable()
    qtbot.addWidget(widget)
    widget.resize(500, 300)
    widget.show()
    widget.show_table(data)
    bar = widget.horizontalScrollBar()
    bar.setValue(bar.maximum())
    assert bar.maximum() > widget.columnWidth(0)  # scrolled past the run column
    frozen = widget.frozen
    assert frozen.isVisible() and frozen.geometry().x() == widget.frameWidth()
    assert frozen.width() == widget.columnWidth(0) and all(frozen.isColumnHidden(c) for c in range(1, 17))
    assert frozen.model().index(1, 0).data() == "2 crt" and frozen.rowHeight(1) == widget.rowHeight(1)
    frozen.selectRow(1)  # one selection for both views
    assert [index.row() for index in widget.selectionModel().selectedRows()] == [1]
    widget.clear_table()
    assert not frozen.isVisible()
