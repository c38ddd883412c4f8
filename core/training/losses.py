"""Imbalance-aware losses: every weighting variant the source papers compare.

``make_loss(name, counts, multi_label=..., **params)`` returns a :class:`TailorLoss` (a ``torch.nn.Module``)
called as ``loss(logits, targets)``; targets are class indices (single-label) or a 0/1 float matrix
(multi-label). ``counts`` are the training images per label. Definitions (w: per-label weights from
:func:`core.analysis.imbalance.class_weights`, normalised to mean 1; the reductions below make their scale irrelevant):

``nw``, ``ifw``, ``isw``, ``iew`` (``beta``, default 0.99)
    Single-label: softmax cross-entropy as the weighted mean ``sum_b w[y_b] CE_b / sum_b w[y_b]`` (Eq. 3 of the
    source paper; ``F.cross_entropy(weight=w)``). Multi-label: sigmoid binary cross-entropy with each label column
    weighted, ``sum_bc w_c BCE_bc / sum_bc w_c``.
``focal`` (``gamma``, default 2)
    Single-label: softmax focal loss ``-(1 - p_t)^gamma log p_t``, averaged over the batch. Multi-label:
    torchvision's sigmoid focal loss (computed in log space, :func:`sigmoid_focal`) averaged over all entries,
    with ``alpha`` off by default (``alpha=-1``) so that ``gamma=0`` is exactly the unweighted cross-entropy in
    both cases; pass ``alpha`` to use it.
``cb-focal`` (``gamma``, ``beta``)
    Class-balanced focal loss (Cui et al. 2019): the focal terms weighted by the ``iew`` weights and reduced as the
    weighted mean exactly like the weighted cross-entropies above (per sample by its class for single-label, per
    label column for multi-label); ``gamma=0`` gives the ``iew`` loss.
``ldam`` (single-label; ``max_m`` 0.5, ``s`` 30)
    LDAM (Cao et al. 2019): margins ``m_j = max_m * n_j^(-1/4) / max_k n_k^(-1/4)`` subtracted from the true
    class's logit, ``CE(s * (logits - m_y * onehot(y)), y)``. Meant for a cosine (normalised) classifier head,
    whose logits lie in [-1, 1].
``ldam-drw`` (``max_m``, ``s``, ``epochs`` 200, ``drw_epoch`` 80% of ``epochs``, ``drw_beta`` 0.9999)
    LDAM with deferred re-weighting: class weights 1 until ``drw_epoch``, then the class-balanced weights
    ``(1 - b) / (1 - b^n)`` with ``b = drw_beta`` (mean 1), as in Cao et al.'s code. The training loop calls
    :meth:`TailorLoss.set_epoch` with the 0-based epoch before each epoch; from epoch ``drw_epoch`` on (160 of
    200 by default) the weights apply.

``balanced-softmax`` (single-label; ``tau`` 1)
    The logit-adjusted loss of Menon et al. (ICLR 2021), ``CE(logits + tau * log(prior), y)`` with the training
    label frequencies as the prior; ``tau = 1`` is Ren et al.'s balanced softmax. The model's own logits (without
    the offset) are what it predicts with: the adjustment is part of the loss only.
``crt``
    Classifier re-training (Kang et al., ICLR 2020): plain cross-entropy (BCE for multi-label) on a class-balanced
    sampler, so the loss is ``nw``'s; the head-only trainer draws the batches (core.heads).

A name that does not apply (``ldam`` on a multi-label attribute, an unknown name, a label with no training
image) raises ``ValueError`` with a message a user understands.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import ArrayLike
from torch import nn

from core.analysis.imbalance import class_weights
from core.config import DEFAULT_BETA, LDAM_SCALE, LOSS_SPECS, LOSSES, SINGLE_LABEL_ONLY, Loss


class TailorLoss(nn.Module):
    """Base of Tailor's losses: ``forward(logits, targets)`` and an epoch hook for schedules such as DRW."""

    name = "loss"

    def __init__(self, num_labels: int, multi_label: bool) -> None:
        super().__init__()
        self.num_labels = num_labels
        self.multi_label = multi_label
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Tell the loss which (0-based) epoch is about to run; a no-op for losses without a schedule."""
        self.epoch = int(epoch)

    def _check(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Validate shapes; return the logits in at least float32 (mixed precision computes losses in fp32)."""
        if logits.ndim != 2 or logits.shape[1] != self.num_labels:
            raise ValueError(
                f"{self.name}: expected logits of shape (batch, {self.num_labels}), got {tuple(logits.shape)}"
            )
        expected = logits.shape if self.multi_label else logits.shape[:1]
        if targets.shape != expected:
            raise ValueError(f"{self.name}: expected targets of shape {tuple(expected)}, got {tuple(targets.shape)}")
        return logits.float() if logits.dtype in (torch.float16, torch.bfloat16) else logits

    def extra_repr(self) -> str:
        return f"labels={self.num_labels}, multi_label={self.multi_label}"


