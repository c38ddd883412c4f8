"""Post-hoc logit adjustment of stored scores, in NumPy (no torch): what ``tailor adjust`` records and what the
Runs tab's slider shows live. See :mod:`core.heads.adjust` for the method and its sources.

* :func:`prior`: the training label frequencies of a run's snapshot;
* :func:`offset`: what is added to the logits, ``-tau log(prior)`` (multi-label: of the prior odds);
* :func:`adjusted_scores`: stored softmax / sigmoid scores with their logits shifted (``log q`` recovers softmax
  logits up to a constant);
* :func:`evaluate_adjusted`: the metrics of the adjusted scores;
* :func:`slider_data`: everything the window needs to re-evaluate a finished run at any ``tau``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.analysis.imbalance import assign_groups
from core.analysis.metrics import evaluate
from core.base.errors import TailorError
from core.catalog import runs as store
from core.catalog.records import RunStatus
from core.catalog.snapshot import Snapshot
from core.catalog.store import Catalog

TAU_GRID = tuple(np.round(np.arange(0, 3.001, 0.25), 2))
TINY = 1e-30


def prior(snapshot: Snapshot) -> np.ndarray:
    """Training label frequencies: shares of the training labels (single-label) or of training images with each
    label (multi-label)."""
    counts = snapshot.counts("train").astype(np.float64)
    shares: np.ndarray = counts / counts.sum()
    if snapshot.multi_label:
        shares = np.clip(counts / max(1, len(snapshot.indices("train"))), 1e-6, 1 - 1e-6)
    return shares


def offset(frequencies: np.ndarray, tau: float, multi_label: bool) -> np.ndarray:
    """What is added to the logits: ``-tau log(prior)`` (single-label) or ``-tau log(prior odds)``."""
    logs: np.ndarray = np.log(frequencies / (1 - frequencies)) if multi_label else np.log(frequencies)
    return -tau * logs


def adjusted_scores(scores: np.ndarray, shift: np.ndarray, multi_label: bool) -> np.ndarray:
    """Stored scores (softmax or sigmoid outputs) with their logits shifted by ``shift``."""
    p = np.clip(scores.astype(np.float64), TINY, 1.0)
    if multi_label:
        p = np.clip(p, TINY, 1 - 1e-12)
        result: np.ndarray = 1 / (1 + np.exp(-(np.log(p) - np.log1p(-p) + shift)))
        return result
    z = np.log(p) + shift
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    normalised: np.ndarray = e / e.sum(axis=1, keepdims=True)
    return normalised


def evaluate_adjusted(
    scores: np.ndarray, truth: np.ndarray, snapshot: Snapshot, tau: float, target_precision: float
) -> tuple[dict, np.ndarray]:
    """Metrics and scores of ``scores`` adjusted with ``tau`` (what the window's slider shows)."""
    multi = snapshot.multi_label
    adjusted = adjusted_scores(scores, offset(prior(snapshot), tau, multi), multi) if tau else scores
    groups = assign_groups(snapshot.counts("train"))
    result = evaluate(truth, adjusted, multi_label=multi, target_precision=target_precision, groups=groups)
    return result, adjusted


@dataclass(frozen=True)
class SliderData:
    """A finished run's stored test scores and what re-evaluating them needs (plain data for the window)."""

    run_id: int
    name: str
    labels: list[str]
    train_counts: list[int]
    snapshot: Snapshot
    truth: np.ndarray
    scores: np.ndarray
    target_precision: float

    def at(self, tau: float) -> dict:
        """The metrics at ``tau`` (top-1, ACSA, GM, macro AP, per-label accuracy)."""
        return evaluate_adjusted(self.scores, self.truth, self.snapshot, tau, self.target_precision)[0]


def slider_data(catalog: Catalog, run_id: int) -> SliderData:
    run = store.get_run(catalog, run_id)
    if run.status != RunStatus.FINISHED:
        raise TailorError(f"run {run_id} is {run.status}; only a finished run can be adjusted")
    if run.config.posthoc:
        raise TailorError(f"run {run_id} is already adjusted (its base is run {run.base_run_id})")
    snapshot = store.load_snapshot(catalog, run_id)
    ids, _paths, _targets, scores = store.final_scores(catalog, run_id)
    order = {image_id: row for row, image_id in enumerate(ids)}
    test = [i for i in snapshot.indices("test") if snapshot.image_ids[i] in order]
    truth = snapshot.target_matrix(test) if snapshot.multi_label else snapshot.target_vector(test)
    rows = [order[snapshot.image_ids[i]] for i in test]
    return SliderData(
        run_id, store.display_name(run), [x.name for x in snapshot.labels],
        [int(n) for n in snapshot.counts("train")], snapshot, truth, scores[rows], run.config.target_precision,
    )  # fmt: skip
