"""The comparison's CSV and Markdown: rounded like each other, labels with too few test images marked."""

from __future__ import annotations

import csv
import io

from core.analysis.compare import compare_csv, compare_markdown


def table() -> dict:
    row = {
        "run_id": 1,
        "loss": "nw",
        "backbone": "resnet18",
        "ap": [1.0000000000000002, 0.123456],
        "top1": 0.87654321,
        "acsa": 0.5,
        "gm": None,
        "macro_ap": 0.25,
        "delta": {"top1": None, "acsa": None, "gm": None, "macro_ap": None},
        "groups": {"head": 0.9, "tail": 0.1},
    }
    other = {**row, "run_id": 2, "ap": [0.5, 0.6], "delta": {"top1": -0.0123, "acsa": 0.0, "gm": None, "macro_ap": 0}}
    return {
        "attribute": "sleeve",
        "labels": ["short", "puff"],
        "train_counts": [600, 6],
        "test_counts": [150, 4],
        "min_test_images": 10,
        "too_few": [False, True],
        "baseline": 1,
        "best_ap": [1.0000000000000002, 0.6],
        "rows": [row, other],
    }


def test_csv_is_in_percent_with_one_decimal_and_names_too_few_test_images():
    rows = list(csv.reader(io.StringIO(compare_csv(table()))))
    header, first, second = rows
    assert header[3] == "ap_pct:short [600 train; 150 test]"
    assert header[4] == "ap_pct:puff [6 train; 4 test; too few to compare]"
    assert header[5:9] == ["top1_pct", "acsa_pct", "gm_pct", "macro_ap_pct"]
    assert first[3:9] == ["100.0", "12.3", "87.7", "50.0", "", "25.0"]
    assert second[9] == "-1.2"  # delta_top1_pct
    assert all(len(cell.split(".")[-1]) <= 1 for cell in first[3:] if cell)


def test_markdown_marks_labels_with_too_few_test_images_and_never_calls_them_best():
    text = compare_markdown(table())
    header = text.splitlines()[0]
    assert "puff (6; 4 test, too few to compare)" in header and "short (600)" in header
    second = text.splitlines()[3]
    assert "**60.0**" not in second  # the best AP of a label too small to compare is not bold
    assert "**100.0**" in text.splitlines()[2]
