"""Comparing finished runs of one attribute: the runs x labels AP table with deltas to the first run, as a dict
(``tailor compare --json``, the Runs tab), Markdown or CSV. Catalog text is escaped in Markdown."""

from __future__ import annotations

import csv
import html
import io
import json
import re
import statistics
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from core.base.errors import TailorError
from core.catalog.records import RunStatus
from core.catalog.runs import RunInfo, get_run, variant_name
from core.catalog.store import Catalog

if TYPE_CHECKING:
    from core.analysis.compare_intervals import Bootstrapped

MIN_TEST_IMAGES = 10  # a label with fewer test images is shown but marked "too few to compare"


DEFAULT_RESAMPLES = 2000  # core.analysis.bootstrap's (numpy is imported with the first comparison, not here)
CONFIDENCE = 0.95
METRICS = ("top1", "acsa", "gm", "macro_ap")
PER_LABEL = ("ap", "accuracy")


def compare(catalog: Catalog, run_ids: list[int], *, resamples: int = DEFAULT_RESAMPLES, seed: int = 0) -> dict:
    """Runs x labels per-label AP (the source paper's Table I layout), summary metrics, deltas to the first run and
    head/medium/tail group means; with ``resamples`` > 0, a 95% bootstrap interval of every value and of every
    paired delta (``significant`` where it excludes 0; never for a label with too few test images), and the mean
    and spread of runs that differ only in their seed. All runs must be finished runs of the same attribute."""
    runs = _comparable(catalog, run_ids)
    labels = [label["name"] for label in runs[0].labels]
    rows = [_row(run, labels) for run in runs]
    base = rows[0]
    for row in rows:
        row["delta"] = {k: _minus(row[k], base[k]) for k in METRICS}
        for key in PER_LABEL:
            row[f"{key}_delta"] = [_minus(a, b) for a, b in zip(row[key], base[key])]
    tests = [label["test"] for label in runs[0].labels]
    table = {
        "attribute": runs[0].attribute,
        "labels": labels,
        "train_counts": [label["train"] for label in runs[0].labels],
        "test_counts": tests,
        "min_test_images": MIN_TEST_IMAGES,
        "too_few": [n < MIN_TEST_IMAGES for n in tests],
        "baseline": base["run_id"],
        "rows": rows,
        "best_ap": [_best(row["ap"][j] for row in rows) for j in range(len(labels))],
        "confidence": CONFIDENCE,
        "resamples": resamples,
        "bootstrap_seed": seed,
        "paired_on": None,
    }
    if resamples > 0:
        from core.analysis.compare_intervals import bootstrap_runs

        _add_intervals(table, bootstrap_runs(catalog, runs, resamples=resamples, seed=seed))
    table["seed_groups"] = seed_groups(runs, rows)
    return table


PER_LABEL_KEYS = ("labels", "train_counts", "test_counts", "too_few", "best_ap")


def sort_labels(table: dict) -> dict:
    """The same comparison with its labels by training count, most first (the tail on the right), every per-label
    list reordered alike."""
    order = sorted(range(len(table["labels"])), key=lambda j: (-table["train_counts"][j], table["labels"][j]))

    def permuted(values: Any) -> Any:
        return [values[j] for j in order] if isinstance(values, list) else values

    result = {**table, **{k: permuted(table[k]) for k in PER_LABEL_KEYS if k in table}}
    result["rows"] = [
        {k: permuted(v) if k.startswith(PER_LABEL) else v for k, v in row.items()} for row in table["rows"]
    ]
    result["seed_groups"] = [
        {k: permuted(v) if k.startswith("ap_") else v for k, v in group.items()}
        for group in table.get("seed_groups", [])
    ]
    return result


def _comparable(catalog: Catalog, run_ids: list[int]) -> list[RunInfo]:
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
    return runs


