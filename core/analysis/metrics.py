"""Evaluation metrics of the long-tail literature, computed with scikit-learn.

``evaluate(y_true, scores, multi_label=..., target_precision=0.6, groups=None)``; ``scores`` are N x C
probabilities (softmax for single-label, sigmoid for multi-label; AP and PR curves only need a per-label ranking,
but thresholds are reported in score units). Returned keys:

``top1``
    Single-label: accuracy of the arg-max. Multi-label: exact-match ratio (every label right at threshold 0.5,
    scikit-learn's subset accuracy); ``sample_f1`` (sample-averaged F1 at 0.5) and ``precision_at_1`` (the
    top-scored label is a true one) are given beside it.
``acsa``
    Average class-specific accuracy: the mean over labels of per-label recall (single-label: of the arg-max, equal
    to ``balanced_accuracy_score``; multi-label: at threshold 0.5). Labels with no positive in ``y_true`` are left
    out (their recall is undefined).
``gm``
    Geometric mean of the same per-label recalls; 0 as soon as one label has recall 0 (the product is 0), which is
    what makes GM a harsh tail metric.
``macro_ap`` / ``micro_ap``
    Mean of the per-label average precisions (labels with positives only) / AP of all (label, image) pairs pooled.
``per_label``
    One entry per label, in label order: ``support`` (positives in y_true), ``accuracy`` (recall as above, None
    without positives), ``ap`` (``average_precision_score``; None without positives: AP is undefined there, not 0),
    ``threshold`` and ``recall`` at the threshold reaching ``target_precision`` with the most recall (see target_index)
    (None when no threshold does), and ``pr_curve`` (``precision`` and ``recall`` lists, at most ~200 points).
``groups`` (with ``groups=[head|medium|tail per label]``)
    Per group: number of labels, the means of accuracy and AP over its labels with positives, and ``pr_curve``:
    the PR curve of the group's (image, label) pairs pooled (None without positives).
``confusion`` (single-label)
    The C x C confusion matrix (rows: true label, columns: predicted).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable
from typing import Any

import numpy as np
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import accuracy_score, average_precision_score, confusion_matrix, f1_score, precision_recall_curve

MAX_CURVE_POINTS = 200


def _downsample(precision: np.ndarray, recall: np.ndarray, limit: int = MAX_CURVE_POINTS) -> dict:
    if len(precision) > limit:
        index = np.unique(np.round(np.linspace(0, len(precision) - 1, limit)).astype(int))
        precision, recall = precision[index], recall[index]
    return {"precision": precision.tolist(), "recall": recall.tolist()}


def average_precision_from_curve(precision: np.ndarray, recall: np.ndarray) -> float:
    """``average_precision_score`` from the curve ``precision_recall_curve`` gave (scikit-learn's own step sum):
    one pass over the scores for both."""
    return float(-np.sum(np.diff(recall) * np.asarray(precision)[:-1]))


def label_operating_point(positive: np.ndarray, score: np.ndarray, target_precision: float) -> dict:
    """AP, the operating point at ``target_precision`` and the PR curve of one label."""
    if not positive.any():
        return {"ap": None, "threshold": None, "recall_at_threshold": None, "pr_curve": None}
    precision, recall, thresholds = precision_recall_curve(positive, score)
    ap = average_precision_from_curve(precision, recall)
    # precision/recall have one more point than thresholds (the final precision 1, recall 0 point)
    chosen = target_index(precision, recall, target_precision)
    threshold = recall_at = None
    if chosen is not None:
        threshold, recall_at = float(thresholds[chosen]), float(recall[chosen])
    return {
        "ap": ap,
        "threshold": threshold,
        "recall_at_threshold": recall_at,
        "pr_curve": _downsample(precision, recall),
    }


def target_index(precision: np.ndarray, recall: np.ndarray, target_precision: float) -> int | None:
    """The index (into scikit-learn's ``precision_recall_curve`` thresholds, which increase) of the threshold at
    ``target_precision``: the largest recall reaching it and, among thresholds of that recall, the highest
    precision (a lower threshold with the same recall only adds false positives). None when none reaches it."""
    reached = np.flatnonzero(precision[:-1] >= target_precision)
    if not reached.size:
        return None
    best_recall = recall[reached[0]]  # recall falls as the threshold rises: the smallest threshold has the most
    same = reached[recall[reached] == best_recall]
    return int(same[np.argmax(precision[same])])


def _geometric_mean(values: list[float]) -> float | None:
    if not values:
        return None
    if min(values) <= 0:
        return 0.0
    return float(math.exp(sum(math.log(v) for v in values) / len(values)))


def _mean(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return float(np.mean(present)) if present else None


def evaluate(
    y_true: Any,
    scores: Any,
    *,
    multi_label: bool,
    target_precision: float = 0.6,
    groups: list[str] | None = None,
    curves: bool = True,
) -> dict:
    """Evaluate ``scores`` against ``y_true``; see the module docstring for every key. ``curves=False`` (the
    intermediate epochs of a head-only run, a few a second): per-label AP from the bootstrap's exact step sum
    (equal to scikit-learn's, one pass for all labels), and no PR curves, thresholds or micro AP."""
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 2 or scores.shape[0] == 0:
        raise ValueError(f"scores must be a non-empty N x C array, got shape {scores.shape}")
    n, c = scores.shape
    if not 0 < target_precision <= 1:
        raise ValueError(f"target_precision must be in (0, 1], got {target_precision}")
    y, truth, predicted = _truth_and_predictions(y_true, scores, multi_label)
    support = truth.sum(axis=0)
    hits = (truth & predicted).sum(axis=0)
    accuracy = [float(hits[j] / support[j]) if support[j] else None for j in range(c)]
    if curves:
        per_label, micro_ap = _per_label(truth, scores, support, accuracy, target_precision)
    else:
        per_label, micro_ap = _per_label_without_curves(truth, scores, support, accuracy), None
    recalls = [a for a in accuracy if a is not None]
    result: dict[str, Any] = {
        "multi_label": multi_label,
        "n": int(n),
        "num_labels": int(c),
        "target_precision": float(target_precision),
        "acsa": _mean(recalls),
        "gm": _geometric_mean(recalls),
        "macro_ap": _mean(p["ap"] for p in per_label),
        "micro_ap": micro_ap,
        "per_label": per_label,
        "curves": curves,
    }
    if multi_label:
        result["top1"] = float(accuracy_score(truth, predicted))
        result["sample_f1"] = float(f1_score(truth, predicted, average="samples", zero_division=0))
        result["precision_at_1"] = float(truth[np.arange(n), scores.argmax(axis=1)].mean())
    else:
        predicted_index = scores.argmax(axis=1)
        result["top1"] = float(accuracy_score(y, predicted_index))
        result["confusion"] = confusion_matrix(y, predicted_index, labels=np.arange(c)).tolist()
    if groups is not None:
        result["groups"] = _groups(groups, truth, scores, accuracy, per_label, curves)
    return result


def _truth_and_predictions(y_true: Any, scores: np.ndarray, multi_label: bool) -> tuple[np.ndarray, ...]:
    """The labels as given (checked), and N x C booleans of the truth and of the predictions (sigmoid >= 0.5, or
    the argmax)."""
    n, c = scores.shape
    y = np.asarray(y_true)
    if multi_label:
        if y.shape != scores.shape:
            raise ValueError(f"multi-label y_true must be N x C like scores {scores.shape}, got {y.shape}")
        return y, y.astype(bool), scores >= 0.5
    if y.shape != (n,):
        raise ValueError(f"single-label y_true must be {n} class indices, got shape {y.shape}")
    y = y.astype(np.int64)
    if y.min() < 0 or y.max() >= c:
        raise ValueError(f"class index out of range 0..{c - 1} in y_true")
    truth = np.zeros((n, c), dtype=bool)
    truth[np.arange(n), y] = True
    predicted = np.zeros((n, c), dtype=bool)
    predicted[np.arange(n), scores.argmax(axis=1)] = True
    return y, truth, predicted


def _per_label(
    truth: np.ndarray, scores: np.ndarray, support: np.ndarray, accuracy: list[float | None], target_precision: float
) -> tuple[list[dict], float | None]:
    """Each label's support, accuracy, AP, operating point and PR curve; and the micro AP."""
    per_label = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        for j in range(scores.shape[1]):
            curve = label_operating_point(truth[:, j], scores[:, j], target_precision)
            per_label.append(
                {
                    "support": int(support[j]),
                    "accuracy": accuracy[j],
                    "ap": curve["ap"],
                    "threshold": curve["threshold"],
                    "recall": curve["recall_at_threshold"],
                    "pr_curve": curve["pr_curve"],
                }
            )
        micro_ap = float(average_precision_score(truth.ravel(), scores.ravel())) if truth.any() else None
    return per_label, micro_ap


def _per_label_without_curves(
    truth: np.ndarray, scores: np.ndarray, support: np.ndarray, accuracy: list[float | None]
) -> list[dict]:
    from core.analysis.bootstrap import average_precision

    ones = np.ones((1, len(scores)), dtype=np.float32)
    result = []
    for j in range(scores.shape[1]):
        ap = float(average_precision(ones, truth[:, j], scores[:, j])[0]) if support[j] else None
        result.append({"support": int(support[j]), "accuracy": accuracy[j], "ap": ap, "threshold": None,
                       "recall": None, "pr_curve": None})  # fmt: skip
    return result


def _groups(
    groups: list[str],
    truth: np.ndarray,
    scores: np.ndarray,
    accuracy: list[float | None],
    per_label: list[dict],
    curves: bool = True,
) -> dict[str, dict]:
    """Head / medium / tail means, and each group's labels pooled into one PR curve (the source paper's figures)."""
    c = scores.shape[1]
    if len(groups) != c:
        raise ValueError(f"groups must name a group for each of the {c} labels, got {len(groups)}")
    result = {}
    for group in dict.fromkeys(groups):
        members = [j for j in range(c) if groups[j] == group]
        pooled_truth, pooled_scores = truth[:, members].ravel(), scores[:, members].ravel()
        pooled = None
        if pooled_truth.any() and curves:
            precision, recall, _ = precision_recall_curve(pooled_truth, pooled_scores)
            pooled = _downsample(precision, recall)
        result[group] = {
            "labels": len(members),
            "accuracy": _mean(accuracy[j] for j in members),
            "ap": _mean(per_label[j]["ap"] for j in members),
            "pr_curve": pooled,
        }
    return result
