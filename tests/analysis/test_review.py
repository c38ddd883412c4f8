"""Reviewing runs: confusion cells, false positives/negatives, A-right-B-wrong, thresholds at a target precision."""

from __future__ import annotations

import numpy as np
import pytest

from core.analysis.metrics import evaluate
from core.analysis.review import (
    Review,
    cell,
    confusion,
    false_negatives,
    false_positives,
    load_review,
    misclassified,
    right_in_a_wrong_in_b,
    thresholds,
)
from core.base.errors import TailorError
from core.catalog.store import Catalog
from core.training.loop import train
from tests.training.test_training import config, shapes  # noqa: F401 - the fixture

LABELS = ["a", "b", "c"]


def single(scores, truth, run_id=1) -> Review:
    scores = np.asarray(scores, dtype=np.float32)
    n = len(scores)
    return Review(
        run_id,
        "attr",
        False,
        LABELS,
        [10, 11, 12],
        list(range(100, 100 + n)),
        [f"img{i}.png" for i in range(n)],
        [(t,) for t in truth],
        scores,
    )


def test_confusion_cells_and_misclassified_single_label():
    review = single(
        [[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.6, 0.3, 0.1], [0.1, 0.2, 0.7], [0.9, 0.05, 0.05], [0.3, 0.3, 0.4]],
        truth=[0, 1, 1, 2, 1, 1],
    )
    matrix = confusion(review)
    assert matrix.tolist() == [[1, 0, 0], [2, 1, 1], [0, 0, 1]]
    assert matrix.tolist() == evaluate(np.array([0, 1, 1, 2, 1, 1]), review.scores, multi_label=False)["confusion"]
    items = cell(review, 1, 0)  # b predicted as a: rows 2 (0.6) and 4 (0.9), most confident first
    assert [i.image_id for i in items] == [104, 102]
    assert items[0].truth == ("b",) and items[0].predicted == ("a",) and items[0].confidence == pytest.approx(0.9)
    wrong = misclassified(review)
    assert sorted(i.image_id for i in wrong) == [102, 104, 105]
    assert cell(review, 0, 0)[0].image_id == 100  # the diagonal lists the right ones


def test_false_positives_and_negatives_multi_label():
    scores = np.array([[0.9, 0.2, 0.6], [0.4, 0.8, 0.1], [0.7, 0.1, 0.3], [0.1, 0.45, 0.9]], dtype=np.float32)
    targets = [(0,), (0, 1), (1,), (2,)]
    review = Review(1, "style", True, LABELS, [1, 2, 3], [1, 2, 3, 4], ["p"] * 4, targets, scores)
    assert [i.image_id for i in false_positives(review, 0)] == [3]  # 0.7 without label a
    assert [i.image_id for i in false_positives(review, 2)] == [1]
    assert [i.image_id for i in false_negatives(review, 0)] == [2]  # a scored 0.4
    fn_b = false_negatives(review, 1)
    assert [i.image_id for i in fn_b] == [3] and fn_b[0].confidence == pytest.approx(0.9)
    assert [i.image_id for i in false_negatives(review, 1, threshold=0.95)] == [3, 2]  # 0.9 then 0.2 confident
    assert {i.image_id for i in misclassified(review)} == {1, 2, 3}  # image 4 is right on every label
    with pytest.raises(TailorError):
        confusion(review)


def test_right_in_a_wrong_in_b():
    truth = [0, 1, 2, 1]
    a = single([[0.9, 0.05, 0.05], [0.1, 0.8, 0.1], [0.5, 0.2, 0.3], [0.2, 0.6, 0.2]], truth, run_id=1)
    b = single([[0.9, 0.05, 0.05], [0.7, 0.2, 0.1], [0.5, 0.2, 0.3], [0.1, 0.1, 0.8]], truth, run_id=2)
    items = right_in_a_wrong_in_b(a, b)
    assert [i.image_id for i in items] == [103, 101]  # b's most confident mistake (0.8) first
    assert items[1].predicted == ("a",)
    assert right_in_a_wrong_in_b(b, a) == []  # row 2 is wrong in both


def test_thresholds_follow_the_target_precision():
    rng = np.random.default_rng(1)
    truth = rng.integers(0, 3, 300)
    scores = rng.dirichlet(np.ones(3), 300)
    scores[np.arange(300), truth] += 0.3
    scores /= scores.sum(axis=1, keepdims=True)
    review = single(scores, truth.tolist())
    for target in (0.6, 0.8):
        points = thresholds(review, target)
        metrics = evaluate(truth, review.scores.astype(np.float64), multi_label=False, target_precision=target)
        for point, label in zip(points, metrics["per_label"]):
            assert point["threshold"] == pytest.approx(label["threshold"])
            assert point["recall"] == pytest.approx(label["recall"])
    strict, loose = thresholds(review, 0.95), thresholds(review, 0.5)
    assert all(s["recall"] is None or s["recall"] <= l["recall"] for s, l in zip(strict, loose))
    with pytest.raises(TailorError):
        thresholds(review, 1.5)


def test_group_pr_curves_are_pooled_over_the_group():
    rng = np.random.default_rng(2)
    truth = rng.integers(0, 3, 200)
    scores = rng.dirichlet(np.ones(3), 200)
    metrics = evaluate(truth, scores, multi_label=False, groups=["head", "medium", "tail"])
    for group in ("head", "medium", "tail"):
        curve = metrics["groups"][group]["pr_curve"]
        assert curve is not None and len(curve["precision"]) == len(curve["recall"]) >= 2


def test_review_of_a_real_run_matches_its_recorded_metrics(shapes):  # noqa: F811 - the fixture
    events = list(train(shapes, config(epochs=1)))
    run_id = events[0].run_id
    with Catalog(shapes) as cat:
        review = load_review(cat, run_id)
        from core.catalog.runs import get_run

        last = get_run(cat, run_id).metrics.last
    assert confusion(review).tolist() == last["confusion"]
    off_diagonal = sum(v for i, row in enumerate(last["confusion"]) for j, v in enumerate(row) if i != j)
    assert len(misclassified(review)) == off_diagonal
    assert review.label_ids and len(review.label_ids) == len(review.labels) == 3


def test_a_mistake_has_one_confidence_in_every_list_multi_label():
    scores = np.array([[0.9, 0.2, 0.6], [0.4, 0.8, 0.1], [0.7, 0.1, 0.3]], dtype=np.float32)
    targets = [(0,), (0, 1), (1,)]
    right = Review(
        1,
        "style",
        True,
        LABELS,
        [1, 2, 3],
        [1, 2, 3],
        ["p"] * 3,
        targets,
        np.array([[0.9, 0.1, 0.1], [0.9, 0.9, 0.1], [0.1, 0.9, 0.1]], dtype=np.float32),
    )
    wrong = Review(2, "style", True, LABELS, [1, 2, 3], [1, 2, 3], ["p"] * 3, targets, scores)
    everything = {item.image_id: item.confidence for item in misclassified(wrong)}
    versus = {item.image_id: item.confidence for item in right_in_a_wrong_in_b(right, wrong)}
    assert versus == everything  # image 1: its wrong label c scored 0.6, not its right label a's 0.9
    assert [everything[i] for i in (1, 2, 3)] == pytest.approx([0.6, 0.6, 0.9])
