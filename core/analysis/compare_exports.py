"""A comparison (:func:`core.analysis.compare.compare`'s table) as Markdown in the source paper's Table I layout,
as CSV one line per run and value, and as the JSON of ``tailor compare --json``; values in percent with one decimal,
intervals beside them. Catalog text is escaped in Markdown."""

from __future__ import annotations

import html
import io
import re
from typing import Any

from core.analysis.compare import METRICS, MIN_TEST_IMAGES, PER_LABEL, too_few, value_parts
from core.base import csv_cells
from core.base.percent import percent, percent_text, points, points_span, spread


def markdown_cell(text: object) -> str:
    """A catalog's text as one Markdown table cell: shown as typed, never as markup (escaped ``|``, ``\\``,
    Markdown punctuation and HTML; line breaks as spaces)."""
    value = " ".join(str(text).split())
    value = html.escape(value, quote=False)
    return re.sub(r"([\\|`*_\[\]#])", r"\\\1", value)


def _label_note(table: dict, j: int) -> str:
    """`` (6; 4 test, too few to compare)``: training images, and the test images when there are too few."""
    n = table["train_counts"][j]
    if too_few(table, j):
        return f" ({n}; {table['test_counts'][j]} test, too few to compare)"
    return f" ({n})"


def _delta_text(value: float | None, significant: bool) -> str:
    return "" if value is None else f" {points(value)}" + ("*" if significant else "")


def _cell(row: dict, key: str, j: int | None, baseline: bool) -> str:
    """ "64.1 [60.2, 68.0] +1.8*": the value with its interval, and the difference to the baseline (``*``: its
    interval excludes 0)."""
    value, ci, delta, _delta_ci, significant = value_parts(row, key, j)
    text = percent_text(value, ci)
    return text if baseline else text + _delta_text(delta, significant)


def compare_markdown(table: dict) -> str:
    """The comparison as the seed paper's Table I: runs x labels AP with 95% intervals and paired differences,
    then the summary metrics; runs of one variant over several seeds get a mean ± sd row; a note of the test
    counts and how the intervals were made."""
    head = (
        ["run", "variant"]
        + [f"{markdown_cell(name)}{_label_note(table, j)}" for j, name in enumerate(table["labels"])]
        + ["top-1", "ACSA", "GM", "macro AP", "head AP", "medium AP", "tail AP"]
    )
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in table["rows"]:
        baseline = row["run_id"] == table["baseline"]
        cells = [
            str(row["run_id"]) + (" (baseline)" if baseline and len(table["rows"]) > 1 else ""),
            markdown_cell(row.get("variant", row["loss"])),
        ]
        for j, ap in enumerate(row["ap"]):
            text = _cell(row, "ap", j, baseline)
            best = ap is not None and ap == table["best_ap"][j] and len(table["rows"]) > 1 and not too_few(table, j)
            cells.append(f"**{text}**" if best else text)
        cells += [_cell(row, key, None, baseline) for key in METRICS]
        cells += [percent(row["groups"].get(g)) for g in ("head", "medium", "tail")]
        lines.append("| " + " | ".join(cells) + " |")
    for group in table.get("seed_groups") or []:
        cells = [
            ", ".join(str(r) for r in group["runs"]),
            markdown_cell(f"{group['variant']}, {len(group['runs'])} seeds"),
        ]
        differences = group.get("ap_delta_seeds") or [None] * len(group["ap_mean"])
        cells += [_mean_sd(m, sd, d) for m, sd, d in zip(group["ap_mean"], group["ap_sd"], differences)]
        by_key = group.get("delta_seeds") or {}
        cells += [_mean_sd(group["mean"][k], group["sd"][k], by_key.get(k)) for k in METRICS] + ["", "", ""]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("\n" + _markdown_note(table))
    return "\n".join(lines)


def _mean_sd(mean: float | None, sd: float | None, difference: dict | None = None) -> str:
    """ "mean ± sd", and with a difference across seeds " Δ +d [low, high]" (* where the interval excludes 0)."""
    text = spread(mean, sd)
    if mean is not None and difference is not None:
        text += f" Δ {points(difference['delta'])} {points_span(difference['ci'])}"
        text += "*" if difference["significant"] else ""
    return text


