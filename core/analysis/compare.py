"""Comparing finished runs of one attribute: the runs x labels AP table with deltas to the first run, as a dict
(``tailor compare --json``, the Runs tab), Markdown or CSV. Catalog text is escaped in Markdown."""

from __future__ import annotations

import csv
import html
import io
import re
from typing import Any

from core.base.errors import TailorError
from core.catalog.records import RunStatus
from core.catalog.runs import get_run
from core.catalog.store import Catalog

MIN_TEST_IMAGES = 10  # a label with fewer test images is shown but marked "too few to compare"


def compare(catalog: Catalog, run_ids: list[int]) -> dict:
    """Runs x labels per-label AP (the source paper's Table I layout), summary metrics, deltas to the first run and
    head/medium/tail group means. All runs must be finished runs of the same attribute."""
    if len(run_ids) < 1:
        raise TailorError("name at least one run to compare")
    runs = [get_run(catalog, run_id) for run_id in run_ids]
    for run in runs:
        if run.status != RunStatus.FINISHED or not run.metrics:
            raise TailorError(f"run {run.id} is {run.status}; only finished runs can be compared")
    if len({run.attribute for run in runs}) > 1:
        raise TailorError(
            "runs of different attributes cannot be compared: "
            + ", ".join(f"{run.id} ({run.attribute})" for run in runs)
        )
    labels = [label["name"] for label in runs[0].labels]
    rows: list[dict[str, Any]] = []
    for run in runs:
        last = run.last
        by_name = {label["name"]: m["ap"] for label, m in zip(run.labels, last["per_label"])}
        groups = {g: (v or {}).get("ap") for g, v in (last.get("groups") or {}).items()}
        rows.append(
            {
                "run_id": run.id,
                "loss": run.loss,
                "backbone": run.backbone,
                "ap": [by_name.get(name) for name in labels],
                **{k: last.get(k) for k in ("top1", "acsa", "gm", "macro_ap")},
                "groups": groups,
            }
        )
    base = rows[0]
    for row in rows:
        row["delta"] = {
            k: (row[k] - base[k]) if row[k] is not None and base[k] is not None else None
            for k in ("top1", "acsa", "gm", "macro_ap")
        }
        row["ap_delta"] = [(a - b) if a is not None and b is not None else None for a, b in zip(row["ap"], base["ap"])]
    best: list[float | None] = []
    for j in range(len(labels)):
        values = [row["ap"][j] for row in rows if row["ap"][j] is not None]
        best.append(max(values) if values else None)
    counts = {label["name"]: label["train"] for label in runs[0].labels}
    tests = {label["name"]: label["test"] for label in runs[0].labels}
    return {
        "attribute": runs[0].attribute,
        "labels": labels,
        "train_counts": [counts[n] for n in labels],
        "test_counts": [tests[n] for n in labels],
        "min_test_images": MIN_TEST_IMAGES,
        "too_few": [tests[n] < MIN_TEST_IMAGES for n in labels],
        "baseline": base["run_id"],
        "rows": rows,
        "best_ap": best,
    }


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def _delta(value: float | None) -> str:
    return "" if value is None else f" ({100 * value:+.1f})"


def markdown_cell(text: object) -> str:
    """A catalog's text as one Markdown table cell: shown as typed, never as markup (escaped ``|``, ``\\``,
    Markdown punctuation and HTML; line breaks as spaces)."""
    value = " ".join(str(text).split())
    value = html.escape(value, quote=False)
    return re.sub(r"([\\|`*_\[\]#])", r"\\\1", value)


def too_few(table: dict, j: int) -> bool:
    """Whether label ``j`` has too few test images for its numbers to be compared."""
    return bool(table.get("too_few") and table["too_few"][j])


def _label_note(table: dict, j: int) -> str:
    """`` (6; 4 test, too few to compare)``: training images, and the test images when there are too few."""
    n = table["train_counts"][j]
    if too_few(table, j):
        return f" ({n}; {table['test_counts'][j]} test, too few to compare)"
    return f" ({n})"


def compare_markdown(table: dict) -> str:
    head = (
        ["run", "loss"]
        + [f"{markdown_cell(name)}{_label_note(table, j)}" for j, name in enumerate(table["labels"])]
        + ["top-1", "ACSA", "GM", "macro AP", "head AP", "medium AP", "tail AP"]
    )
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in table["rows"]:
        cells = [str(row["run_id"]), row["loss"]]
        for j, ap in enumerate(row["ap"]):
            text = _pct(ap)
            best = ap is not None and ap == table["best_ap"][j] and len(table["rows"]) > 1 and not too_few(table, j)
            cells.append(f"**{text}**" if best else text)
        for key in ("top1", "acsa", "gm", "macro_ap"):
            cells.append(_pct(row[key]) + (_delta(row["delta"][key]) if row["run_id"] != table["baseline"] else ""))
        cells += [_pct(row["groups"].get(g)) for g in ("head", "medium", "tail")]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append(
        f"\nPer-label AP and metrics in %, last epoch of each run; bold: best AP per label; "
        f"(+x): difference to run {table['baseline']}. Label columns show training images; a label with fewer than "
        f"{table.get('min_test_images', MIN_TEST_IMAGES)} test images is marked too few to compare (no best)."
    )
    return "\n".join(lines)


def percent(value: float | None) -> float | str:
    """A fraction as a percentage with one decimal, as the Markdown shows it ("" when there is none)."""
    return "" if value is None else round(100 * value, 1)


def compare_csv(table: dict) -> str:
    """The comparison as CSV: every metric in percent with one decimal (the ``_pct`` columns), like the Markdown;
    a label's column names its training and test images and says when they are too few to compare."""
    out = io.StringIO()
    writer = csv.writer(out)
    label_columns = []
    for j, name in enumerate(table["labels"]):
        tests = table.get("test_counts")
        note = f" [{table['train_counts'][j]} train" + (f"; {tests[j]} test" if tests else "")
        note += "; too few to compare]" if too_few(table, j) else "]"
        label_columns.append(f"ap_pct:{name}{note}")
    writer.writerow(
        [
            "run_id",
            "loss",
            "backbone",
            *label_columns,
            *(f"{k}_pct" for k in ("top1", "acsa", "gm", "macro_ap")),
            *(f"delta_{k}_pct" for k in ("top1", "acsa", "gm", "macro_ap")),
            *(f"{g}_ap_pct" for g in ("head", "medium", "tail")),
        ]
    )
    for row in table["rows"]:
        writer.writerow(
            [
                row["run_id"],
                row["loss"],
                row["backbone"],
                *(percent(ap) for ap in row["ap"]),
                *(percent(row[k]) for k in ("top1", "acsa", "gm", "macro_ap")),
                *(percent(row["delta"][k]) for k in ("top1", "acsa", "gm", "macro_ap")),
                *(percent(row["groups"].get(g)) for g in ("head", "medium", "tail")),
            ]
        )
    return out.getvalue()
