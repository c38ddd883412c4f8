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
from core.training.events import FeatureProgress, WeightsDownload

DEFAULT_THRESHOLD = 0.95
BLOCK = 2048
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

    @property
    def test_images_with_training_twin(self) -> int:
        return len({p.image_b for p in self.pairs if (p.split_a, p.split_b) == ("train", "test")})


def exact_pairs(ids: Sequence[int], hashes: Sequence[str], splits: Sequence[str]) -> list[tuple[int, int]]:
    """Index pairs (i, j) of identical content in two different splits, ordered as in SPLIT_PAIRS."""
    by_hash: dict[str, list[int]] = defaultdict(list)
    for i, digest in enumerate(hashes):
        by_hash[digest].append(i)
    rank = {pair: n for n, pair in enumerate(SPLIT_PAIRS)}
    result = []
    for members in by_hash.values():
        for x in members:
            for y in members:
                if ids[x] != ids[y] and (splits[x], splits[y]) in rank:
                    result.append((x, y))
    return sorted(result)


def near_pairs(
    features: np.ndarray, splits: Sequence[str], threshold: float, cancel: threading.Event | None = None
) -> list[tuple[int, int, float]] | None:
    """Index pairs (i, j, cosine) with cosine >= threshold, i in the first split of a SPLIT_PAIRS pair and j in the
    second; None when cancelled."""
    x = np.asarray(features, dtype=np.float32)
    if not np.isfinite(x).all():  # the feature store refuses these; a caller's own array is checked too
        raise TailorError(f"{int((~np.isfinite(x).all(axis=1)).sum())} images have features that are not finite")
    x = x - np.median(x, axis=0, keepdims=True)  # not the mean: one huge row would pull every other row one way
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    split_array = np.asarray(splits)
    found: list[tuple[int, int, float]] = []
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
            found += [(int(a[i]), int(rows[j]), float(similarity[j, i])) for j, i in zip(hit_b, hit_a)]
    return found


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
) -> Generator[FeatureProgress | WeightsDownload, None, DuplicateReport]:
    """Duplicate pairs across a run's splits (``run_id``) or the catalog's (every image with a split).
    ``stored_only``: look for near duplicates only when every feature is stored already (no backbone pass: the
    Runs tab's check)."""
    choice = choice or FeatureChoice()
    if not 0 < threshold <= 1:
        raise TailorError(f"--threshold must be in (0, 1], got {threshold}")
    with open_catalog(catalog) as opened:
        ids, splits = _images(opened, run_id)
        paths, hashes = predictions.image_paths(opened, ids)
        exact = exact_pairs(ids, hashes, splits)
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
            found = near_pairs(features, splits, threshold, cancel) if features is not None else []
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
        for i, j, s in near_sorted
    ]
    return DuplicateReport(pairs, len(ids), threshold, described)


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
) -> Generator[FeatureProgress | WeightsDownload, None, tuple[np.ndarray | None, str]]:
    if run_id is not None and choice == FeatureChoice():
        extractor = run_extractor(catalog, get_run(catalog, run_id))
    elif choice != FeatureChoice():
        extractor = choose_extractor(catalog, attribute or "", choice)
    elif attribute is not None:
        extractor = choose_extractor(catalog, attribute, choice)
    else:
        raise TailorError("near duplicates need features: give --run RUN, --attribute NAME, --features-of RUN or "
                          "--backbone NAME --pretrained [FILE] (or --exact-only)")  # fmt: skip
    store = extractor.open_store(catalog)
    if stored_only and store.missing(hashes):
        return None, ""
    features = yield from extractor_features(
        catalog, extractor, store, ids, paths, hashes, device=device, cancel=cancel, run_id=run_id or 0
    )
    return features, extractor.describe()