def _markdown_note(table: dict) -> str:
    note = (
        "Per-label AP and metrics in %, last epoch of each run; bold: best AP per label. Label columns show "
        f"training images; a label with fewer than {table.get('min_test_images', MIN_TEST_IMAGES)} test images is "
        "marked too few to compare (no best, no significance)."
    )
    if table.get("same_test_images") is False:
        note += " " + other_test_sets(table) + "."
    if table.get("paired_on"):
        note += (
            f" [a–b]: {100 * table['confidence']:.0f}% percentile bootstrap interval over the "
            f"{table['paired_on']:,} test images every run has ({table['resamples']:,} resamples stratified by label, "
            f"seed {table['bootstrap_seed']}); +x: difference to run {table['baseline']} on the same resamples, "
            "*: its interval excludes 0 (the intervals of the differences are in the CSV and JSON)."
        )
    elif len(table["rows"]) > 1:
        note += f" +x: difference to run {table['baseline']}."
    if table.get("overall_not_marked"):
        note += " " + table["overall_not_marked"][0].upper() + table["overall_not_marked"][1:] + "."
    if table.get("seed_groups"):
        note += " Rows of several runs: mean ± standard deviation across seeds."
        if any(group.get("delta_seeds") for group in table["seed_groups"]):
            note += (
                " Δ: difference of means to the baseline's seeds with a 95% Welch t-interval across seeds (training "
                "randomness, which the bootstrap of test images does not cover), *: it excludes 0."
            )
        notes = sorted({group["seeds_note"] for group in table["seed_groups"] if group.get("seeds_note")})
        note += "".join(f" {text[0].upper()}{text[1:]}." for text in notes)
    if table.get("differences"):
        note += (
            " The runs differ in settings, not only in variant: " + markdown_cell("; ".join(table["differences"])) + "."
        )
    tests = table.get("test_counts")
    if tests:
        note += (
            " Test images per label: "
            + ", ".join(f"{markdown_cell(name)} {n}" for name, n in zip(table["labels"], tests))
            + "."
        )
    return note


def other_test_sets(table: dict) -> str:
    """What a comparison of runs tested on different images (other splits) shows, in one sentence."""
    sizes = ", ".join(f"run {run_id}: {n:,}" for run_id, n in (table.get("test_images") or {}).items())
    return (
        f"The runs were tested on different images (other splits; {sizes} test images): every value here is "
        f"computed on the {table['paired_on']:,} test images all of them have, and the test counts are of those"
    )


def percent_number(value: float | None) -> float | str:
    """A fraction as a number of percent with one decimal, for a CSV cell ("" when there is none)."""
    return "" if value is None else round(100 * value, 1)


CSV_COLUMNS = (
    "run_id",
    "variant",
    "backbone",
    "seed",
    "measure",
    "label",
    "train_images",
    "test_images",
    "too_few_to_compare",
    "value_pct",
    "low_pct",
    "high_pct",
    "delta_pct",
    "delta_low_pct",
    "delta_high_pct",
    "significant",
)


def compare_csv(table: dict) -> str:
    """The comparison as CSV, one line per run and value (``measure`` ap / accuracy per label, or a summary metric):
    the value, its interval and the paired difference to the baseline with its interval, in percent with one
    decimal like the Markdown; ``significant`` when that interval excludes 0."""
    out = io.StringIO()
    writer = csv_cells.writer(out)
    writer.writerow(CSV_COLUMNS)
    for row in table["rows"]:
        start = [row["run_id"], row.get("variant", row["loss"]), row.get("backbone", ""), row.get("seed", "")]
        for key in METRICS:
            value, ci, delta, delta_ci, significant = value_parts(row, key, None)
            writer.writerow([*start, key, "", "", "", "", *_csv_values(value, ci, delta, delta_ci), significant])
        tests = table.get("test_counts")
        for key in PER_LABEL:
            for j, name in enumerate(table["labels"]):
                if key not in row:
                    continue
                value, ci, delta, delta_ci, significant = value_parts(row, key, j)
                counts = [table["train_counts"][j], tests[j] if tests else "", too_few(table, j)]
                writer.writerow([*start, key, name, *counts, *_csv_values(value, ci, delta, delta_ci), significant])
    return out.getvalue()


def _csv_values(value: float | None, ci: list | None, delta: float | None, delta_ci: list | None) -> list:
    return [
        percent_number(value),
        *(percent_number(v) for v in (ci or [None, None])),
        percent_number(delta),
        *(percent_number(v) for v in (delta_ci or [None, None])),
    ]


