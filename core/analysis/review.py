"""Reviewing a finished run: its test images, what the final model predicted, and where it was wrong.

Everything is computed from what the run recorded (the test images' targets and the final model's scores), so a
review never needs torch or the model. Targets are label positions in the run's label list; the run's labels
carry their catalog ids so a fix goes back to the catalog through :mod:`core.catalog.edits`.

* single-label: the confusion matrix, and the images of one cell (true label i predicted as j), most confident
  mistake first;
* multi-label: the false positives (score >= threshold, label absent) and false negatives of one label;
* between two runs of the same test set: the images run A gets right and run B gets wrong (the source paper's
  Fig. 4);
* per-label thresholds at any target precision, with the recall they keep.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.base.errors import TailorError
from core.catalog.records import Kind, RunStatus
from core.catalog.runs import final_scores, get_run
from core.catalog.store import Catalog


@dataclass(frozen=True)
class ReviewItem:
    """One test image of a run: what it is, what the model said, how sure the model was of its mistake."""

    image_id: int
    path: str
    truth: tuple[str, ...]
    predicted: tuple[str, ...]
    confidence: float  # the score behind the wrong decision (1 - score for a missed label)


@dataclass
class Review:
    run_id: int
    attribute: str
    multi_label: bool
    labels: list[str]
    label_ids: list[int]
    image_ids: list[int]
    paths: list[str]
    targets: list[tuple[int, ...]]
    scores: np.ndarray  # N x C

    @property
    def truth_matrix(self) -> np.ndarray:
        truth = np.zeros(self.scores.shape, dtype=bool)
        for row, target in enumerate(self.targets):
            truth[row, list(target)] = True
        return truth

    def predicted_matrix(self, threshold: float = 0.5) -> np.ndarray:
        if self.multi_label:
            return self.scores >= threshold
        predicted = np.zeros(self.scores.shape, dtype=bool)
        if len(self.scores):
            predicted[np.arange(len(self.scores)), self.scores.argmax(axis=1)] = True
        return predicted

    def correct(self, threshold: float = 0.5) -> np.ndarray:
        """Per image: right (single-label: arg-max is the label; multi-label: every label right at threshold)."""
        return np.asarray((self.truth_matrix == self.predicted_matrix(threshold)).all(axis=1))

    def mistake_confidence(self, row: int) -> float:
        """How sure the model was of a wrong image's decision: single-label, the winning score; multi-label, the
        score furthest from 0.5 among its wrong labels (at threshold 0.5), as a probability in [0.5, 1]."""
        scores = self.scores[row]
        if not self.multi_label:
            return float(scores.max())
        truth = np.zeros(len(scores), dtype=bool)
        truth[list(self.targets[row])] = True
        wrong = truth != (scores >= 0.5)
        return float(np.abs(scores - 0.5)[wrong].max()) + 0.5

    def _item(self, row: int, confidence: float, threshold: float = 0.5) -> ReviewItem:
        scores = self.scores[row]
        predicted = np.flatnonzero(scores >= threshold) if self.multi_label else [int(scores.argmax())]
        return ReviewItem(
            self.image_ids[row],
            self.paths[row],
            tuple(self.labels[j] for j in self.targets[row]),
            tuple(self.labels[j] for j in predicted),
            float(confidence),
        )


def load_review(catalog: Catalog, run_id: int) -> Review:
    run = get_run(catalog, run_id)
    if run.status != RunStatus.FINISHED:
        raise TailorError(f"run {run_id} is {run.status}; only finished runs have predictions to review")
    image_ids, paths, targets, scores = final_scores(catalog, run_id)
    return Review(
        run.id,
        run.attribute,
        run.kind == Kind.MULTI,
        [label.name for label in run.labels],
        [label.id for label in run.labels],
        image_ids,
        paths,
        targets,
        scores,
    )


def confusion(review: Review) -> np.ndarray:
    """C x C counts, rows: true label, columns: predicted label (single-label runs)."""
    if review.multi_label:
        raise TailorError("a confusion matrix needs a single-label run; use false positives / negatives")
    c = len(review.labels)
    matrix = np.zeros((c, c), dtype=np.int64)
    if len(review.scores):
        truth = np.array([t[0] for t in review.targets])
        np.add.at(matrix, (truth, review.scores.argmax(axis=1)), 1)
    return matrix


def cell(review: Review, true_label: int, predicted_label: int) -> list[ReviewItem]:
    """The images of true label ``true_label`` predicted as ``predicted_label``, most confident first."""
    if review.multi_label:
        raise TailorError("confusion cells need a single-label run")
    rows = [
        r
        for r, t in enumerate(review.targets)
        if t[0] == true_label and int(review.scores[r].argmax()) == predicted_label
    ]
    items = [review._item(r, review.scores[r, predicted_label]) for r in rows]
    return sorted(items, key=lambda item: -item.confidence)


def misclassified(review: Review) -> list[ReviewItem]:
    """Every wrong test image (single-label: off the diagonal), most confident mistake first."""
    items = [review._item(int(r), review.mistake_confidence(int(r))) for r in np.flatnonzero(~review.correct())]
    return sorted(items, key=lambda item: -item.confidence)


def false_positives(review: Review, label: int, threshold: float = 0.5) -> list[ReviewItem]:
    """Multi-label: images scored >= threshold for ``label`` without it, highest score first."""
    truth = review.truth_matrix[:, label]
    rows = np.flatnonzero(~truth & (review.scores[:, label] >= threshold))
    items = [review._item(int(r), review.scores[r, label], threshold) for r in rows]
    return sorted(items, key=lambda item: -item.confidence)


def false_negatives(review: Review, label: int, threshold: float = 0.5) -> list[ReviewItem]:
    """Multi-label: images with ``label`` scored below threshold, lowest score (most confident miss) first."""
    truth = review.truth_matrix[:, label]
    rows = np.flatnonzero(truth & (review.scores[:, label] < threshold))
    items = [review._item(int(r), 1.0 - review.scores[r, label], threshold) for r in rows]
    return sorted(items, key=lambda item: -item.confidence)


def right_in_a_wrong_in_b(a: Review, b: Review) -> list[ReviewItem]:
    """Test images run ``a`` gets right and run ``b`` gets wrong (b's prediction shown), b's most confident first.

    Both runs must be of one attribute; images are matched by id, so runs on different splits compare on the
    images they share."""
    if a.attribute != b.attribute:
        raise TailorError(f"runs {a.run_id} ({a.attribute}) and {b.run_id} ({b.attribute}) are of different attributes")
    if a.labels != b.labels:
        raise TailorError(
            f"runs {a.run_id} and {b.run_id} have different label lists; compare runs trained on the same labels"
        )
    right_a = {a.image_ids[r] for r in np.flatnonzero(a.correct())}
    wrong_b = np.flatnonzero(~b.correct())
    items = [b._item(int(r), b.mistake_confidence(int(r))) for r in wrong_b if b.image_ids[r] in right_a]
    return sorted(items, key=lambda item: -item.confidence)


def thresholds(review: Review, target_precision: float = 0.6) -> list[dict]:
    """Per label: the threshold reaching ``target_precision`` on the test set with the most recall (then the most
    precision) and its recall (None when no threshold reaches it), with the AP and the number of positives."""
    if not 0 < target_precision <= 1:
        raise TailorError(f"target precision must be in (0, 1], got {target_precision}")
    from core.analysis.metrics import (
        label_operating_point,  # scikit-learn: not imported with the window (start-up time)
    )

    truth = review.truth_matrix
    result = []
    for j, name in enumerate(review.labels):
        point = label_operating_point(truth[:, j], review.scores[:, j].astype(np.float64), target_precision)
        result.append(
            {
                "label": name,
                "positives": int(truth[:, j].sum()),
                "ap": point["ap"],
                "threshold": point["threshold"],
                "recall": point["recall_at_threshold"],
            }
        )
    return result


def label_thresholds(catalog: Catalog, run_id: int, target_precision: float = 0.6) -> dict[int, float | None]:
    """Label id -> the threshold accepting predictions "at 60% precision" uses: the one saved with the run (picked
    on its PR curve in the Runs tab, or by ``tailor thresholds``), else the threshold reaching ``target_precision``
    on the run's test images with the most recall, then the most precision (None: none reaches it)."""
    from core.catalog.run_thresholds import saved_thresholds

    run = get_run(catalog, run_id)
    saved = saved_thresholds(catalog, run_id)
    by_name = {row["label"]: row["threshold"] for row in thresholds(load_review(catalog, run_id), target_precision)}
    return {
        label.id: saved[label.id].threshold if label.id in saved else by_name.get(label.name) for label in run.labels
    }
