"""The comparison's CSV and Markdown: rounded like each other, labels with too few test images marked."""

from __future__ import annotations

import csv
import io

from core.analysis.compare_exports import compare_csv, compare_markdown


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


def test_csv_is_one_line_per_value_in_percent_with_one_decimal_and_names_too_few_test_images():
    rows = list(csv.DictReader(io.StringIO(compare_csv(table()))))
    first = {(r["measure"], r["label"]): r for r in rows if r["run_id"] == "1"}
    second = {(r["measure"], r["label"]): r for r in rows if r["run_id"] == "2"}
    assert first[("ap", "short")]["value_pct"] == "100.0" and first[("ap", "puff")]["value_pct"] == "12.3"
    assert first[("ap", "puff")]["too_few_to_compare"] == "True" and first[("ap", "puff")]["test_images"] == "4"
    assert [first[(k, "")]["value_pct"] for k in ("top1", "acsa", "gm", "macro_ap")] == ["87.7", "50.0", "", "25.0"]
    assert second[("top1", "")]["delta_pct"] == "-1.2"
    assert all(len(cell.split(".")[-1]) <= 1 for r in rows for k, cell in r.items() if k.endswith("_pct") and cell)


def test_intervals_and_significance_reach_the_csv_and_the_markdown():
    data = table()
    row = data["rows"][1]
    row.update(
        ci={"top1": [0.8, 0.9]}, delta_ci={"top1": [-0.02, -0.004]}, significant={"top1": True},
        ap_ci=[[0.4, 0.6], [0.3, 0.9]], ap_delta=[-0.5, 0.48], ap_delta_ci=[[-0.6, -0.4], [0.1, 0.8]],
        ap_significant=[True, False],
    )  # fmt: skip
    data.update(paired_on=154, resamples=2000, bootstrap_seed=0, confidence=0.95)
    rows = {(r["run_id"], r["measure"], r["label"]): r for r in csv.DictReader(io.StringIO(compare_csv(data)))}
    top1 = rows[("2", "top1", "")]
    assert (top1["low_pct"], top1["high_pct"], top1["delta_low_pct"], top1["significant"]) == (
        "80.0",
        "90.0",
        "-2.0",
        "True",
    )
    assert rows[("2", "ap", "puff")]["significant"] == "False"  # too few test images: never significant
    text = compare_markdown(data)
    second = text.splitlines()[3]
    assert "50.0 [40.0–60.0] -50.0*" in second and "87.7 [80.0–90.0] -1.2*" in second
    assert "154 test images every run has" in text and "puff 4" in text


def test_markdown_marks_labels_with_too_few_test_images_and_never_calls_them_best():
    text = compare_markdown(table())
    header = text.splitlines()[0]
    assert "puff (6; 4 test, too few to compare)" in header and "short (600)" in header
    second = text.splitlines()[3]
    assert "**60.0**" not in second  # the best AP of a label too small to compare is not bold
    assert "**100.0**" in text.splitlines()[2]


def test_a_tiny_probability_reads_as_a_percentage_not_an_exponent():
    from core.base.percent import chance

    assert [chance(v) for v in (0.42, 0.0995, 0.0031, 0.0001, 6.87e-06, None)] == [
        "42%", "10%", "0.31%", "0.01%", "< 0.01%", "–",
    ]  # fmt: skip


def test_the_terminal_table_fits_its_width_overall_metrics_first_then_labels_as_rows():
    from core.analysis.compare_exports import compare_text

    row = {"run_id": 1, "loss": "nw", "variant": "nw head", "top1": 0.7, "acsa": 0.6, "gm": 0.55, "macro_ap": 0.5,
           "ap": [0.5] * 19, "groups": {}}  # fmt: skip
    rows = [dict(row, run_id=i, variant=f"variant {i}") for i in range(1, 8)]
    table = {"attribute": "sleeve", "labels": [f"label {j}" for j in range(19)], "train_counts": [100] * 19,
             "test_counts": [5] + [50] * 18, "min_test_images": 10, "too_few": [True] + [False] * 18,
             "baseline": 1, "rows": rows, "paired_on": None, "differences": ["batch size 64 / 32"]}  # fmt: skip
    text = compare_text(table, 50)
    lines = text.splitlines()
    assert lines[1] == "  run 1: variant 1" and "label 0 (100/5) (too few)" in text
    assert all(len(line) <= 50 for line in lines)  # the notes below the table too
    assert text.count("label AP (train/test)") > 1  # seven runs do not fit side by side in 50 columns: blocks
    assert text.count("metric") > 1 and "ACSA" in text
    assert "⚠ These runs differ in settings, not only in variant: batch size 64 / 32" in " ".join(lines)
