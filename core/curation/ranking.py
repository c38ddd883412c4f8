"""Suspected label errors from out-of-sample scores (cleanlab), ranked tail first.

cleanlab flags the issues (``filter.find_label_issues``, prune by noise rate; its multi-label variant for a
multi-label attribute) and scores every given label's quality (``rank.get_label_quality_scores``, self-confidence:
the out-of-sample probability of the given label; 0 = surely wrong, 1 = surely right).

The tail-first queue orders the flagged images by ``priority = ln(rarity) + ln(t / quality)``. ``t`` is the mean
quality of the images with the same given label (cleanlab's per-class threshold): a model trained on a long tail is
less sure of every rare label, right or wrong, and measuring a label's quality against its own label's typical
quality keeps correctly labeled tail images from flooding the queue. A label's rarity is
``1 + ln(n_max / n) / ln(n_max / n_min)`` (n: the label's labeled images; 1 for the largest label, 2 for the
smallest, logarithmic between) and an issue's rarity is that of the rarest label in question: the given and the
suggested label (multi-label: the labels the suggestion adds or removes; ``t`` then of the rarest given label).
So at equal doubt an error that hides a "puff sleeve" comes first, and a sure error among "short sleeve" still
comes before a doubtful one in the tail. On CIFAR-10-LT with flipped labels (``benchmarks/bench_label_issues.py``)
this order finds as many flips as cleanlab's own order in its first 500 when the flips are uniform, and more when
they hide tail images; weighting ``1 - quality`` by rarity instead found 45% fewer in the uniform case.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Ranked:
    """Flagged rows (indices into the scored images) in queue order, with what the queue shows of each."""

    rows: np.ndarray
    quality: np.ndarray  # cleanlab's label quality of each flagged row
    suggested: list[tuple[int, ...]]
    rarity: np.ndarray
    priority: np.ndarray
    cleanlab_order: np.ndarray  # the same flagged rows in cleanlab's own order (lowest quality first)


def rarity(counts: np.ndarray) -> np.ndarray:
    """Each label's rarity weight in [1, 2] (see the module docstring); labels without images count as rarest."""
    n = np.maximum(np.asarray(counts, dtype=np.float64), 1.0)
    spread = np.log(n.max() / n.min())
    return np.ones_like(n) if spread == 0 else 1.0 + np.log(n.max() / n) / spread


def typical_quality(targets: list[tuple[int, ...]], quality: np.ndarray, num_labels: int) -> np.ndarray:
    """Each label's mean quality over the images that have it (cleanlab's per-class threshold)."""
    total, count = np.zeros(num_labels), np.zeros(num_labels)
    for labels, q in zip(targets, quality):
        for j in labels:
            total[j] += q
            count[j] += 1
    return np.maximum(np.divide(total, np.maximum(count, 1)), 1e-12)


def suggestions(targets: list[tuple[int, ...]], scores: np.ndarray, multi_label: bool) -> list[tuple[int, ...]]:
    """The label(s) the scores suggest instead: the best other label (single-label), or the labels scored at
    least 0.5 (multi-label; when that is the given set, the given set with its most doubtful label flipped)."""
    result: list[tuple[int, ...]] = []
    for given, row in zip(targets, scores):
        if not multi_label:
            others = row.copy()
            others[given[0]] = -np.inf
            result.append((int(np.argmax(others)),))
            continue
        chosen = tuple(int(j) for j in np.flatnonzero(row >= 0.5))
        if set(chosen) == set(given):
            truth = np.zeros(len(row))
            truth[list(given)] = 1
            flip = int(np.argmax(np.abs(row - truth)))
            chosen = tuple(sorted(set(given) ^ {flip}))
        result.append(chosen)
    return result


def rank(targets: list[tuple[int, ...]], scores: np.ndarray, counts: np.ndarray, *, multi_label: bool) -> Ranked:
    """Flag suspected errors among ``targets`` given out-of-sample ``scores`` (N x C) and rank them tail first."""
    quality_all, flagged = _cleanlab(targets, scores, multi_label)
    suggested_all = suggestions([targets[i] for i in flagged], scores[flagged], multi_label)
    weights = rarity(counts)
    issue_rarity = np.array(
        [max(weights[j] for j in (set(targets[i]) ^ set(s)) or set(targets[i])) for i, s in zip(flagged, suggested_all)]
    )
    quality = quality_all[flagged]
    reference = typical_quality(targets, quality_all, len(weights))
    anchor = np.array([reference[max(targets[i], key=lambda j: (weights[j], -j))] for i in flagged])  # rarest
    priority = np.log(issue_rarity) + np.log(anchor) - np.log(np.maximum(quality, 1e-12))
    order = np.lexsort((flagged, -priority))  # highest priority first; ties by row: deterministic
    by_cleanlab = flagged[np.lexsort((flagged, quality))]
    return Ranked(
        flagged[order],
        quality[order],
        [suggested_all[i] for i in order],
        issue_rarity[order],
        priority[order],
        by_cleanlab,
    )


def _cleanlab(targets: list[tuple[int, ...]], scores: np.ndarray, multi_label: bool) -> tuple[np.ndarray, np.ndarray]:
    """cleanlab's quality of every given label, and the flagged rows."""
    if multi_label:
        from cleanlab.multilabel_classification import filter as multi_filter
        from cleanlab.multilabel_classification import rank as multi_rank

        labels = [list(t) for t in targets]
        quality = multi_rank.get_label_quality_scores(labels, scores)
        flags = multi_filter.find_label_issues(labels, scores, n_jobs=1)
    else:
        from cleanlab import filter as single_filter
        from cleanlab import rank as single_rank

        given = np.array([t[0] for t in targets])
        quality = single_rank.get_label_quality_scores(given, scores)
        flags = single_filter.find_label_issues(given, scores, n_jobs=1)
    return np.asarray(quality, dtype=np.float64), np.flatnonzero(flags)