def _weighted_mean_over_columns(values: torch.Tensor, weight: torch.Tensor | None) -> torch.Tensor:
    """``sum_bc w_c v_bc / sum_bc w_c`` (the plain mean when ``weight`` is None)."""
    if weight is None:
        return values.mean()
    weight = weight.to(values.dtype)
    return (values * weight).sum() / (weight.sum() * values.shape[0])


def sigmoid_focal(logits: torch.Tensor, targets: torch.Tensor, *, alpha: float, gamma: float) -> torch.Tensor:
    """torchvision's ``sigmoid_focal_loss`` (reduction none) with the modulating factor computed in log space:
    ``(1 - p_t)^gamma = exp(-gamma * softplus(z_t))``, ``z_t = z`` for a positive and ``-z`` for a negative. The
    same values, but finite gradients for any ``gamma >= 0``: torchvision's ``(1 - p_t) ** gamma`` differentiates
    ``x^gamma`` at ``x = 0`` (a saturated sigmoid) and gives NaN for ``0 < gamma < 1``."""
    ce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    loss = ce if gamma == 0 else ce * torch.exp(gamma * F.logsigmoid(-logits * (2 * targets - 1)))
    if alpha >= 0:
        loss = (alpha * targets + (1 - alpha) * (1 - targets)) * loss
    return loss


