"""Bootstrap intervals of a run's metrics from its stored test scores, and of the paired differences of two runs.

A resample is a vector of counts, one per test image (how often the image is drawn), so a run's metrics under
2,000 resamples are matrix products and cumulative sums over an N x B count matrix: no loop over resamples.
Resampling is stratified by label (by the rarest label of a multi-label image): each label keeps its number of test
images in every resample, drawn with replacement from its own images (``numpy``'s multinomial per label), so a label
with 4 test images is never left out of a resample. Comparing two runs on the same test images uses the same count
matrix for both (paired): the interval of a difference then reflects the images both saw, not two independent
draws. Percentile intervals; seeded.

Metrics, as :mod:`core.analysis.metrics` defines them: top-1 (multi-label: exact match at 0.5), per-label accuracy
(recall; multi-label at score 0.5), ACSA (their mean), GM (their geometric mean), per-label AP (scikit-learn's
step-wise average precision, ties grouped) and macro AP.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

DEFAULT_RESAMPLES = 2000


@dataclass(frozen=True)
class Interval:
    value: float | None  # on the test images as they are
    low: float | None
    high: float | None


def strata(truth: np.ndarray, multi_label: bool) -> np.ndarray:
    """Each image's stratum: its label, or its rarest label (multi-label; -1 without any)."""
    if not multi_label:
        return np.asarray(truth, dtype=np.int64)
    matrix = np.asarray(truth, dtype=bool)
    counts = matrix.sum(axis=0)
    rarity = np.where(matrix, counts[None, :], np.iinfo(np.int64).max)
    rarest = rarity.argmin(axis=1)
    return np.where(matrix.any(axis=1), rarest, -1)


def resample_counts(groups: np.ndarray, resamples: int = DEFAULT_RESAMPLES, seed: int = 0) -> np.ndarray:
    """N x B float32 counts (an image's counts in all resamples contiguous): resample b draws each stratum's images
    with replacement, as many as it has."""
    return resample_columns(groups, resamples, seed)[:, 1:]


COUNTS_BUDGET = 1 << 30  # bytes of the N x (1 + B) float32 count matrix: fewer resamples for huge test sets


def affordable_resamples(resamples: int, images: int) -> int:
    """``resamples``, or fewer where the N x (1 + B) counts would pass :data:`COUNTS_BUDGET` (never below 200):
    2,000 resamples up to 134,000 test images."""
    return min(resamples, max(200, COUNTS_BUDGET // (4 * max(1, images)) - 1))


def resample_columns(groups: np.ndarray, resamples: int, seed: int) -> np.ndarray:
    """N x (1 + B) counts: column 0 all ones (the test images as they are), then the resamples. Drawn stratum by
    stratum on the images sorted by stratum (contiguous blocks), then put back in the images' order."""
    rng = np.random.default_rng(seed)
    order = np.argsort(groups, kind="stable")
    ordered = np.asarray(groups)[order]
    bounds = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1], True])
    counts = np.empty((resamples, len(groups)), dtype=np.float32)
    for start, stop in itertools.pairwise(bounds):
        n = int(stop - start)
        drawn = rng.integers(0, n, size=(resamples, n), dtype=np.int32).astype(np.int64)
        drawn += (np.arange(resamples, dtype=np.int64) * n)[:, None]
        counts[:, start:stop] = np.bincount(drawn.ravel(), minlength=resamples * n).reshape(resamples, n)
    columns = np.empty((len(groups), resamples + 1), dtype=np.float32)
    columns[:, 0] = 1
    columns[order, 1:] = counts.T
    return columns


def average_precision(weights: np.ndarray, positive: np.ndarray, score: np.ndarray) -> np.ndarray:
    """AP of one label under each row of ``weights`` (B x N; a row of ones gives scikit-learn's value): the sum over
    distinct score thresholds of (recall gained) x (precision there). NaN where a resample has no positive."""
    columns = np.ascontiguousarray(np.asarray(weights, dtype=np.float32).T)
    return _average_precision(columns, np.asarray(positive, dtype=bool), np.asarray(score))


