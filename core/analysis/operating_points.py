"""Operating points of a run with bootstrap bands: per label, the PR curve from the stored test scores with a 95%
band of precision at each recall, the threshold reaching a target precision with the intervals of the precision and
recall it gives, and the threshold saved with the run (picked on the curve, or at a target precision) with its own.

A threshold, once chosen, is fixed: its intervals are the precision and recall of that same threshold under
resamples of the test images (stratified by label, as in :mod:`core.analysis.bootstrap`), which is what a team
deploying it can expect to see again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.analysis.bootstrap import DEFAULT_RESAMPLES, affordable_resamples, resample_columns, strata, threshold_counts
from core.analysis.compare_intervals import percentile_interval
from core.analysis.review import load_review
from core.catalog.run_thresholds import saved_thresholds
from core.catalog.runs import get_run
from core.catalog.store import Catalog

CURVE_POINTS = 200
BAND_RECALLS = np.linspace(0.0, 1.0, 51)


@dataclass(frozen=True)
class Measured:
    """A fixed threshold's precision and recall on the test images, with their 95% intervals."""

    threshold: float
    precision: float | None
    precision_ci: list[float] | None
    recall: float
    recall_ci: list[float] | None


@dataclass(frozen=True)
class OperatingPoint:
    label: str
    label_id: int
    positives: int
    ap: float | None
    curve: dict = field(repr=False)  # {"precision", "recall", "threshold"} lists, at most CURVE_POINTS
    band: dict = field(repr=False)  # {"recall", "low", "high"}: precision's 95% band at each recall
    at_target: Measured | None  # the smallest threshold reaching the target precision (None: none does)
    saved: Measured | None  # the threshold saved with the run
    chosen: str | None  # how the saved one was chosen


