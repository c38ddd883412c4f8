"""Out-of-sample scores by K-fold cross-fitting of a linear head on stored features.

Every labeled image gets its scores from a head that never saw it: the images are cut into K folds (stratified by
label; a multi-label image by its rarest label, so each fold holds some of every rare label), and for each fold a
head is trained on the other K - 1 and scores the held-out one. This is what cleanlab's
``estimate_cv_predicted_probabilities`` does with a scikit-learn model; here the model is the project's head on the
feature store, so five folds on 12,000 images take seconds on a CPU. The head: features standardised by the
training folds' mean and deviation, a linear layer trained with Adam on plain cross-entropy (single-label) or
binary cross-entropy (multi-label), mini-batches of 256, 30 epochs and at least 300 steps, weight decay. Plain
losses on purpose: cleanlab reads these scores as probabilities, and re-weighted losses skew them towards rare
labels.
"""

from __future__ import annotations

import threading
from collections.abc import Generator
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from core.base.errors import TailorError


@dataclass(frozen=True)
class CrossFit:
    folds: int = 5
    seed: int = 0
    epochs: int = 30
    lr: float = 1e-3
    weight_decay: float = 1e-4
    batch_size: int = 256
    min_steps: int = 300  # small catalogs: at least this many optimiser steps, however few the batches


@dataclass(frozen=True)
class FoldProgress:
    """Folds finished (of ``total``)."""

    run_id: int
    done: int
    total: int


def fold_of(targets: list[tuple[int, ...]], num_labels: int, folds: int, seed: int) -> np.ndarray:
    """Each image's fold: stratified by its rarest label (its only label on a single-label attribute), the
    images of each label dealt round-robin after a seeded shuffle."""
    if len(targets) < folds:
        raise TailorError(f"cross-fitting {folds} folds needs at least {folds} labeled images, got {len(targets)}")
    counts = np.bincount([t for labels in targets for t in labels], minlength=num_labels)
    rarest = np.array([min(labels, key=lambda t: (counts[t], t)) for labels in targets])
    rng = np.random.default_rng(seed)
    result = np.empty(len(targets), dtype=np.int64)
    offset = 0
    for label in range(num_labels):
        members = np.flatnonzero(rarest == label)
        rng.shuffle(members)
        result[members] = (offset + np.arange(len(members))) % folds
        offset += len(members)  # the next label starts where this one stopped: folds stay even in size
    return result


def out_of_sample(
    features: np.ndarray,
    targets: list[tuple[int, ...]],
    num_labels: int,
    *,
    multi_label: bool,
    settings: CrossFit = CrossFit(),
    cancel: threading.Event | None = None,
    run_id: int = 0,
) -> Generator[FoldProgress, None, np.ndarray | None]:
    """Out-of-sample probabilities (N x C float64, the order of ``features``); None when cancelled."""
    folds = fold_of(targets, num_labels, settings.folds, settings.seed)
    truth = _truth(targets, num_labels, multi_label)
    x_all = torch.from_numpy(np.asarray(features, dtype=np.float32))
    scores = np.zeros((len(targets), num_labels), dtype=np.float64)
    yield FoldProgress(run_id, 0, settings.folds)
    for k in range(settings.folds):
        held = np.flatnonzero(folds == k)
        fit = np.flatnonzero(folds != k)
        if cancel is not None and cancel.is_set():
            return None
        head, mean, std = _fit(x_all[fit], truth[fit], num_labels, multi_label, settings, k)
        with torch.inference_mode():
            logits = head((x_all[held] - mean) / std)
            probabilities = torch.sigmoid(logits) if multi_label else torch.softmax(logits, dim=1)
        scores[held] = probabilities.double().numpy()
        yield FoldProgress(run_id, k + 1, settings.folds)
    return scores


def _truth(targets: list[tuple[int, ...]], num_labels: int, multi_label: bool) -> torch.Tensor:
    if not multi_label:
        return torch.tensor([labels[0] for labels in targets], dtype=torch.long)
    matrix = torch.zeros((len(targets), num_labels))
    for i, labels in enumerate(targets):
        matrix[i, list(labels)] = 1.0
    return matrix


def _fit(
    x: torch.Tensor, y: torch.Tensor, num_labels: int, multi_label: bool, settings: CrossFit, fold: int
) -> tuple[nn.Linear, torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(settings.seed * 1000 + fold)
    mean, std = x.mean(0), x.std(0).clamp_min(1e-6)
    x = (x - mean) / std
    torch.manual_seed(settings.seed * 1000 + fold)
    head = nn.Linear(x.shape[1], num_labels)
    optimiser = torch.optim.Adam(head.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    batches = -(-len(x) // settings.batch_size)
    for _ in range(max(settings.epochs, -(-settings.min_steps // batches))):
        order = torch.randperm(len(x), generator=generator)
        for start in range(0, len(x), settings.batch_size):
            rows = order[start : start + settings.batch_size]
            logits = head(x[rows])
            if multi_label:
                loss = F.binary_cross_entropy_with_logits(logits, y[rows])
            else:
                loss = F.cross_entropy(logits, y[rows])
            optimiser.zero_grad(set_to_none=True)
            loss.backward()  # type: ignore[no-untyped-call]
            optimiser.step()
    return head.eval(), mean, std