def _log_rest(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """``log(1 - p_t)`` of a softmax, as the log-sum-exp of the other logits: finite with finite gradients where
    ``p_t`` rounds to 1 (``(1 - p_t) ** gamma`` is not, for ``0 < gamma < 1``)."""
    others = logits.scatter(1, targets[:, None], float("-inf"))
    return torch.logsumexp(others, dim=1) - torch.logsumexp(logits, dim=1)


class WeightedCrossEntropy(TailorLoss):
    """Softmax CE (single-label) or column-weighted sigmoid BCE (multi-label) with fixed per-label weights."""

    def __init__(self, name: str, weight: torch.Tensor, multi_label: bool) -> None:
        super().__init__(len(weight), multi_label)
        self.name = name
        self.weight: torch.Tensor
        self.register_buffer("weight", weight)

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        logits = self._check(logits, targets)
        weight = self.weight.to(logits.dtype)
        if self.multi_label:
            bce = F.binary_cross_entropy_with_logits(logits, targets.to(logits.dtype), reduction="none")
            return _weighted_mean_over_columns(bce, weight)
        return F.cross_entropy(logits, targets, weight=weight)


class FocalLoss(TailorLoss):
    """Softmax focal (single-label) or torchvision's sigmoid focal (multi-label), optionally label-weighted."""

    def __init__(
        self, name: str, num_labels: int, multi_label: bool, gamma: float, alpha: float, weight: torch.Tensor | None
    ) -> None:
        super().__init__(num_labels, multi_label)
        if gamma < 0:
            raise ValueError(f"gamma must be >= 0, got {gamma}")
        self.name, self.gamma, self.alpha = name, float(gamma), float(alpha)
        self.weight: torch.Tensor | None
        self.register_buffer("weight", weight)

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        logits = self._check(logits, targets)
        if self.multi_label:
            focal = sigmoid_focal(logits, targets.to(logits.dtype), alpha=self.alpha, gamma=self.gamma)
            return _weighted_mean_over_columns(focal, self.weight)  # None: unweighted
        log_p = F.log_softmax(logits, dim=1).gather(1, targets[:, None]).squeeze(1)
        focal = -log_p if self.gamma == 0 else -torch.exp(self.gamma * _log_rest(logits, targets)) * log_p
        if self.weight is None:
            return focal.mean()
        w = self.weight.to(logits.dtype)[targets]
        return (w * focal).sum() / w.sum()

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, gamma={self.gamma}" + (f", alpha={self.alpha}" if self.multi_label else "")


class LDAMLoss(TailorLoss):
    """Label-distribution-aware margin loss (Cao et al. 2019), with optional deferred re-weighting (DRW)."""

    def __init__(
        self,
        name: str,
        counts: np.ndarray,
        *,
        max_m: float,
        s: float,
        drw_epoch: int | None = None,
        drw_beta: float = 0.9999,
    ) -> None:
        super().__init__(len(counts), multi_label=False)
        if max_m <= 0 or s <= 0:
            raise ValueError(f"LDAM needs max_m > 0 and s > 0, got max_m={max_m}, s={s}")
        self.name, self.max_m, self.s, self.drw_epoch = name, float(max_m), float(s), drw_epoch
        inv = np.asarray(counts, dtype=np.float64) ** -0.25
        self.margins: torch.Tensor
        self.drw_weight: torch.Tensor
        self.register_buffer("margins", torch.as_tensor(max_m * inv / inv.max()))
        drw = class_weights(counts, "iew", beta=drw_beta) if drw_epoch is not None else np.ones(len(counts))
        self.register_buffer("drw_weight", torch.as_tensor(drw))

    @property
    def weighted(self) -> bool:
        """Whether the class-balanced weights apply in the current epoch."""
        return self.drw_epoch is not None and self.epoch >= self.drw_epoch

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        logits = self._check(logits, targets)
        margin = self.margins.to(logits.dtype)[targets]
        shifted = logits.scatter_add(1, targets[:, None], -margin[:, None])
        weight = self.drw_weight.to(logits.dtype) if self.weighted else None
        return F.cross_entropy(self.s * shifted, targets, weight=weight)

    def extra_repr(self) -> str:
        drw = f", drw_epoch={self.drw_epoch}" if self.drw_epoch is not None else ""
        return f"labels={self.num_labels}, max_m={self.max_m}, s={self.s}{drw}"


class LogitAdjustedLoss(TailorLoss):
    """Cross-entropy of the logits shifted by ``tau * log(prior)`` (Menon et al. 2021, Eq. 10)."""

    def __init__(self, name: str, counts: np.ndarray, tau: float) -> None:
        super().__init__(len(counts), multi_label=False)
        if not tau >= 0:
            raise ValueError(f"tau must be >= 0, got {tau}")
        self.name, self.tau = name, float(tau)
        prior = np.asarray(counts, dtype=np.float64) / np.sum(counts)
        self.offset: torch.Tensor
        self.register_buffer("offset", torch.as_tensor(self.tau * np.log(prior)))

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        logits = self._check(logits, targets)
        return F.cross_entropy(logits + self.offset.to(logits.dtype), targets)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, tau={self.tau}"


def make_loss(name: str, counts: ArrayLike, *, multi_label: bool, **params: float) -> TailorLoss:
    """Build the loss ``name`` for training counts ``counts`` (see the module docstring for definitions).

    Parameters by name: ``beta`` (iew, cb-focal; default 0.99), ``gamma`` (focal, cb-focal; 2), ``alpha``
    (multi-label focal; -1 = off), ``max_m`` (0.5) and ``s`` (30) for LDAM, ``epochs`` (200), ``drw_epoch``
    (0.8 * epochs) and ``drw_beta`` (0.9999) for LDAM-DRW.
    """
    if name not in LOSSES:
        raise ValueError(f"unknown loss '{name}' (expected one of {', '.join(LOSSES)})")
    counts = np.asarray(counts, dtype=np.float64)
    if counts.ndim != 1 or counts.size < 2:
        raise ValueError(f"{name}: need the training counts of at least two labels, got {counts.tolist()}")
    if np.any(counts <= 0):
        empty = ", ".join(str(i) for i in np.flatnonzero(counts <= 0)[:10])
        raise ValueError(
            f"{name}: every label needs at least one training image; label index {empty} has none "
            "(annotate some images or remove the label)"
        )
    if multi_label and name in SINGLE_LABEL_ONLY:
        raise ValueError(
            f"{name} is defined for single-label attributes (softmax over one label per image); "
            "for a multi-label attribute use nw, ifw, isw, iew, focal, cb-focal or crt"
        )
    allowed = set(LOSS_SPECS[Loss(name)].parameters)
    unknown = set(params) - allowed
    if unknown:
        raise ValueError(
            f"{name} takes no parameter {', '.join(sorted(unknown))} (it takes: {', '.join(sorted(allowed)) or 'none'})"
        )

    def weights(scheme: str) -> torch.Tensor:
        return torch.as_tensor(class_weights(counts, scheme, beta=params.get("beta", DEFAULT_BETA)))

    if name in (Loss.NW, Loss.IFW, Loss.ISW, Loss.IEW):
        return WeightedCrossEntropy(name, weights(name), multi_label)
    if name == Loss.CRT:
        return WeightedCrossEntropy(name, weights("nw"), multi_label)
    if name == Loss.BALANCED_SOFTMAX:
        return LogitAdjustedLoss(name, counts, params.get("tau", 1.0))
    if name in ("focal", "cb-focal"):
        return FocalLoss(
            name,
            counts.size,
            multi_label,
            params.get("gamma", 2.0),
            params.get("alpha", -1.0),
            weights("iew") if name == "cb-focal" else None,
        )
    max_m, s = params.get("max_m", 0.5), params.get("s", LDAM_SCALE)
    if name == Loss.LDAM:
        return LDAMLoss(name, counts, max_m=max_m, s=s)
    epochs = int(params.get("epochs", 200))
    drw_epoch = int(params.get("drw_epoch", int(0.8 * epochs)))
    if not drw_epoch >= 0:
        raise ValueError(f"drw_epoch must be >= 0, got {drw_epoch}")
    return LDAMLoss(name, counts, max_m=max_m, s=s, drw_epoch=drw_epoch, drw_beta=params.get("drw_beta", 0.9999))