def operating_points(
    catalog: Catalog,
    run_id: int,
    target_precision: float = 0.6,
    *,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> list[OperatingPoint]:
    """Every label's operating points (see the module docstring), in the run's label order."""
    review = load_review(catalog, run_id)
    run = get_run(catalog, run_id)
    truth = review.truth_matrix.astype(bool)
    scores = review.scores.astype(np.float64)
    groups = strata(truth if review.multi_label else truth.argmax(axis=1), review.multi_label)
    columns = resample_columns(groups, affordable_resamples(resamples, len(truth)), seed)
    saved = saved_thresholds(catalog, run_id)
    points = []
    for j, label in enumerate(run.labels):
        label_id = label.id
        stored = saved.get(label_id)
        points.append(_label_point(label.name, label_id, truth[:, j], scores[:, j], columns, target_precision, stored))
    return points


def _label_point(name, label_id, positive, score, columns, target, stored) -> OperatingPoint:  # type: ignore[no-untyped-def]
    from sklearn.metrics import precision_recall_curve

    from core.analysis.metrics import average_precision_from_curve, target_index

    if not positive.any():
        empty: dict[str, list] = {"precision": [], "recall": [], "threshold": []}
        return OperatingPoint(name, label_id, 0, None, empty, {"recall": [], "low": [], "high": []}, None, None, None)
    precision, recall, thresholds = precision_recall_curve(positive, score)
    chosen = target_index(precision, recall, target)
    at_target = measure(positive, score, columns, float(thresholds[chosen])) if chosen is not None else None
    saved = measure(positive, score, columns, stored.threshold) if stored is not None else None
    return OperatingPoint(
        name,
        label_id,
        int(positive.sum()),
        average_precision_from_curve(precision, recall),
        _curve(precision[:-1], recall[:-1], thresholds),
        precision_band(columns, positive, score),
        at_target,
        saved,
        stored.chosen if stored is not None else None,
    )


def _curve(precision: np.ndarray, recall: np.ndarray, thresholds: np.ndarray) -> dict:
    index = np.unique(np.round(np.linspace(0, len(thresholds) - 1, min(CURVE_POINTS, len(thresholds)))).astype(int))
    return {
        "precision": precision[index].tolist(),
        "recall": recall[index].tolist(),
        "threshold": thresholds[index].tolist(),
    }


def measure(positive: np.ndarray, score: np.ndarray, columns: np.ndarray, threshold: float) -> Measured:
    """Precision and recall of ``score >= threshold`` on the test images (column 0) and their intervals over the
    resamples (columns 1..B)."""
    above = score >= threshold
    tp = ((above & positive).astype(np.float32) @ columns).astype(np.float64)  # counts: exact; ratios in float64
    predicted = (above.astype(np.float32) @ columns).astype(np.float64)
    positives = (positive.astype(np.float32) @ columns).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(predicted > 0, tp / predicted, np.nan)
        recall = np.where(positives > 0, tp / positives, np.nan)
    point_precision = float(precision[0]) if np.isfinite(precision[0]) else None
    return Measured(
        float(threshold),
        point_precision,
        percentile_interval(precision[1:]),
        float(recall[0]),
        percentile_interval(recall[1:]),
    )


def precision_band(columns: np.ndarray, positive: np.ndarray, score: np.ndarray) -> dict:
    """At each recall of ``BAND_RECALLS``: the 95% band of the precision reached at the first threshold giving that
    recall, over the resamples (NaN-free: recalls a resample cannot reach are left out)."""
    counts = threshold_counts(columns[:, 1:], positive, score)
    if counts is None:
        return {"recall": [], "low": [], "high": []}
    _thresholds, tp, predicted = counts
    total = tp[-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = tp / total
        precision = tp / predicted
    reached = np.full((len(BAND_RECALLS), recall.shape[1]), np.nan)
    for b in range(recall.shape[1]):
        k = np.searchsorted(recall[:, b], BAND_RECALLS - 1e-12)  # recall is non-decreasing down the thresholds
        inside = k < len(recall)
        reached[inside, b] = precision[k[inside], b]
    low, high = [], []
    for row in reached:
        ci = percentile_interval(row)
        low.append(ci[0] if ci else None)
        high.append(ci[1] if ci else None)
    return {"recall": BAND_RECALLS.tolist(), "low": low, "high": high}


def threshold_at(point: OperatingPoint, recall: float) -> float | None:
    """The threshold of the curve's point nearest ``recall`` (picking a threshold by clicking the curve)."""
    recalls = point.curve["recall"]
    if not recalls:
        return None
    k = int(np.argmin(np.abs(np.asarray(recalls) - recall)))
    return float(point.curve["threshold"][k])


def thresholds_path(model_path: str | Path) -> Path:
    """Where a model's thresholds go: beside it, ``model.onnx`` -> ``model.onnx.thresholds.json`` (a TorchScript and
    an ONNX export of one name keep one each)."""
    path = Path(model_path).expanduser()
    return path.with_name(path.name + ".thresholds.json")


def thresholds_document(catalog: Catalog, run_id: int, target_precision: float = 0.6) -> dict:
    """The JSON exported beside a run's model: per label (in output order) the threshold to apply to its score,
    how it was chosen (saved with the run, else the smallest reaching ``target_precision`` on the test images) and
    the precision and recall it gave there; how scores come from the model's logits."""
    from core.analysis.review import thresholds as target_thresholds

    run = get_run(catalog, run_id)
    review = load_review(catalog, run_id)
    saved = saved_thresholds(catalog, run_id)
    at_target = {row["label"]: row for row in target_thresholds(review, target_precision)}
    truth, scores = review.truth_matrix, review.scores.astype(np.float64)
    labels = []
    for j, label in enumerate(run.labels):
        stored = saved.get(label.id)
        threshold = stored.threshold if stored else at_target[label.name]["threshold"]
        chosen = stored.chosen if stored else f"at {target_precision:.0%} precision"
        item: dict = {"index": j, "name": label.name, "threshold": threshold, "chosen": chosen}
        if threshold is None:
            item["chosen"] = f"no threshold reaches {target_precision:.0%} precision on the test images"
        else:
            above = scores[:, j] >= threshold
            hits = int((above & truth[:, j]).sum())
            item["test_precision"] = hits / int(above.sum()) if above.any() else None
            item["test_recall"] = hits / int(truth[:, j].sum()) if truth[:, j].any() else None
        labels.append(item)
    function = "sigmoid" if review.multi_label else "softmax"
    scale = f"{run.config.score_scale:g} * " if run.config.cosine_head else ""
    return {
        "run_id": run_id,
        "attribute": run.attribute,
        "scores": f"{function}({scale}logits)",
        "target_precision": target_precision,
        "labels": labels,
        "ignored": saved.ignored,
    }
