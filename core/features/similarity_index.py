"""An approximate nearest-neighbour index beside a feature store, for similar images in large catalogs.

faiss's inverted file with a float16 scalar quantizer over the L2-normalised features (cosine = inner product):
chosen by measuring hnswlib, usearch and faiss (``benchmarks/bench_similar_index.py``: at 1,000,000 x 1,280 it
built in 22 s, took 2.4 GiB and answered in 3 ms with recall@10 1.000, where the exact search takes 3.7 s). Stores
below :data:`EXACT_BELOW` images are searched exactly instead.

The index lives in the store's folder (``similarity.faiss`` and the ids it holds, ``similarity.ids.npy``); each id
is the first 8 bytes of an image's content hash. It grows as the store does: a search first adds the features the
index lacks. A file that cannot be read, or whose ids disagree with it, is rebuilt.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from core.base.files import atomic_write
from core.features.store import FeatureStore
from core.features.vectors import unit_rows

EXACT_BELOW = 50_000  # images: below this an exact search is as fast
TRAIN_SAMPLE = 60_000  # features the coarse quantizer is trained on
ADD_CHUNK = 50_000


def hash_ids(content_hashes: list[str]) -> np.ndarray:
    """Each content hash's id in the index: its first 8 bytes as a non-negative int64."""
    return np.array([int(h[:16], 16) & 0x7FFF_FFFF_FFFF_FFFF for h in content_hashes], dtype=np.int64)


def search(store: FeatureStore, direction: np.ndarray, k: int, allowed: list[str]) -> list[tuple[int, float]]:
    """The ``k`` ids (of :func:`hash_ids`) among ``allowed`` content hashes nearest to the unit vector
    ``direction``, with their cosine similarity, nearest first (the index brought up to date first)."""
    import faiss

    index = _up_to_date(store)
    selector = faiss.IDSelectorBatch(hash_ids(allowed))  # kept alive here for the search's length
    params = faiss.SearchParametersIVF()
    params.sel = selector
    params.nprobe = _probes(index.nlist)
    similarity, ids = index.search(direction.astype(np.float32)[None, :], k, params=params)
    return [(int(i), float(s)) for i, s in zip(ids[0], similarity[0]) if i >= 0]


def _probes(lists: int) -> int:
    """Lists searched: all of a small index; else one in 16, at least 64 (recall@10 0.98 on CIFAR-10's 60,000
    EfficientNet-Lite0 features, where one in 32 gave 0.945)."""
    return lists if lists <= 128 else max(64, lists // 16)


def _paths(store: FeatureStore) -> tuple[Path, Path]:
    return store.folder / "similarity.faiss", store.folder / "similarity.ids.npy"


def key_ids(keys: np.ndarray) -> np.ndarray:
    """:func:`hash_ids` of the store's keys (the hashes' first bytes), without a Python loop."""
    padded = np.ascontiguousarray(keys, dtype=keys.dtype if keys.dtype.itemsize >= 8 else "S8")
    first = np.ndarray(len(padded), dtype=">u8", buffer=padded.tobytes(), strides=(padded.dtype.itemsize,))
    return (first & np.uint64(0x7FFF_FFFF_FFFF_FFFF)).astype(np.int64)


def _up_to_date(store: FeatureStore):  # type: ignore[no-untyped-def]  # a faiss index
    keys = store.index()[0]
    index, indexed = _load(store, store.width)
    if index is None:
        index, indexed = _trained(store, _hex(keys)), np.zeros(0, np.int64)
    ids = key_ids(keys)
    new = ~np.isin(ids, indexed)
    if new.any():
        fresh = _hex(keys[new])
        for start in range(0, len(fresh), ADD_CHUNK):
            part = fresh[start : start + ADD_CHUNK]
            index.add_with_ids(unit_rows(store.gather(part)), hash_ids(part))
        indexed = np.concatenate([indexed, ids[new]])
        _save(store, index, indexed)
    return index


def _hex(keys: np.ndarray) -> list[str]:
    """Store keys as the hash prefixes ``FeatureStore.gather`` takes (NumPy drops a key's trailing zero bytes)."""
    return [bytes(key).hex().ljust(32, "0") for key in keys]


def _trained(store: FeatureStore, hashes: list[str]):  # type: ignore[no-untyped-def]
    import faiss

    rng = np.random.default_rng(0)
    sample = [hashes[i] for i in sorted(rng.choice(len(hashes), min(len(hashes), TRAIN_SAMPLE), replace=False))]
    features = unit_rows(store.gather(sample))
    lists = int(min(4096, max(1, min(4 * math.sqrt(len(hashes)), len(sample) // 39))))
    quantizer = faiss.IndexFlatIP(features.shape[1])
    index = faiss.IndexIVFScalarQuantizer(
        quantizer, features.shape[1], lists, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT
    )
    index.train(features)
    return index


def _load(store: FeatureStore, width: int):  # type: ignore[no-untyped-def]
    """The saved index and its ids; (None, None) when absent, unreadable or inconsistent with itself or with the
    store's features (then rebuilt)."""
    import faiss

    index_path, ids_path = _paths(store)
    if not index_path.is_file() or not ids_path.is_file():
        return None, None
    try:
        index = faiss.deserialize_index(np.fromfile(index_path, dtype=np.uint8))
        ids = np.load(ids_path, allow_pickle=False)
    except (RuntimeError, OSError, ValueError):
        return None, None
    if ids.dtype != np.int64 or ids.ndim != 1 or index.ntotal != len(ids) or not hasattr(index, "nlist"):
        return None, None
    if index.d != width or index.metric_type != faiss.METRIC_INNER_PRODUCT or not index.is_trained:
        return None, None
    return index, ids


def _save(store: FeatureStore, index: Any, ids: np.ndarray) -> None:
    import faiss

    index_path, ids_path = _paths(store)
    store.claim()  # the catalog's own, real folder, as for the store's chunks
    with atomic_write(ids_path) as fh:
        np.save(fh, ids)
    with atomic_write(index_path) as fh:
        fh.write(faiss.serialize_index(index).tobytes())
