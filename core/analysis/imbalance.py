"""Long-tail statistics of a label distribution: imbalance ratio, head/medium/tail groups, effective numbers and
the class weights of each weighting scheme.

Class weights (``class_weights``), for per-label training counts n_c and C labels:

=======  ==========================================  ============================================
scheme   raw weight r_c                              source
=======  ==========================================  ============================================
``nw``   1                                           no weighting
``ifw``  1 / n_c                                     inverse frequency
``isw``  1 / sqrt(n_c)                               inverse square root of frequency
``iew``  1 / E_c = (1 - beta) / (1 - beta ** n_c)    inverse effective number (Cui et al., CVPR 2019)
=======  ==========================================  ============================================

Normalisation: the returned weights are ``w_c = lam * C * r_c / sum_k r_k``, i.e. proportional to the formula
and scaled so that their mean over labels is ``lam`` (1 by default, as in Cui et al., so ``nw`` is all ones and
a weight reads as "times the average label"). The weighted losses divide by the sum of weights, so the scale does
not change training; it only makes weights comparable across schemes.

Effective number: E_n = (1 - beta^n) / (1 - beta), which grows from 1 (beta = 0) towards n (beta -> 1).

Head / medium / tail groups (``GroupRule``), configurable:

* ``log`` (default): split the range between the smallest and the largest non-zero count into three equal parts
  on a log scale; labels in the top third are *head*, the bottom third *tail*, the rest *medium*. It adapts to any
  catalog size (a 6,000-vs-6 attribute and a 160-vs-6 one both get three bands). If all counts are equal, every
  label is *head*.
* ``shots``: the many/medium/few-shot convention of the long-tail literature (Liu et al. 2019): *head* with more
  than ``many`` images (default 100), *tail* with fewer than ``few`` (default 20), *medium* in between.

Labels with no image are *tail* and have no weights (they cannot be trained).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from core.config import DEFAULT_BETA

SCHEMES = ("nw", "ifw", "isw", "iew")
GROUPS = ("head", "medium", "tail")


def _as_counts(counts: ArrayLike, *, allow_zero: bool = False) -> np.ndarray:
    array = np.asarray(counts, dtype=np.float64)
    if array.ndim != 1 or array.size == 0:
        raise ValueError("counts must be a non-empty list of per-label image counts")
    if not np.all(np.isfinite(array)) or np.any(array < 0):
        raise ValueError("counts must be finite and non-negative")
    if not allow_zero and np.any(array == 0):
        empty = ", ".join(str(i) for i in np.flatnonzero(array == 0)[:10])
        raise ValueError(
            f"every label needs at least one training image; label index {empty} has none "
            "(remove the label or annotate some images first)"
        )
    return array


def _check_beta(beta: float) -> float:
    if not 0.0 <= beta < 1.0:
        raise ValueError(f"beta must be in [0, 1), got {beta}")
    return float(beta)


def effective_number(counts: ArrayLike, beta: float) -> np.ndarray:
    """E_n = (1 - beta^n) / (1 - beta) per label (Cui et al. 2019), computed stably for beta close to 1."""
    n = _as_counts(counts, allow_zero=True)
    beta = _check_beta(beta)
    if beta == 0.0:
        return np.where(n > 0, 1.0, 0.0)
    return -np.expm1(n * math.log(beta)) / (1.0 - beta)


def class_weights(counts: ArrayLike, scheme: str, *, beta: float = DEFAULT_BETA, lam: float = 1.0) -> np.ndarray:
    """Per-label weights of ``scheme`` (see the module docstring for formulas and normalisation)."""
    if scheme not in SCHEMES:
        raise ValueError(f"unknown weighting scheme '{scheme}' (expected one of {', '.join(SCHEMES)})")
    if not lam > 0:
        raise ValueError(f"lam must be positive, got {lam}")
    n = _as_counts(counts)
    if scheme == "nw":
        raw = np.ones_like(n)
    elif scheme == "ifw":
        raw = 1.0 / n
    elif scheme == "isw":
        raw = 1.0 / np.sqrt(n)
    else:
        raw = 1.0 / effective_number(n, beta)
    return np.asarray(lam * raw * (n.size / raw.sum()), dtype=np.float64)


def imbalance_ratio(counts: ArrayLike) -> float | None:
    """Largest over smallest non-zero count; None when no label has an image."""
    n = _as_counts(counts, allow_zero=True)
    positive = n[n > 0]
    return float(positive.max() / positive.min()) if positive.size else None


@dataclass(frozen=True)
class GroupRule:
    kind: str = "log"
    many: int = 100
    few: int = 20

    @classmethod
    def parse(cls, text: str) -> GroupRule:
        """``log``, ``shots`` or ``shots:MANY,FEW`` (e.g. ``shots:100,20``)."""
        name, _, args = text.strip().partition(":")
        if name == "log" and not args:
            return cls("log")
        if name == "shots":
            if not args:
                return cls("shots")
            try:
                many, few = (int(v) for v in args.split(","))
            except ValueError:
                raise ValueError(f"group rule '{text}': expected shots:MANY,FEW with two whole numbers") from None
            if few > many or few < 0:
                raise ValueError(f"group rule '{text}': FEW must be between 0 and MANY")
            return cls("shots", many, few)
        raise ValueError(f"unknown group rule '{text}' (expected log, shots or shots:MANY,FEW)")

    def describe(self) -> str:
        if self.kind == "log":
            return "log: thirds of the log count range"
        return f"shots: head > {self.many}, tail < {self.few}"


def assign_groups(counts: ArrayLike, rule: GroupRule = GroupRule()) -> list[str]:
    n = _as_counts(counts, allow_zero=True)
    if rule.kind == "shots":
        return ["head" if c > rule.many else "tail" if c < rule.few else "medium" for c in n]
    positive = n[n > 0]
    if positive.size == 0:
        return ["tail"] * n.size
    lo, hi = math.log(positive.min()), math.log(positive.max())
    if hi - lo < 1e-12:
        return ["head" if c > 0 else "tail" for c in n]
    third = (hi - lo) / 3.0
    groups = []
    for c in n:
        if c <= 0:
            groups.append("tail")
            continue
        x = math.log(c)
        groups.append("head" if x >= hi - third - 1e-12 else "tail" if x <= lo + third + 1e-12 else "medium")
    return groups


def summarize(
    attribute: str,
    kind: str,
    names: list[str],
    counts: list[int],
    *,
    images: int,
    split: str | None = None,
    beta: float = DEFAULT_BETA,
    lam: float = 1.0,
    rule: GroupRule = GroupRule(),
) -> dict:
    """The statistics of one attribute as a JSON-ready dict; labels sorted by count (descending), then name."""
    _check_beta(beta)
    order = sorted(range(len(names)), key=lambda i: (-counts[i], names[i]))
    names = [names[i] for i in order]
    n = np.asarray([counts[i] for i in order], dtype=np.float64)
    positive = n > 0
    weights: dict[str, list[float | None]] = {s: [None] * n.size for s in SCHEMES}
    if positive.any():
        for scheme in SCHEMES:
            for index, value in zip(np.flatnonzero(positive), class_weights(n[positive], scheme, beta=beta, lam=lam)):
                weights[scheme][index] = float(value)
    effective = effective_number(n, beta)
    groups = assign_groups(n, rule)
    total = float(n.sum())
    labels = [
        {
            "name": name,
            "count": int(n[i]),
            "share": float(n[i] / total) if total else 0.0,
            "effective_number": float(effective[i]),
            "group": groups[i],
            "weights": {scheme: weights[scheme][i] for scheme in SCHEMES},
        }
        for i, name in enumerate(names)
    ]
    return {
        "attribute": attribute,
        "kind": kind,
        "split": split,
        "images": int(images),
        "annotations": int(total),
        "imbalance_ratio": imbalance_ratio(n) if n.size else None,
        "beta": beta,
        "lam": lam,
        "group_rule": rule.describe(),
        "groups": {g: groups.count(g) for g in GROUPS},
        "empty_labels": [name for name, c in zip(names, n) if c == 0],
        "labels": labels,
    }
