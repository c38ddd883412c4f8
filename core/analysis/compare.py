"""Comparing finished runs of one attribute: the runs x labels table (per-label AP and accuracy, summary metrics)
with bootstrap intervals, paired differences to the first run and seed groups, as a dict the Runs tab, the Matrix
tab and ``tailor compare`` read; its exports are in :mod:`core.analysis.compare_exports`."""

from __future__ import annotations

import json
import statistics
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from core.base.errors import TailorError
from core.catalog.records import RunStatus
from core.catalog.runs import RunInfo, differences, get_run, variant_name
from core.catalog.store import Catalog

if TYPE_CHECKING:
    from core.analysis.compare_intervals import Bootstrapped

MIN_TEST_IMAGES = 10  # a label with fewer test images is shown but marked "too few to compare"
MIN_SEEDS = 3  # runs a seed group needs for an interval across seeds


DEFAULT_RESAMPLES = 2000  # core.analysis.bootstrap's (numpy is imported with the first comparison, not here)
METRICS = ("top1", "acsa", "gm", "macro_ap")
PER_LABEL = ("ap", "accuracy")


def compare(catalog: Catalog, run_ids: list[int], *, resamples: int = DEFAULT_RESAMPLES, seed: int = 0) -> dict:
    """Runs x labels per-label AP (the source paper's Table I layout), summary metrics, deltas to the first run and
    head/medium/tail group means; with ``resamples`` > 0, a 95% bootstrap interval of every value and of every
    paired delta (``significant`` where it excludes 0; never for a label with too few test images), and the mean
    and spread of runs that differ only in their seed. All runs must be finished runs of the same attribute."""
    runs = _comparable(catalog, run_ids)
    labels = [label.name for label in runs[0].labels]
    rows = [_row(run, labels) for run in runs]
    tests = [label.test for label in runs[0].labels]
    boot = None
    if resamples > 0:
        from core.analysis.compare_intervals import bootstrap_runs

        boot = bootstrap_runs(catalog, runs, resamples=resamples, seed=seed)
        if boot is not None and not boot.same_test_images:  # other splits: every value on the images they share
            tests = boot.test_counts
            for row, tab in zip(rows, boot.tables):
                _values_on_shared_images(row, tab)
    base = rows[0]
    for row in rows:
        row["delta"] = {k: _minus(row[k], base[k]) for k in METRICS}
        for key in PER_LABEL:
            row[f"{key}_delta"] = [_minus(a, b) for a, b in zip(row[key], base[key])]
    table = {
        "attribute": runs[0].attribute,
        "labels": labels,
        "train_counts": [label.train for label in runs[0].labels],
        "test_counts": tests,
        "min_test_images": MIN_TEST_IMAGES,
        "too_few": [n < MIN_TEST_IMAGES for n in tests],
        "baseline": base["run_id"],
        "rows": rows,
        "best_ap": [_best(row["ap"][j] for row in rows) for j in range(len(labels))],
        "confidence": None,  # with the intervals: core.analysis.compare_intervals.CONFIDENCE
        "resamples": resamples,
        "bootstrap_seed": seed,
        "paired_on": None,
        "test_images": {row["run_id"]: n for row, n in zip(rows, boot.test_images)} if boot else None,
        "same_test_images": boot.same_test_images if boot else None,
    }
    _add_intervals(table, boot)
    table["seed_groups"] = seed_groups(runs, rows)
    table["differences"] = differences(runs)  # settings beyond the variant: "batch size 64 / 32"
    add_seed_differences(table)
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
    twice = sorted({run_id for run_id in run_ids if run_ids.count(run_id) > 1})
    if twice:
        raise TailorError(f"run {', '.join(map(str, twice))} is named more than once; name each run once")
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
    by_name = {label.name: m for label, m in zip(run.labels, last["per_label"])}
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


def _values_on_shared_images(row: dict, table: Any) -> None:
    """A row's values replaced by the run's metrics on the test images every compared run has (row 0 of its
    bootstrap table): runs tested on other splits are compared on the same images or not at all. The head /
    medium / tail means are left out (they were of the run's whole test set)."""

    import numpy as np

    def value(x: Any) -> float | None:
        return float(x) if x is not None and np.isfinite(x) else None

    for key in METRICS:
        row[key] = value(table[key][0]) if key in table else None
    for key in PER_LABEL:
        if key in table:
            row[key] = [value(x) for x in table[key][0]]
    row["groups"] = {}


def _minus(a: float | None, b: float | None) -> float | None:
    return a - b if a is not None and b is not None else None


def _best(values: Any) -> float | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None


