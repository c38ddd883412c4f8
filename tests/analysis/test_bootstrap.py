"""Bootstrap intervals: the point values equal the metrics the runs record, AP under resample counts equals
scikit-learn's on the repeated images, resamples keep every label's count, paired differences of a run with itself
are exactly zero, and 95% intervals cover a known per-class accuracy about 95% of the time."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score

from core.analysis import bootstrap
from core.analysis.bootstrap import (
    average_precision,
    intervals,
    paired_intervals,
    resample_counts,
    strata,
)
from core.analysis.metrics import evaluate


def scores_for(rng, truth, num_labels, skill=2.0):
    logits = rng.normal(0, 1, (len(truth), num_labels))
    logits[np.arange(len(truth)), truth] += skill
    logits = np.round(logits, 1)  # ties, as real float16 features give
    e = np.exp(logits)
    return e / e.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("block", [2_000, 7])  # the sparse product in one call, and in many row blocks
def test_ap_under_counts_equals_scikit_learn_on_the_repeated_images(block, monkeypatch):
    monkeypatch.setattr(bootstrap, "PRODUCT_BLOCK_ENTRIES", block)
    rng = np.random.default_rng(0)
    positive = rng.random(300) < 0.2
    score = np.round(rng.random(300), 2)  # many ties
    ones = np.ones((1, 300), dtype=np.float32)
    assert average_precision(ones, positive, score)[0] == pytest.approx(average_precision_score(positive, score))
    counts = rng.integers(0, 4, (3, 300)).astype(np.float32)
    for row in counts:
        repeated = np.repeat(np.arange(300), row.astype(int))
        expected = average_precision_score(positive[repeated], score[repeated])
        assert average_precision(row[None, :], positive, score)[0] == pytest.approx(expected)


def test_point_values_are_the_recorded_metrics_and_resamples_keep_each_labels_count():
    rng = np.random.default_rng(1)
    truth = np.repeat(np.arange(5), [200, 80, 30, 8, 3])
    scores = scores_for(rng, truth, 5)
    recorded = evaluate(truth, scores, multi_label=False)
    result = intervals(truth, scores, multi_label=False, resamples=300)
    for key in ("top1", "acsa", "gm", "macro_ap"):
        assert result[key].value == pytest.approx(recorded[key]), key
        assert result[key].low <= result[key].value <= result[key].high
    for j, item in enumerate(recorded["per_label"]):
        assert result["ap"][j].value == pytest.approx(item["ap"])
        assert result["accuracy"][j].value == pytest.approx(item["accuracy"])
    counts = resample_counts(strata(truth, False), 50, seed=3)
    for label, n in enumerate([200, 80, 30, 8, 3]):
        assert np.all(counts[truth == label].sum(axis=0) == n)
    again = intervals(truth, scores, multi_label=False, resamples=300)
    assert again == result  # seeded


def test_paired_differences_of_a_run_with_itself_are_zero_and_a_better_run_is_marked():
    rng = np.random.default_rng(2)
    truth = np.repeat(np.arange(3), [300, 100, 40])
    weak, strong = scores_for(rng, truth, 3, 0.5), scores_for(rng, truth, 3, 3.0)
    same = paired_intervals(truth, weak, weak, multi_label=False, resamples=200)
    assert (same["acsa"].low, same["acsa"].high) == (0.0, 0.0)
    better = paired_intervals(truth, weak, strong, multi_label=False, resamples=500)
    assert better["acsa"].low > 0 and better["top1"].low > 0


def test_multi_label_intervals():
    rng = np.random.default_rng(4)
    truth = (rng.random((200, 3)) < [0.5, 0.2, 0.05]).astype(np.float32)
    scores = np.clip(truth * 0.6 + rng.random((200, 3)) * 0.5, 0, 1)
    result = intervals(truth, scores, multi_label=True, resamples=200)
    expected = [average_precision_score(truth[:, j], scores[:, j]) for j in range(3)]
    assert [i.value for i in result["ap"]] == pytest.approx(expected)
    assert all(i.low <= i.value <= i.high for i in result["ap"])
    recorded = evaluate(truth, scores, multi_label=True)
    for key in ("top1", "acsa", "gm", "macro_ap"):  # exact match, recall at 0.5 and their means, as recorded
        assert result[key].value == pytest.approx(recorded[key]), key
        assert result[key].low <= result[key].value <= result[key].high
    assert [i.value for i in result["accuracy"]] == pytest.approx([p["accuracy"] for p in recorded["per_label"]])


def test_95_percent_intervals_cover_a_known_per_class_accuracy_93_to_97_percent_of_the_time():
    """500 simulated test sets, each label's images right with a known probability; the interval of each label's
    accuracy must contain that probability in 93-97% of them."""
    rng = np.random.default_rng(5)
    truth = np.repeat([0, 1], [120, 60])
    # off the grid of attainable accuracies (k/120, k/60): a truth on it would sit on interval ends, counted inside
    true_accuracy = np.array([0.77, 0.63])
    covered = np.zeros(2)
    for repetition in range(500):
        right = rng.random(len(truth)) < true_accuracy[truth]
        predicted = np.where(right, truth, 1 - truth)
        scores = np.eye(2)[predicted] * 0.9 + 0.05
        result = intervals(truth, scores, multi_label=False, resamples=1000, seed=repetition)
        for label in (0, 1):
            item = result["accuracy"][label]
            covered[label] += item.low <= true_accuracy[label] <= item.high
    coverage = covered / 500
    assert np.all((coverage >= 0.93) & (coverage <= 0.97)), coverage
