"""Views of an image on stored features: the image itself, and with ``mirrored_views`` the image mirrored left to
right (a second feature store, :meth:`core.features.extractor.Extractor.mirror`). A run with mirrored views trains
its head on both and scores an image by the mean of both views' logits, wherever it is scored: its own evaluation,
``tailor predict``, ``tailor adjust`` and the exported network (:class:`core.training.backbones.MirroredViews`)."""

from __future__ import annotations

import numpy as np
import torch

from core.config import TrainConfig
from core.features.extractor import Extractor

BATCH = 8192


def view_extractors(extractor: Extractor, config: TrainConfig) -> list[Extractor]:
    return [extractor, extractor.mirror()] if config.mirrored_views else [extractor]


@torch.no_grad()
def mean_logits(head: torch.nn.Module, views: list[torch.Tensor], device: torch.device) -> torch.Tensor:
    """The head's logits of each view (N x D features each), averaged."""
    total: torch.Tensor = head(views[0].to(device).float())
    for view in views[1:]:
        total = total + head(view.to(device).float())
    return total / len(views)


@torch.inference_mode()
def view_scores(head: torch.nn.Module, views: list[np.ndarray], scale: float, multi_label: bool) -> np.ndarray:
    """What a run stores for stored features (one array per view): sigmoid, or softmax of ``scale`` x the mean
    logits, in batches."""
    head.eval()
    out = []
    for start in range(0, len(views[0]), BATCH):
        rows = [torch.from_numpy(v[start : start + BATCH]) for v in views]
        logits = mean_logits(head, rows, torch.device("cpu")).float()
        out.append((torch.sigmoid(logits) if multi_label else torch.softmax(logits * scale, dim=1)).numpy())
    return np.concatenate(out) if out else np.zeros((0, 0))