def _row(run: RunInfo, labels: list[str]) -> dict[str, Any]:
    last = run.last
    by_name = {label["name"]: m for label, m in zip(run.labels, last["per_label"])}
    return {
        "run_id": run.id,
        "loss": run.loss,
        "variant": variant_name(run),
        "backbone": run.backbone,
        "seed": run.config.seed,
        "ap": [by_name.get(name, {}).get("ap") for name in labels],
        "accuracy": [by_name.get(name, {}).get("accuracy") for name in labels],
        **{k: last.get(k) for k in METRICS},
        "groups": {g: (v or {}).get("ap") for g, v in (last.get("groups") or {}).items()},
    }


def _minus(a: float | None, b: float | None) -> float | None:
    return a - b if a is not None and b is not None else None


def _best(values: Any) -> float | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None


def _add_intervals(table: dict, boot: Bootstrapped | None) -> None:
    """Every row's ``ci``/``delta_ci``/``significant`` (summary metrics, by key) and ``ap_ci``, ``ap_delta_ci``,
    ``ap_significant``, ``accuracy_...`` (per label), from the paired bootstrap."""
    from core.analysis.compare_intervals import delta_intervals, excludes_zero, metric_intervals

    if boot is None:
        return
    table["paired_on"] = boot.paired_on
    table["resamples"] = boot.resamples  # fewer than asked only for a test set too large for memory
    base = boot.tables[0]
    for row, tab in zip(table["rows"], boot.tables):
        row["ci"] = {k: metric_intervals(tab, k)[0] for k in METRICS if k in tab}
        row["delta_ci"] = {k: delta_intervals(tab, base, k)[0] for k in METRICS if k in tab}
        row["significant"] = {k: excludes_zero(row["delta_ci"][k]) for k in row["delta_ci"]}
        for key in PER_LABEL:
            if key in tab:
                row[f"{key}_ci"] = metric_intervals(tab, key)
                row[f"{key}_delta_ci"] = delta_intervals(tab, base, key)
                row[f"{key}_significant"] = [
                    excludes_zero(ci) and not too_few(table, j) for j, ci in enumerate(row[f"{key}_delta_ci"])
                ]


def _group_key(run: RunInfo) -> str:
    """What a run is apart from its seed (and where it ran): runs with the same key form a seed group."""
    config = {k: v for k, v in asdict(run.config).items() if k not in ("seed", "device", "workers", "cache")}
    oversampler = run.oversampler and {k: v for k, v in asdict(run.oversampler).items() if k not in ("seed", "device")}
    return json.dumps([config, oversampler], sort_keys=True, default=str)


def seed_groups(runs: list[RunInfo], rows: list[dict]) -> list[dict]:
    """Runs that differ only in their seed: their seeds, and the mean and sample standard deviation of each
    summary metric and per-label AP across them (groups of two or more runs)."""
    grouped: dict[str, list[int]] = {}
    for index, run in enumerate(runs):
        grouped.setdefault(_group_key(run), []).append(index)
    result = []
    for members in grouped.values():
        if len(members) < 2:
            continue
        chosen = [rows[i] for i in members]
        result.append(
            {
                "variant": chosen[0]["variant"],
                "backbone": chosen[0]["backbone"],
                "runs": [row["run_id"] for row in chosen],
                "seeds": [row["seed"] for row in chosen],
                "mean": {k: _spread([row[k] for row in chosen])[0] for k in METRICS},
                "sd": {k: _spread([row[k] for row in chosen])[1] for k in METRICS},
                "ap_mean": [_spread([row["ap"][j] for row in chosen])[0] for j in range(len(chosen[0]["ap"]))],
                "ap_sd": [_spread([row["ap"][j] for row in chosen])[1] for j in range(len(chosen[0]["ap"]))],
            }
        )
    return result


def _spread(values: list[float | None]) -> tuple[float | None, float | None]:
    present = [v for v in values if v is not None]
    if not present:
        return None, None
    return statistics.fmean(present), statistics.stdev(present) if len(present) > 1 else None


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


def _interval_text(ci: list[float] | None) -> str:
    return "" if not ci else f" [{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]"


