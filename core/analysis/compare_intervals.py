"""Bootstrap intervals for a comparison of finished runs: every run's metrics and their differences to the baseline,
all under one draw of resamples of the test images the runs share (paired), from the stored test scores.

A run's metric table under a draw (``core.analysis.bootstrap.metric_table``) is kept in memory per run, test set,
number of resamples and seed, so the Runs tab's refreshes and a growing selection compute each run once, and on
disk between processes (:mod:`core.analysis.interval_store`).
"""

from __future__ import annotations

import hashlib
import math
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from core.analysis import interval_store
from core.analysis.bootstrap import DEFAULT_RESAMPLES, affordable_resamples, metric_table, resample_columns, strata
from core.catalog.runs import RunInfo, final_scores
from core.catalog.store import Catalog

CONFIDENCE = 0.95  # of every interval a comparison shows
_CACHE: OrderedDict[tuple, dict[str, np.ndarray]] = OrderedDict()
_CACHE_SIZE = 128


@dataclass(frozen=True)
class Bootstrapped:
    """Per run (in the order given) its metric table: row 0 the point values, rows 1..B the resamples."""

    tables: list[dict[str, np.ndarray]]
    paired_on: int  # test images every run has (the resamples draw from these)
    resamples: int
    seed: int
    test_images: list[int]  # each run's own test set size: all equal paired_on when the runs share one test set
    test_counts: list[int]  # per label, its images (single-label) or positives (multi-label) among the shared ones

    @property
    def same_test_images(self) -> bool:
        return all(n == self.paired_on for n in self.test_images)


def _test_set(catalog: Catalog, run: RunInfo) -> tuple[list[int], np.ndarray, np.ndarray]:
    ids, _paths, targets, scores = final_scores(catalog, run.id)
    if run.kind == "multi":
        truth = np.zeros((len(ids), len(run.labels)), dtype=np.float32)
        for row, labels in enumerate(targets):
            truth[row, list(labels)] = 1
    else:
        truth = np.array([t[0] for t in targets], dtype=np.int64)
    return ids, truth, scores


def bootstrap_runs(
    catalog: Catalog, runs: list[RunInfo], *, resamples: int = DEFAULT_RESAMPLES, seed: int = 0
) -> Bootstrapped | None:
    """The runs' metric tables on the test images they all have (in the first run's order), under one seeded,
    label-stratified draw; None when they share no scored test image."""
    loaded = [_test_set(catalog, run) for run in runs]
    shared = set(loaded[0][0]).intersection(*(set(ids) for ids, _t, _s in loaded[1:]))
    common = [i for i in loaded[0][0] if i in shared]
    if not common:
        return None
    multi = runs[0].kind == "multi"
    resamples = affordable_resamples(resamples, len(common))
    first = {image: row for row, image in enumerate(loaded[0][0])}
    truth = loaded[0][1][[first[i] for i in common]]
    columns: np.ndarray | None = None
    digest = hashlib.sha1(np.asarray(common, dtype=np.int64).tobytes()).hexdigest()
    tables = []
    for run, (ids, _truth, scores) in zip(runs, loaded):
        key = (catalog.location, run.id, digest, resamples, seed)
        if key not in _CACHE:
            name = interval_store.key(str(catalog.location), run, digest, resamples, seed)
            where = {image: row for row, image in enumerate(ids)}
            compared = scores[[where[i] for i in common]]
            points = metric_table(truth, compared, multi, np.ones((len(common), 1), dtype=np.float32))
            stored = interval_store.load(name, points, resamples)
            if stored is None:
                if columns is None:
                    columns = resample_columns(strata(truth, multi), resamples, seed)
                stored = metric_table(truth, compared, multi, columns)
                interval_store.save(name, stored)
            _CACHE[key] = stored
            if len(_CACHE) > _CACHE_SIZE:
                _CACHE.popitem(last=False)
        _CACHE.move_to_end(key)
        tables.append(_CACHE[key])
    if multi:
        counts = [int(n) for n in truth.sum(axis=0)]
    else:
        counts = [int(n) for n in np.bincount(truth, minlength=len(runs[0].labels))]
    return Bootstrapped(tables, len(common), resamples, seed, [len(ids) for ids, _t, _s in loaded], counts)


def percentile_interval(
    values: np.ndarray, confidence: float = CONFIDENCE, point: float | None = None
) -> list[float] | None:
    """``[low, high]`` of the resampled values (NaN left out: a resample without a label's positives), or None;
    widened to hold ``point`` when given: a skewed bootstrap distribution (AP's, on few images) put whole intervals
    beside their own value ("24.3 [25.1, 28.9]")."""
    finite = values[np.isfinite(values)]
    if not len(finite):
        return None
    alpha = 1 - confidence
    low, high = (float(v) for v in np.percentile(finite, [100 * alpha / 2, 100 * (1 - alpha / 2)]))
    if point is not None and math.isfinite(point):
        low, high = min(low, point), max(high, point)
    return [low, high]


def excludes_zero(interval: list[float] | None) -> bool:
    """A difference whose interval lies on one side of 0 (significant at the interval's level)."""
    return interval is not None and (interval[0] > 0 or interval[1] < 0)


def metric_intervals(table: dict[str, np.ndarray], key: str) -> list[list[float] | None]:
    """The intervals of one metric (one per label for per-label metrics, else a list of one)."""
    values = table.get(key)
    if values is None:
        return []
    if values.ndim == 1:
        return [percentile_interval(values[1:], point=float(values[0]))]
    return [percentile_interval(values[1:, j], point=float(values[0, j])) for j in range(values.shape[1])]


def delta_intervals(table: dict[str, np.ndarray], base: dict[str, np.ndarray], key: str) -> list[list[float] | None]:
    """The intervals of the paired differences ``table - base`` of one metric, under the same resamples."""
    if key not in table or key not in base:
        return []
    return metric_intervals({key: table[key] - base[key]}, key)