def compare_json(table: dict) -> dict:
    """``tailor compare --json``: each value as ``{"value", "ci": [low, high]}`` and, beside it, the paired
    difference to the baseline ``{"delta", "delta_ci", "significant"}``; labels with their counts."""
    runs = []
    for row in table["rows"]:
        item: dict[str, Any] = {k: row.get(k) for k in ("run_id", "loss", "variant", "backbone", "seed")}
        for key in METRICS:
            item[key] = _json_value(row, key, None)
        item["groups_ap"] = row["groups"]
        item["per_label"] = [
            {"label": name, **{key: _json_value(row, key, j) for key in PER_LABEL if key in row}}
            for j, name in enumerate(table["labels"])
        ]
        runs.append(item)
    keys = ("attribute", "baseline", "min_test_images", "confidence", "resamples", "bootstrap_seed", "paired_on",
            "same_test_images", "test_images", "overall_not_marked", "differences")  # fmt: skip
    return {
        **{k: table.get(k) for k in keys},
        "labels": [
            {"name": name, "train_images": n, "test_images": t, "too_few_to_compare": too_few(table, j)}
            for j, (name, n, t) in enumerate(zip(table["labels"], table["train_counts"], table["test_counts"]))
        ],
        "runs": runs,
        "seed_groups": table.get("seed_groups", []),
    }


def _json_value(row: dict, key: str, j: int | None) -> dict:
    value, ci, delta, delta_ci, significant = value_parts(row, key, j)
    return {"value": value, "ci": ci, "delta": delta, "delta_ci": delta_ci, "significant": significant}


def compare_text(table: dict, width: int = 100) -> str:
    """The comparison for a terminal of ``width`` columns: which run is which, the overall metrics, then each label's
    AP, each as rows with the runs as columns (as many side by side as fit, the rest in further blocks)."""
    from core.catalog.names import shown

    rows, baseline = table["rows"], table["baseline"]
    lines = [f"{table['attribute']}: {len(rows)} runs" + (f", differences to run {baseline}" if len(rows) > 1 else "")]
    lines += [f"  run {row['run_id']}: {shown(row.get('variant', row['loss']), width - 12)[1:-1]}" for row in rows]
    metrics = [(name, [_cell(row, key, None, row["run_id"] == baseline) for row in rows])
               for key, name in zip(METRICS, ("top-1", "ACSA", "GM", "macro AP"))]  # fmt: skip
    lines += _blocks("metric", metrics, rows, width)
    labels = []
    for j, (name, n, t) in enumerate(zip(table["labels"], table["train_counts"], table["test_counts"])):
        mark = " (too few)" if too_few(table, j) else ""
        labels.append((f"{shown(name, 24)[1:-1]} ({n}/{t}){mark}",
                       [_cell(row, "ap", j, row["run_id"] == baseline) for row in rows]))  # fmt: skip
    lines += _blocks("label AP (train/test)", labels, rows, width)
    import textwrap

    note = "Values in %, 95% bootstrap intervals in brackets" if table.get("paired_on") else "Values in %"
    notes = [note + "; *: the difference's interval excludes 0.",
             "More (head / medium / tail, seed groups): --markdown, --csv or --json."]  # fmt: skip
    if table.get("same_test_images") is False:
        notes.append(other_test_sets(table) + ".")
    if table.get("differences"):
        notes.append("⚠ These runs differ in settings, not only in variant: " + "; ".join(table["differences"]))
    lines += ["", *(line for text in notes for line in textwrap.wrap(text, max(20, width)))]
    return "\n".join(lines)


def _blocks(title: str, named: list[tuple[str, list[str]]], rows: list[dict], width: int) -> list[str]:
    """Rows of (name, one cell per run), the runs as columns: as many runs side by side as ``width`` holds."""
    first = max(len(title), *(len(name) for name, _ in named))
    cell = max([len(text) for _, cells in named for text in cells] + [len(f"run {r['run_id']}") for r in rows]) + 2
    side_by_side = max(1, (width - first) // cell)
    out: list[str] = []
    for start in range(0, len(rows), side_by_side):
        block = range(start, min(len(rows), start + side_by_side))
        grid = [[title, *(f"run {rows[i]['run_id']}" for i in block)]]
        grid += [[name, *(cells[i] for i in block)] for name, cells in named]
        out += ["", *_aligned(grid, width)]
    return out


def _aligned(grid: list[list[str]], width: int) -> list[str]:
    widths = [max(len(row[c]) for row in grid) for c in range(len(grid[0]))]
    out = []
    for row in grid:
        line = "  ".join(text.ljust(w) if c == 0 else text.rjust(w) for c, (text, w) in enumerate(zip(row, widths)))
        out.append(line.rstrip())
    return out