def _delta_text(value: float | None, significant: bool) -> str:
    return "" if value is None else f" {100 * value:+.1f}" + ("*" if significant else "")


def _at(values: list | None, j: int) -> Any:
    return values[j] if values else None


def value_parts(row: dict, key: str, j: int | None) -> tuple[Any, Any, Any, Any, bool]:
    """value, interval, difference to the baseline, its interval, significant: of a summary metric (``j`` None)
    or of label ``j``'s per-label ``key``."""
    if j is None:
        return (
            row[key],
            (row.get("ci") or {}).get(key),
            (row.get("delta") or {}).get(key),
            (row.get("delta_ci") or {}).get(key),
            bool((row.get("significant") or {}).get(key)),
        )
    return (
        row[key][j],
        _at(row.get(f"{key}_ci"), j),
        _at(row.get(f"{key}_delta"), j),
        _at(row.get(f"{key}_delta_ci"), j),
        bool(_at(row.get(f"{key}_significant"), j)),
    )


def _cell(row: dict, key: str, j: int | None, baseline: bool) -> str:
    """ "64.1 [60.2, 68.0] +1.8*": the value with its interval, and the difference to the baseline (``*``: its
    interval excludes 0)."""
    value, ci, delta, _delta_ci, significant = value_parts(row, key, j)
    text = _pct(value) + _interval_text(ci)
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
        cells += [_pct(row["groups"].get(g)) for g in ("head", "medium", "tail")]
        lines.append("| " + " | ".join(cells) + " |")
    for group in table.get("seed_groups") or []:
        cells = [
            ", ".join(str(r) for r in group["runs"]),
            markdown_cell(f"{group['variant']}, {len(group['runs'])} seeds"),
        ]
        cells += [_mean_sd(m, sd) for m, sd in zip(group["ap_mean"], group["ap_sd"])]
        cells += [_mean_sd(group["mean"][k], group["sd"][k]) for k in METRICS] + ["", "", ""]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("\n" + _markdown_note(table))
    return "\n".join(lines)


def _mean_sd(mean: float | None, sd: float | None) -> str:
    return "-" if mean is None else f"{100 * mean:.1f} ± {100 * (sd or 0):.1f}"


def _markdown_note(table: dict) -> str:
    note = (
        "Per-label AP and metrics in %, last epoch of each run; bold: best AP per label. Label columns show "
        f"training images; a label with fewer than {table.get('min_test_images', MIN_TEST_IMAGES)} test images is "
        "marked too few to compare (no best, no significance)."
    )
    if table.get("paired_on"):
        note += (
            f" [a, b]: {100 * table.get('confidence', CONFIDENCE):.0f}% percentile bootstrap interval over the "
            f"{table['paired_on']:,} test images every run has ({table['resamples']:,} resamples stratified by label, "
            f"seed {table['bootstrap_seed']}); +x: difference to run {table['baseline']} on the same resamples, "
            "*: its interval excludes 0 (the intervals of the differences are in the CSV and JSON)."
        )
    elif len(table["rows"]) > 1:
        note += f" +x: difference to run {table['baseline']}."
    if table.get("seed_groups"):
        note += " Rows of several runs: mean ± standard deviation across seeds."
    tests = table.get("test_counts")
    if tests:
        note += (
            " Test images per label: "
            + ", ".join(f"{markdown_cell(name)} {n}" for name, n in zip(table["labels"], tests))
            + "."
        )
    return note


def percent(value: float | None) -> float | str:
    """A fraction as a percentage with one decimal, as the Markdown shows it ("" when there is none)."""
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
    writer = csv.writer(out)
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
        percent(value),
        *(percent(v) for v in (ci or [None, None])),
        percent(delta),
        *(percent(v) for v in (delta_ci or [None, None])),
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
    keys = ("attribute", "baseline", "min_test_images", "confidence", "resamples", "bootstrap_seed", "paired_on")
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
