"""Near duplicates across splits: the same product photographed twice, once in training and once in test, makes
every metric look better than the model is.

Exact duplicates are images with the same content (SHA-256 of the file, from the import); near duplicates are
pairs whose stored features, centred on the compared images' median (one extreme image does not move it), have
a cosine similarity of at least
``threshold`` (0.95 by default; centring matters: features after a ReLU all point into one orthant, and their
plain cosines crowd near 1). Only pairs in
different splits are reported: a run's own splits (``run_id``: the snapshot it trained and tested on) or the
catalog's. The search multiplies L2-normalised feature blocks (float32, 2,048 rows at a time), so it needs
memory for one block against the other split, never an N x N matrix.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Generator, Sequence
from dataclasses import dataclass

import numpy as np

from core.base.errors import TailorError
from core.catalog import predictions
from core.catalog.records import RunStatus
from core.catalog.runs import get_run, load_snapshot
from core.catalog.store import Catalog, open_catalog
from core.curation.label_issues import FeatureChoice, choose_extractor, extractor_features
from core.curation.predict import run_extractor
from core.features.vectors import unit_rows
from core.training.events import FeatureProgress, Note, WeightsDownload
from core.training.runtime import pick_device

DEFAULT_THRESHOLD = 0.95
BLOCK = 2048
MAX_PAIRS = 100_000  # pairs listed; beyond them only counted (50,000 copies of one image are 1.25e9 pairs)
SPLIT_PAIRS = (("train", "test"), ("train", "val"), ("val", "test"))


@dataclass(frozen=True)
class DuplicatePair:
    image_a: int
    path_a: str
    split_a: str
    image_b: int
    path_b: str
    split_b: str
    similarity: float  # cosine of the features (1.0 for identical files)
    exact: bool  # the same file content


@dataclass(frozen=True)
class DuplicateReport:
    pairs: list[DuplicatePair]  # exact ones first, then by similarity
    images: int
    threshold: float
    features: str  # what the similarities were computed on ("" when only exact duplicates were looked for)
    cancelled: bool = False
    more: int = 0  # pairs found beyond the MAX_PAIRS listed
    twins: int | None = None  # test images with a twin in training, over every pair found (listed or not)

    @property
    def test_images_with_training_twin(self) -> int:
        if self.twins is not None:
            return self.twins
        return len({p.image_b for p in self.pairs if (p.split_a, p.split_b) == ("train", "test")})


def exact_pairs(
    ids: Sequence[int], hashes: Sequence[str], splits: Sequence[str], counts: dict | None = None
) -> list[tuple[int, int]]:
    """Index pairs (i, j) of identical content in two different splits, ordered as in SPLIT_PAIRS; at most
    MAX_PAIRS of them. ``counts`` (a dict) receives ``total`` (every pair) and ``twins`` (indices of test images
    with an identical training image), counted without listing."""
    by_hash: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for i, digest in enumerate(hashes):
        by_hash[digest][splits[i]].append(i)
    result: list[tuple[int, int]] = []
    total, twins = 0, set[int]()
    for members in by_hash.values():
        for first, second in SPLIT_PAIRS:
            a, b = members.get(first, []), members.get(second, [])
            total += len(a) * len(b)
            if (first, second) == ("train", "test") and a:
                twins.update(b)
            for x in a:
                if len(result) >= MAX_PAIRS:
                    break
                result.extend((x, y) for y in b[: MAX_PAIRS - len(result)] if ids[x] != ids[y])
    if counts is not None:
        counts.update(total=total, twins=twins)
    return sorted(result)


def near_pairs(
    features: np.ndarray,
    splits: Sequence[str],
    threshold: float,
    cancel: threading.Event | None = None,
    counts: dict | None = None,
) -> list[tuple[int, int, float]] | None:
    """Index pairs (i, j, cosine) with cosine >= threshold, i in the first split of a SPLIT_PAIRS pair and j in the
    second, the MAX_PAIRS most similar of them; None when cancelled. ``counts`` receives ``total`` and ``twins``
    (as for :func:`exact_pairs`)."""
    x = np.asarray(features, dtype=np.float32)
    if not np.isfinite(x).all():  # the feature store refuses these; a caller's own array is checked too
        raise TailorError(f"{int((~np.isfinite(x).all(axis=1)).sum())} images have features that are not finite")
    x = unit_rows(x, np.median(x, axis=0, keepdims=True))  # the median: one huge row would pull a mean its way
    split_array = np.asarray(splits)
    kept = _Best(MAX_PAIRS)
    total, twins = 0, set[int]()
    for first, second in SPLIT_PAIRS:
        a, b = np.flatnonzero(split_array == first), np.flatnonzero(split_array == second)
        if not len(a) or not len(b):
            continue
        for start in range(0, len(b), BLOCK):
            if cancel is not None and cancel.is_set():
                return None
            rows = b[start : start + BLOCK]
            similarity = x[rows] @ x[a].T
            hit_b, hit_a = np.nonzero(similarity >= threshold)
            total += len(hit_b)
            if (first, second) == ("train", "test"):
                twins.update(int(r) for r in np.unique(rows[hit_b]))
            kept.add(a[hit_a], rows[hit_b], similarity[hit_b, hit_a])
    if counts is not None:
        counts.update(total=total, twins=twins)
    return kept.pairs()


class _Best:
    """The ``size`` most similar pairs seen so far, in bounded memory."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self.count = 0

    def add(self, a: np.ndarray, b: np.ndarray, similarity: np.ndarray) -> None:
        self.parts.append((a, b, similarity.astype(np.float32)))
        self.count += len(a)
        if self.count > 2 * self.size:
            self.parts = [self._top()]
            self.count = len(self.parts[0][0])

    def _top(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        a, b, s = (np.concatenate([part[k] for part in self.parts]) for k in range(3))
        if len(s) > self.size:
            keep = np.argpartition(-s, self.size - 1)[: self.size]
            a, b, s = a[keep], b[keep], s[keep]
        return a, b, s

    def pairs(self) -> list[tuple[int, int, float]]:
        if not self.parts:
            return []
        a, b, s = self._top()
        return [(int(i), int(j), float(v)) for i, j, v in zip(a, b, s)]


def find_duplicates(
    catalog: Catalog | str,
    *,
    run_id: int | None = None,
    attribute: str | None = None,
    choice: FeatureChoice | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    exact_only: bool = False,
    stored_only: bool = False,
    device: str = "auto",
    cancel: threading.Event | None = None,
) -> Generator[FeatureProgress | WeightsDownload | Note, None, DuplicateReport]:
    """Duplicate pairs across a run's splits (``run_id``) or the catalog's (every image with a split).
    ``stored_only``: look for near duplicates only when every feature is stored already (no backbone pass: the
    Runs tab's check)."""
    choice = choice or FeatureChoice()
    if not 0 < threshold <= 1:
        raise TailorError(f"--threshold must be in (0, 1], got {threshold}")
    with open_catalog(catalog) as opened:
        ids, splits = _images(opened, run_id)
        if len(set(splits)) < 2:
            raise TailorError(
                f"duplicates are looked for across splits, and {_which(run_id)} "
                f"{'only ' + repr(splits[0]) if splits else 'none'}: give images a test split (or pass --run RUN)"
            )
        paths, hashes = predictions.image_paths(opened, ids)
        exact_counts: dict = {}
        near_counts: dict = {"total": 0, "twins": set()}
        exact = exact_pairs(ids, hashes, splits, exact_counts)
        near: list[tuple[int, int, float]] = []
        described = ""
        if not exact_only and ids:
            features, described = yield from _features(
                opened, run_id, attribute, choice, ids, paths, hashes, device, cancel, stored_only
            )
            if features is None and stored_only:
                described = ""
            elif features is None:
                return DuplicateReport([], len(ids), threshold, described, cancelled=True)
            found = near_pairs(features, splits, threshold, cancel, near_counts) if features is not None else []
            if found is None:
                return DuplicateReport([], len(ids), threshold, described, cancelled=True)
            near = found
    exact_set = set(exact)
    pairs = [DuplicatePair(ids[i], paths[i], splits[i], ids[j], paths[j], splits[j], 1.0, True) for i, j in exact]
    near_sorted = sorted(
        ((i, j, s) for i, j, s in near if (i, j) not in exact_set), key=lambda t: (-t[2], ids[t[0]], ids[t[1]])
    )
    pairs += [
        DuplicatePair(ids[i], paths[i], splits[i], ids[j], paths[j], splits[j], round(s, 6), False)
        for i, j, s in near_sorted[: max(0, MAX_PAIRS - len(pairs))]
    ]
    found_total = exact_counts["total"] + max(0, near_counts["total"] - len(exact_set))
    twins = len(exact_counts["twins"] | near_counts["twins"])
    return DuplicateReport(pairs, len(ids), threshold, described, more=max(0, found_total - len(pairs)), twins=twins)


def _which(run_id: int | None) -> str:
    return f"run {run_id}'s images have" if run_id is not None else "the catalog's images with a split have"


def _images(catalog: Catalog, run_id: int | None) -> tuple[list[int], list[str]]:
    if run_id is not None:
        run = get_run(catalog, run_id)
        if run.status != RunStatus.FINISHED:
            raise TailorError(f"run {run_id} is {run.status}; only a finished run's splits are checked")
        snapshot = load_snapshot(catalog, run_id)
        return list(snapshot.image_ids), list(snapshot.splits)
    from sqlalchemy import select

    from core.catalog.schema import Image

    with catalog.session() as s:
        rows = s.execute(select(Image.id, Image.split).where(Image.split.is_not(None)).order_by(Image.id)).all()
    return [r[0] for r in rows], [str(r[1]) for r in rows]


def _features(
    catalog: Catalog,
    run_id: int | None,
    attribute: str | None,
    choice: FeatureChoice,
    ids: list[int],
    paths: list[str],
    hashes: list[str],
    device: str,
    cancel: threading.Event | None,
    stored_only: bool,
) -> Generator[FeatureProgress | WeightsDownload | Note, None, tuple[np.ndarray | None, str]]:
    if run_id is not None and choice == FeatureChoice():
        extractor = run_extractor(catalog, get_run(catalog, run_id))
    elif choice != FeatureChoice():
        extractor = choose_extractor(catalog, attribute or "", choice)
    elif attribute is not None:
        extractor = choose_extractor(catalog, attribute, choice)
    else:
        raise TailorError("near duplicates need features: give --run RUN, --attribute NAME, --features-of RUN or "
                          "--backbone NAME --pretrained [FILE] (or --exact-only)")  # fmt: skip
    store = extractor.open_store(catalog, pick_device(device))
    if stored_only and store.missing(hashes):
        return None, ""
    features = yield from extractor_features(
        catalog, extractor, store, ids, paths, hashes, device=device, cancel=cancel, run_id=run_id or 0
    )
    return features, extractor.describe()