def _average_precision(columns: np.ndarray, positive: np.ndarray, score: np.ndarray) -> np.ndarray:
    """:func:`average_precision` with the counts as N x B."""
    counts = threshold_counts(columns, positive, score)
    if counts is None:
        return np.full(columns.shape[1], np.nan)
    _thresholds, tp, predicted = counts
    gained = np.diff(tp, axis=0, prepend=0)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    total = tp[-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        result: np.ndarray = (gained * precision).sum(axis=0) / total
    return np.where(total > 0, result, np.nan)


def threshold_counts(
    columns: np.ndarray, positive: np.ndarray, score: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """At each score threshold where recall grows (K of them, highest first): the threshold, and under every column
    of ``columns`` (N x B counts) the true positives and the predicted positives at or above it (K x B, float64);
    None without positives. The images are grouped into segments ending at those thresholds, and one sparse product
    sums each segment's counts (all images, and the positives alone) for every resample at once; cumulative sums
    over the segments give the counts at each threshold."""
    from scipy import sparse

    order = np.argsort(-score, kind="stable")
    s = score[order]
    ends = np.flatnonzero(np.r_[s[1:] != s[:-1], True])  # the last image of each group of equal scores
    y = positive[order]
    seen = np.cumsum(y)[ends]  # positives up to each group's end
    keep = np.r_[seen[:1] > 0, np.diff(seen) > 0]  # the groups that gain recall
    if not keep.any():
        return None
    kept_ends = ends[keep]
    segments = len(kept_ends)
    inside = order[: kept_ends[-1] + 1]  # images ranked below the last positive never count
    segment = np.searchsorted(kept_ends, np.arange(len(inside)))
    hits = inside[y[: len(inside)]]
    rows = np.r_[segment, segments + segment[y[: len(inside)]]]
    indicator = sparse.csr_matrix(
        (np.ones(len(rows), dtype=np.float32), (rows, np.r_[inside, hits])), shape=(2 * segments, len(columns))
    )
    sums = _sparse_product(indicator, columns)  # sums of counts: exact; ratios in float64
    np.cumsum(sums[:segments], axis=0, out=sums[:segments])
    np.cumsum(sums[segments:], axis=0, out=sums[segments:])
    return s[kept_ends], sums[segments:], sums[:segments]


# SciPy's sparse product keeps the GIL for its whole call: in row blocks of about this many stored entries each
# call takes a few milliseconds (B = 2,000), so the window's event loop on another thread gets its turns.
PRODUCT_BLOCK_ENTRIES = 2_000


def _sparse_product(indicator, columns: np.ndarray) -> np.ndarray:  # type: ignore[no-untyped-def]
    """``indicator @ columns`` (CSR times dense) as float64, computed in row blocks of bounded stored entries."""
    out = np.empty((indicator.shape[0], columns.shape[1]), dtype=np.float64)
    bounds = np.searchsorted(indicator.indptr, np.arange(0, indicator.nnz, PRODUCT_BLOCK_ENTRIES), side="right") - 1
    starts = np.unique(np.r_[bounds, 0])
    for start, stop in zip(starts, np.r_[starts[1:], indicator.shape[0]]):
        out[start:stop] = indicator[start:stop] @ columns
    return out


def label_accuracy(columns: np.ndarray, truth: np.ndarray, predicted: np.ndarray, num_labels: int) -> np.ndarray:
    """B x C accuracy of each label (recall of its images) under each resample (columns N x B; NaN: a label without
    images)."""
    correct = (truth == predicted).astype(np.float32)
    result = np.full((columns.shape[1], num_labels), np.nan)
    for label in range(num_labels):
        members = np.flatnonzero(truth == label)
        if len(members):
            w = columns[members]
            result[:, label] = (correct[members] @ w).astype(np.float64) / w.sum(axis=0, dtype=np.float64)
    return result


def _interval(values: np.ndarray, point: float | None, alpha: float) -> Interval:
    finite = values[np.isfinite(values)]
    if point is None or not len(finite):
        return Interval(point, None, None)
    low, high = np.percentile(finite, [100 * alpha / 2, 100 * (1 - alpha / 2)])
    return Interval(point, float(low), float(high))


def _single_label_table(columns: np.ndarray, truth: np.ndarray, scores: np.ndarray) -> dict[str, np.ndarray]:
    """Row 0: the test images as they are; rows 1..B: the resamples. Values per metric (and per label)."""
    num_labels = scores.shape[1]
    predicted = scores.argmax(axis=1)
    accuracy = label_accuracy(columns, truth, predicted, num_labels)
    present = ~np.isnan(accuracy[0])
    correct = (truth == predicted).astype(np.float32)
    with np.errstate(divide="ignore"):
        gm = np.exp(np.log(accuracy[:, present]).mean(axis=1))
    ap = np.stack([_average_precision(columns, truth == j, scores[:, j]) for j in range(num_labels)], axis=1)
    return {
        "top1": (correct @ columns).astype(np.float64) / columns.sum(axis=0, dtype=np.float64),
        "acsa": accuracy[:, present].mean(axis=1),
        "gm": gm,
        "macro_ap": np.nanmean(ap, axis=1),
        "accuracy": accuracy,
        "ap": ap,
    }


def _multi_label_table(columns: np.ndarray, truth: np.ndarray, scores: np.ndarray) -> dict[str, np.ndarray]:
    """As the recorded multi-label metrics: per-label recall at score 0.5 (accuracy), ACSA and GM of it, exact
    match (top-1), per-label and macro AP."""
    truth = truth > 0
    predicted = scores >= 0.5
    hits = (truth & predicted).astype(np.float32)
    with np.errstate(invalid="ignore", divide="ignore"):
        positives = (truth.astype(np.float32).T @ columns).astype(np.float64)
        accuracy = (hits.T @ columns).astype(np.float64) / positives  # C x (1 + B)
        accuracy = accuracy.T
        present = truth.any(axis=0)
        gm = np.exp(np.log(accuracy[:, present]).mean(axis=1))
    exact = np.all(truth == predicted, axis=1).astype(np.float32)
    ap = np.stack([_average_precision(columns, truth[:, j], scores[:, j]) for j in range(scores.shape[1])], axis=1)
    return {
        "top1": (exact @ columns).astype(np.float64) / columns.sum(axis=0, dtype=np.float64),
        "acsa": np.nanmean(accuracy[:, present], axis=1),
        "gm": gm,
        "macro_ap": np.nanmean(ap, axis=1),
        "accuracy": accuracy,
        "ap": ap,
    }


def metric_table(
    truth: np.ndarray, scores: np.ndarray, multi_label: bool, columns: np.ndarray
) -> dict[str, np.ndarray]:
    """Every metric under each column of ``columns`` (N x (1 + B): the test images as they are, then the
    resamples), as rows: row 0 the point values, rows 1..B the resamples."""
    scores = np.asarray(scores, dtype=np.float64)
    truth = np.asarray(truth)
    table = _multi_label_table if multi_label else _single_label_table
    return table(columns, truth, scores)


def intervals(
    truth: np.ndarray,
    scores: np.ndarray,
    *,
    multi_label: bool,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    alpha: float = 0.05,
) -> dict[str, Interval | list[Interval]]:
    """Percentile intervals of every metric of one run (per-label metrics as a list in label order)."""
    columns = resample_columns(strata(truth, multi_label), resamples, seed)
    return _summarise(metric_table(truth, scores, multi_label, columns), alpha)


def paired_intervals(
    truth: np.ndarray,
    scores_a: np.ndarray,
    scores_b: np.ndarray,
    *,
    multi_label: bool,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    alpha: float = 0.05,
) -> dict[str, Interval | list[Interval]]:
    """Intervals of the differences b - a of two runs scored on the same test images, the same resamples for both."""
    columns = resample_columns(strata(truth, multi_label), resamples, seed)
    a = metric_table(truth, scores_a, multi_label, columns)
    b = metric_table(truth, scores_b, multi_label, columns)
    return _summarise({key: b[key] - a[key] for key in a}, alpha)


def _summarise(table: dict[str, np.ndarray], alpha: float) -> dict[str, Interval | list[Interval]]:
    result: dict[str, Interval | list[Interval]] = {}
    for key, values in table.items():
        if values.ndim == 1:
            point = float(values[0]) if np.isfinite(values[0]) else None
            result[key] = _interval(values[1:], point, alpha)
        else:
            result[key] = [
                _interval(values[1:, j], float(values[0, j]) if np.isfinite(values[0, j]) else None, alpha)
                for j in range(values.shape[1])
            ]
    return result
