"""Metrics against scikit-learn and the formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, average_precision_score, balanced_accuracy_score, recall_score

from core.analysis.metrics import MAX_CURVE_POINTS, evaluate


def single_label_case(n=2000, c=10, seed=0):
    rng = np.random.default_rng(seed)
    p = 0.01 ** (np.arange(c) / (c - 1))
    y = rng.choice(c, n, p=p / p.sum())
    y[:c] = np.arange(c)  # every class present
    logits = rng.normal(0, 1, (n, c))
    logits[np.arange(n), y] += 1.5
    scores = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return y, scores


def multi_label_case(n=1500, c=8, seed=1):
    rng = np.random.default_rng(seed)
    truth = (rng.random((n, c)) < np.linspace(0.5, 0.02, c)).astype(int)
    truth[:c, :] = np.eye(c, dtype=int)
    scores = 1 / (1 + np.exp(-(rng.normal(0, 1, (n, c)) + 2 * truth - 1)))
    return truth, scores


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_single_label_metrics_agree_with_sklearn(seed):
    y, scores = single_label_case(seed=seed)
    result = evaluate(y, scores, multi_label=False)
    predicted = scores.argmax(axis=1)
    assert result["top1"] == pytest.approx(accuracy_score(y, predicted), abs=1e-9)
    assert result["acsa"] == pytest.approx(balanced_accuracy_score(y, predicted), abs=1e-9)
    recalls = recall_score(y, predicted, average=None)
    assert [p["accuracy"] for p in result["per_label"]] == pytest.approx(recalls.tolist(), abs=1e-9)
    assert result["gm"] == pytest.approx(np.prod(recalls) ** (1 / len(recalls)), abs=1e-9)
    for j, label in enumerate(result["per_label"]):
        assert label["ap"] == pytest.approx(average_precision_score(y == j, scores[:, j]), abs=1e-9)
        assert label["support"] == int((y == j).sum())
    assert result["macro_ap"] == pytest.approx(np.mean([p["ap"] for p in result["per_label"]]), abs=1e-12)
    onehot = np.eye(scores.shape[1])[y]
    assert result["micro_ap"] == pytest.approx(average_precision_score(onehot, scores, average="micro"), abs=1e-9)
    confusion = np.array(result["confusion"])
    assert confusion.sum() == len(y) and np.trace(confusion) == (predicted == y).sum()


def test_multi_label_metrics_agree_with_sklearn():
    truth, scores = multi_label_case()
    result = evaluate(truth, scores, multi_label=True)
    predicted = scores >= 0.5
    assert result["top1"] == pytest.approx(accuracy_score(truth, predicted), abs=1e-9)
    recalls = recall_score(truth, predicted, average=None)
    assert result["acsa"] == pytest.approx(recalls.mean(), abs=1e-9)
    assert result["gm"] == pytest.approx(np.prod(recalls) ** (1 / len(recalls)), abs=1e-9)
    per_label = average_precision_score(truth, scores, average=None)
    assert [p["ap"] for p in result["per_label"]] == pytest.approx(per_label.tolist(), abs=1e-9)
    assert result["macro_ap"] == pytest.approx(average_precision_score(truth, scores, average="macro"), abs=1e-9)
    assert result["micro_ap"] == pytest.approx(average_precision_score(truth, scores, average="micro"), abs=1e-9)
    assert 0 <= result["sample_f1"] <= 1 and 0 <= result["precision_at_1"] <= 1


def brute_force_threshold(positive, score, target):
    """The smallest score threshold t whose precision (score >= t) reaches the target, and its recall."""
    reaching = []  # the most recall, then the most precision (issue 26: not the smallest threshold)
    for t in np.unique(score):
        chosen = score >= t
        precision = positive[chosen].mean()
        if precision >= target:
            reaching.append((positive[chosen].sum() / positive.sum(), precision, t))
    if not reaching:
        return None, None
    recall, _precision, t = max(reaching)
    return t, recall


@pytest.mark.parametrize("target", [0.3, 0.6, 0.9, 0.999])
def test_threshold_at_target_precision(target):
    truth, scores = multi_label_case(n=400)
    result = evaluate(truth, scores, multi_label=True, target_precision=target)
    for j, label in enumerate(result["per_label"]):
        threshold, recall = brute_force_threshold(truth[:, j].astype(bool), scores[:, j], target)
        if threshold is None:
            assert label["threshold"] is None and label["recall"] is None
        else:
            assert label["threshold"] == pytest.approx(threshold, abs=1e-12)
            assert label["recall"] == pytest.approx(recall, abs=1e-12)


def test_pr_curves_are_downsampled_and_keep_their_ends():
    y, scores = single_label_case(n=5000)
    result = evaluate(y, scores, multi_label=False)
    for label in result["per_label"]:
        curve = label["pr_curve"]
        assert 2 <= len(curve["precision"]) == len(curve["recall"]) <= MAX_CURVE_POINTS
        assert curve["recall"][0] == 1.0 and curve["recall"][-1] == 0.0 and curve["precision"][-1] == 1.0


def test_label_without_positives_has_no_ap_and_does_not_crash():
    truth, scores = multi_label_case(n=300)
    truth[:, 3] = 0
    result = evaluate(truth, scores, multi_label=True)
    empty = result["per_label"][3]
    assert empty["support"] == 0 and empty["ap"] is None and empty["accuracy"] is None
    assert empty["threshold"] is None and empty["pr_curve"] is None
    assert result["macro_ap"] == pytest.approx(np.mean([p["ap"] for i, p in enumerate(result["per_label"]) if i != 3]))
    y, s = single_label_case(n=300, c=5)
    y[y == 4] = 0  # class 4 never in the test set
    single = evaluate(y, s, multi_label=False)
    assert single["per_label"][4]["ap"] is None
    with pytest.warns(UserWarning, match="y_pred contains classes not in y_true"):
        expected = balanced_accuracy_score(y, s.argmax(axis=1))
    assert single["acsa"] == pytest.approx(expected, abs=1e-9)


def test_gm_is_zero_when_a_label_is_never_recognised():
    y = np.array([0, 0, 1, 1, 2, 2])
    scores = np.array([[0.9, 0.1, 0], [0.8, 0.2, 0], [0.1, 0.9, 0], [0.2, 0.8, 0], [0.6, 0.4, 0], [0.7, 0.3, 0]])
    result = evaluate(y, scores, multi_label=False)
    assert result["gm"] == 0.0
    assert result["acsa"] == pytest.approx(2 / 3)
    assert result["per_label"][2]["accuracy"] == 0.0


def test_group_means():
    y, scores = single_label_case(c=6)
    groups = ["head", "head", "medium", "medium", "tail", "tail"]
    result = evaluate(y, scores, multi_label=False, groups=groups)
    for group, members in (("head", [0, 1]), ("medium", [2, 3]), ("tail", [4, 5])):
        summary = result["groups"][group]
        assert summary["labels"] == 2
        assert summary["ap"] == pytest.approx(np.mean([result["per_label"][j]["ap"] for j in members]))
        assert summary["accuracy"] == pytest.approx(np.mean([result["per_label"][j]["accuracy"] for j in members]))
    assert math.isfinite(result["groups"]["tail"]["accuracy"])


@pytest.mark.parametrize(
    "args, message",
    [
        ((np.array([0, 1]), np.zeros((2, 2, 1))), "N x C"),
        ((np.array([0, 5]), np.zeros((2, 3))), "out of range"),
        ((np.zeros((2, 2)), np.zeros((2, 3))), "single-label y_true"),
    ],
)
def test_bad_shapes_raise(args, message):
    with pytest.raises(ValueError, match=message):
        evaluate(*args, multi_label=False)