def _add_intervals(table: dict, boot: Bootstrapped | None) -> None:
    """Every row's ``ci``/``delta_ci``/``significant`` (summary metrics, by key) and ``ap_ci``, ``ap_delta_ci``,
    ``ap_significant``, ``accuracy_...`` (per label), from the paired bootstrap."""
    from core.analysis.compare_intervals import CONFIDENCE, delta_intervals, excludes_zero, metric_intervals

    if boot is None:
        return
    table["confidence"] = CONFIDENCE
    table["paired_on"] = boot.paired_on
    table["resamples"] = boot.resamples  # fewer than asked only for a test set too large for memory
    base = boot.tables[0]
    enough = boot.paired_on >= MIN_TEST_IMAGES  # fewer shared test images: nothing is significant
    few = [j for j in range(len(table["labels"])) if too_few(table, j)]
    if few:  # an overall value averages every label: marked only when each has enough test images
        table["overall_not_marked"] = (
            f"overall values are not marked significant: {len(few)} of {len(table['labels'])} labels have fewer "
            f"than {MIN_TEST_IMAGES} test images"
        )
    single = [n < 2 for n in table["test_counts"]]  # one test image: no interval at all
    for row, tab in zip(table["rows"], boot.tables):
        row["ci"] = {k: metric_intervals(tab, k)[0] for k in METRICS if k in tab}
        row["delta_ci"] = {k: delta_intervals(tab, base, k)[0] for k in METRICS if k in tab}
        row["significant"] = {k: excludes_zero(row["delta_ci"][k]) and enough and not few for k in row["delta_ci"]}
        for key in PER_LABEL:
            if key in tab:
                row[f"{key}_ci"] = [None if single[j] else ci for j, ci in enumerate(metric_intervals(tab, key))]
                deltas = delta_intervals(tab, base, key)
                row[f"{key}_delta_ci"] = [None if single[j] else ci for j, ci in enumerate(deltas)]
                row[f"{key}_significant"] = [
                    excludes_zero(ci) and enough and not too_few(table, j)
                    for j, ci in enumerate(row[f"{key}_delta_ci"])
                ]


def _group_key(run: RunInfo) -> str:
    """What a run is apart from its seed (and where it ran): runs with the same key form a seed group."""
    config = {k: v for k, v in asdict(run.config).items() if k not in ("seed", "device", "workers", "cache", "batch")}
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
        if len(members) < 2 or len({runs[i].config.seed for i in members}) < len(members):
            continue  # one run, or runs of one seed (trained again on changed labels): not a spread over seeds
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


def add_seed_differences(table: dict) -> None:
    """When the baseline run belongs to a seed group, every other group's difference of means to it, with a Welch
    t-interval across seeds (training randomness, which the bootstrap of test images does not see):
    ``delta_seeds`` (summary metrics, by key) and ``ap_delta_seeds`` (per label), each ``{"delta", "ci",
    "significant"}`` (never significant for a label with too few test images), and ``baseline_runs``."""
    rows = {row["run_id"]: row for row in table["rows"]}
    groups = table.get("seed_groups") or []
    base = next((g for g in groups if table["baseline"] in g["runs"]), None)
    for group in groups:
        if base is None or group is base:
            continue
        mine, theirs = [rows[i] for i in group["runs"]], [rows[i] for i in base["runs"]]
        group["baseline_runs"] = base["runs"]
        if min(len(mine), len(theirs)) < MIN_SEEDS:
            group["seeds_note"] = (
                f"no interval across seeds: it needs {MIN_SEEDS} seeds in each group "
                f"({len(mine)} and {len(theirs)} here)"
            )
        few = any(too_few(table, j) for j in range(len(table["labels"])))
        group["delta_seeds"] = {k: _seed_difference([r[k] for r in mine], [r[k] for r in theirs], few) for k in METRICS}
        group["ap_delta_seeds"] = [
            _seed_difference([r["ap"][j] for r in mine], [r["ap"][j] for r in theirs], too_few(table, j))
            for j in range(len(table["labels"]))
        ]


def _seed_difference(mine: list, theirs: list, few: bool = False) -> dict | None:
    from core.analysis.compare_intervals import CONFIDENCE

    found = welch_interval(mine, theirs, CONFIDENCE)
    if found is None:
        return None
    delta, ci = found
    return {"delta": delta, "ci": ci, "significant": (ci[0] > 0 or ci[1] < 0) and not few}


def welch_interval(a: list[float | None], b: list[float | None], confidence: float) -> tuple[float, list] | None:
    """mean(a) - mean(b) and its Welch t-interval (unequal variances); None with fewer than
    :data:`MIN_SEEDS` values a side (two seeds a side gave "+18.3 [-129.5, +166.1]": one degree of freedom)."""
    x, y = [v for v in a if v is not None], [v for v in b if v is not None]
    if len(x) < MIN_SEEDS or len(y) < MIN_SEEDS:
        return None
    from scipy import stats

    delta = statistics.fmean(x) - statistics.fmean(y)
    vx, vy = statistics.variance(x) / len(x), statistics.variance(y) / len(y)
    if vx + vy == 0:
        return float(delta), [float(delta), float(delta)]
    df = (vx + vy) ** 2 / (vx**2 / (len(x) - 1) + vy**2 / (len(y) - 1))
    half = float(stats.t.ppf(0.5 + confidence / 2, df)) * (vx + vy) ** 0.5
    return float(delta), [float(delta - half), float(delta + half)]


def _spread(values: list[float | None]) -> tuple[float | None, float | None]:
    present = [v for v in values if v is not None]
    if not present:
        return None, None
    return statistics.fmean(present), statistics.stdev(present) if len(present) > 1 else None


def too_few(table: dict, j: int) -> bool:
    """Whether label ``j`` has too few test images for its numbers to be compared."""
    return bool(table.get("too_few") and table["too_few"][j])


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
