"""Similar images ("more like these"): the images nearest to a few chosen ones by their stored features.

The query is the mean of the chosen images' L2-normalised features; every other image (or every image without a
label of an attribute, ``unlabeled``) is ranked by its cosine distance to it (1 - cosine: 0 is the same direction,
2 the opposite), nearest first. Features come from a feature store (a run's backbone, a pretrained backbone, or
by default the attribute's newest finished run, else the best backbone whose weights are here); what the store
lacks is computed first, with progress and Cancel, as ``tailor predict`` does. Below 50,000 candidates the search
is exact (a float32 product over the float16 store in chunks, :func:`nearest`); above, faiss's index beside the
store (:mod:`core.features.similarity_index`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Generator, Sequence
from dataclasses import dataclass

import numpy as np

from core.base.errors import TailorError
from core.catalog import browse, predictions
from core.catalog.store import Catalog, open_catalog
from core.curation.label_issues import FeatureChoice, default_extractor, extractor_features
from core.features import similarity_index
from core.features.store import FeatureStore
from core.features.vectors import unit_rows
from core.training.events import FeatureProgress, Note, WeightsDownload
from core.training.runtime import pick_device

SEARCH_CHUNK = 65_536  # candidate rows converted to float32 at a time


@dataclass(frozen=True)
class Neighbour:
    image_id: int
    path: str
    distance: float  # cosine distance to the query (0: the same direction)
    labels: tuple[str, ...]  # the attribute's labels, or "attribute: label" across all


@dataclass(frozen=True)
class SimilarResult:
    neighbours: list[Neighbour]
    features: str  # the extractor, for a user
    searched: int  # candidate images ranked
    computed: int  # features computed for this search
    seconds: float
    cancelled: bool = False


def find_similar(
    catalog: Catalog | str,
    image_ids: Sequence[int],
    *,
    k: int = 50,
    attribute: str | None = None,
    unlabeled: bool = False,
    choice: FeatureChoice | None = None,
    device: str = "auto",
    cancel: threading.Event | None = None,
) -> Generator[FeatureProgress | WeightsDownload | Note, None, SimilarResult]:
    """The ``k`` images nearest to ``image_ids`` (left out of the result); ``unlabeled``: only images without a
    label of ``attribute`` (of any attribute without one). Yields the feature pass's progress."""
    started = time.perf_counter()
    if not image_ids:
        raise TailorError("give at least one image to find images like it")
    if not 1 <= k <= 10_000:
        raise TailorError("-k must be between 1 and 10000")
    with open_catalog(catalog) as opened:
        attribute_id = opened.attribute(attribute).id if attribute is not None else None
        query = checked_ids(opened, image_ids)
        pool = browse.unlabeled_ids(opened, attribute_id) if unlabeled else browse.all_ids(opened)
        chosen = set(query)
        candidates = [i for i in pool if i not in chosen]
        if not candidates:
            if unlabeled:
                of = f" of '{attribute}'" if attribute is not None else ""
                raise TailorError(f"no images without a label{of} to search")
            raise TailorError("no other images to search")
        extractor = default_extractor(opened, attribute, choice or FeatureChoice())
        ids = query + candidates
        paths, hashes = predictions.image_paths(opened, ids)
        store = extractor.open_store(opened, pick_device(device))
        before = store.stored
        indexed = len(candidates) >= similarity_index.EXACT_BELOW  # the index reads the candidates itself
        features = yield from extractor_features(opened, extractor, store, ids, paths, hashes, device=device,
                                                 cancel=cancel, first=len(query) if indexed else None)  # fmt: skip
        if features is None:
            return SimilarResult([], extractor.describe(), 0, store.stored - before, 0.0, cancelled=True)
        if indexed:
            found, distances = _indexed(store, features[: len(query)], candidates, hashes[len(query) :], k)
        else:
            rows, distances = nearest(features[: len(query)], features[len(query) :], k)
            found = [candidates[r] for r in rows]
        labels = browse.labels_of(opened, found, attribute_id)
    where = dict(zip(ids, paths))
    neighbours = [Neighbour(i, where[i], float(d), labels.get(i, ())) for i, d in zip(found, distances)]
    return SimilarResult(neighbours, extractor.describe(), len(candidates), store.stored - before,
                         time.perf_counter() - started)  # fmt: skip


def nearest(query: np.ndarray, candidates: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows of ``candidates`` nearest to the mean direction of ``query`` (rows: feature vectors), nearest first,
    and their cosine distances."""
    direction = direction_of(query)
    similarity = np.empty(len(candidates), np.float32)
    for start in range(0, len(candidates), SEARCH_CHUNK):
        block = unit_rows(candidates[start : start + SEARCH_CHUNK])
        similarity[start : start + len(block)] = block @ direction
    k = min(k, len(candidates))
    top = np.argpartition(-similarity, k - 1)[:k]
    order = top[np.lexsort((top, -similarity[top]))]  # nearest first; ties by row
    return order, 1.0 - similarity[order]


def direction_of(query: np.ndarray) -> np.ndarray:
    """The unit mean direction of the query rows' unit vectors."""
    direction = unit_rows(query).mean(axis=0)
    result: np.ndarray = direction / max(float(np.linalg.norm(direction)), 1e-12)
    return result


def _indexed(
    store: FeatureStore, query: np.ndarray, candidates: list[int], hashes: list[str], k: int
) -> tuple[list[int], np.ndarray]:
    """The approximate search of a large store (core.features.similarity_index): images sharing a content hash
    (the same file twice) come together."""
    by_id: dict[int, list[int]] = {}
    for image_id, key in zip(candidates, similarity_index.hash_ids(hashes)):
        by_id.setdefault(int(key), []).append(image_id)
    found: list[int] = []
    distances: list[float] = []
    for key, similarity in similarity_index.search(store, direction_of(query), k, hashes):
        for image_id in by_id.get(key, []):
            found.append(image_id)
            distances.append(1.0 - similarity)
    return found[:k], np.array(distances[:k])


def checked_ids(catalog: Catalog, image_ids: Sequence[int]) -> list[int]:
    wanted = list(dict.fromkeys(int(i) for i in image_ids))
    known = set(browse.existing_ids(catalog, wanted))
    unknown = [i for i in wanted if i not in known]
    if unknown:
        shown = ", ".join(str(i) for i in unknown[:5]) + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else "")
        raise TailorError(f"no image with id {shown} in the catalog")
    return wanted
