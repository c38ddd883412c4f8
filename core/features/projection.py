"""A 2-D map of a feature store's images: the projection, and the file that keeps it beside the store.

The features are centred, L2-normalised and reduced to ``PCA_DIMENSIONS`` by PCA, then laid out in 2-D by openTSNE
(FFT-accelerated t-SNE, PCA initialisation, perplexity 30; Poličar et al. 2024) or umap-learn (15 neighbours,
min_dist 0.1). Chosen by measuring both (``benchmarks/bench_map.py``; docs/benchmarks.md "The map of the
catalog"): openTSNE is the default because it reports progress and stops on Cancel between iterations (umap-learn
offers neither) and separated CIFAR-10's labels as well. Above ``FIT_AT_MOST`` images the layout is fitted on a
seeded sample and the others are placed into it (openTSNE's ``transform``), which keeps 1,000,000 images in minutes.

The map lives in the store's folder (``map-<method>.npz``: the ids of :func:`core.features.similarity_index.hash_ids`
and their 2-D points); a map that lacks some of the wanted images is computed again, and a file that cannot be read
or is inconsistent is ignored (and replaced).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.base.errors import TailorError
from core.base.files import atomic_write
from core.features.similarity_index import hash_ids
from core.features.store import FeatureStore
from core.features.vectors import unit_rows

METHODS = ("tsne", "umap")
PCA_DIMENSIONS = 50
FIT_AT_MOST = 100_000  # images the layout is fitted on; the others are placed into it
TSNE_ITERATIONS = (250, 500)  # early exaggeration, then the rest (openTSNE's defaults)
SEED = 0
EVERY = 25  # t-SNE iterations between progress reports (and Cancel checks)


@dataclass(frozen=True)
class MapProgress:
    """The projection's progress: ``done`` of ``total`` steps (PCA, layout iterations, placing the rest)."""

    done: int
    total: int
    what: str


def project(
    features: np.ndarray, method: str = "tsne", cancel: threading.Event | None = None
) -> Generator[MapProgress, None, np.ndarray | None]:
    """N x 2 float32 points of N feature rows; yields progress, returns None when cancelled."""
    if method not in METHODS:
        raise TailorError(f"unknown map method '{method}' (expected {' or '.join(METHODS)})")
    if len(features) < 5:
        raise TailorError(f"a map needs at least 5 images with features; there are {len(features)}")
    reduced = _reduced(features)
    yield MapProgress(1, 10, "PCA")
    fit_rows = _fit_rows(len(reduced))
    if method == "umap":
        return (yield from _umap(reduced, fit_rows, cancel))
    return (yield from _tsne(reduced, fit_rows, cancel))


def _reduced(features: np.ndarray) -> np.ndarray:
    from sklearn.decomposition import PCA

    rows = np.asarray(features, dtype=np.float32)
    rows = unit_rows(rows, rows.mean(axis=0))
    components = min(PCA_DIMENSIONS, rows.shape[1], len(rows) - 1)
    reduced: np.ndarray = PCA(components, svd_solver="randomized", random_state=SEED).fit_transform(rows)
    return reduced.astype(np.float32)


def _fit_rows(n: int) -> np.ndarray:
    if n <= FIT_AT_MOST:
        return np.arange(n)
    return np.sort(np.random.default_rng(SEED).choice(n, FIT_AT_MOST, replace=False))


def _tsne(
    reduced: np.ndarray, fit_rows: np.ndarray, cancel: threading.Event | None
) -> Generator[MapProgress, None, np.ndarray | None]:
    from openTSNE import TSNE

    total = sum(TSNE_ITERATIONS) + (1 if len(fit_rows) < len(reduced) else 0)
    events: list[MapProgress] = []

    def callback(_iteration: int, _error: float, _embedding: np.ndarray) -> bool:  # every EVERY iterations
        events.append(MapProgress(min(EVERY * (len(events) + 1), total - 1), total, "layout"))
        return bool(cancel is not None and cancel.is_set())  # True stops openTSNE

    perplexity = min(30.0, max(2.0, (len(fit_rows) - 1) / 3))  # a small catalog cannot have 30 neighbours' worth
    tsne = TSNE(n_components=2, perplexity=perplexity, initialization="pca", n_jobs=_threads(), random_state=SEED,
                early_exaggeration_iter=TSNE_ITERATIONS[0], n_iter=TSNE_ITERATIONS[1],
                callbacks=callback, callbacks_every_iters=EVERY)  # fmt: skip
    fitted = yield from _in_thread(lambda: tsne.fit(reduced[fit_rows]), events, cancel)
    if fitted is None:
        return None
    points = np.empty((len(reduced), 2), np.float32)
    points[fit_rows] = np.asarray(fitted)
    rest = np.setdiff1d(np.arange(len(reduced)), fit_rows)
    if rest.size:
        yield MapProgress(total - 1, total, "placing the other images")
        placed = yield from _in_thread(lambda: fitted.transform(reduced[rest]), events, cancel)
        if placed is None:
            return None
        points[rest] = np.asarray(placed)
    return points


def _umap(
    reduced: np.ndarray, fit_rows: np.ndarray, cancel: threading.Event | None
) -> Generator[MapProgress, None, np.ndarray | None]:
    try:
        import umap
    except ImportError:
        raise TailorError("--method umap needs umap-learn: pip install 'tailor[umap]' (or use tsne)") from None

    events: list[MapProgress] = [MapProgress(2, 10, "layout (umap-learn reports no progress)")]
    model = umap.UMAP(n_neighbors=min(15, len(fit_rows) - 1), min_dist=0.1, random_state=SEED, n_jobs=1)
    fitted = yield from _in_thread(lambda: model.fit_transform(reduced[fit_rows]), events, cancel)
    if fitted is None:
        return None
    points = np.empty((len(reduced), 2), np.float32)
    points[fit_rows] = fitted
    rest = np.setdiff1d(np.arange(len(reduced)), fit_rows)
    if rest.size:
        placed = yield from _in_thread(lambda: model.transform(reduced[rest]), events, cancel)
        if placed is None:
            return None
        points[rest] = placed
    return points


def _in_thread(
    work: Callable[[], Any], events: list[MapProgress], cancel: threading.Event | None
) -> Generator[MapProgress, None, Any]:
    """Run ``work`` on a thread, passing on its progress; None when cancelled (openTSNE stops at its next callback;
    a umap-learn fit runs to its end in the background and is dropped)."""
    result: list[Any] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            result.append(work())
        except BaseException as exc:  # raised again on the caller's thread
            failure.append(exc)

    thread = threading.Thread(target=run, name="tailor-map", daemon=True)
    thread.start()
    seen = 0
    while thread.is_alive():
        thread.join(0.2)
        while seen < len(events):
            yield events[seen]
            seen += 1
        if cancel is not None and cancel.is_set():
            return None
    if failure:
        if cancel is not None and cancel.is_set():
            return None
        raise failure[0]
    return result[0] if result and not (cancel is not None and cancel.is_set()) else None


def _threads() -> int:
    import os

    return max(1, min(os.cpu_count() or 1, 8))


# -- the map beside the store ---------------------------------------------------------------------------------


def map_path(store: FeatureStore, method: str) -> Path:
    return store.folder / f"map-{method}.npz"


def read_map(store: FeatureStore, method: str, hashes: list[str]) -> np.ndarray | None:
    """The stored points of these content hashes (N x 2), or None when the file is absent, unreadable,
    inconsistent, or lacks one of them."""
    path = map_path(store, method)
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            ids, points = data["ids"], data["points"]
    except (OSError, ValueError, KeyError, EOFError):
        return None
    if ids.dtype != np.int64 or ids.ndim != 1 or points.shape != (len(ids), 2) or not np.isfinite(points).all():
        return None
    order = np.argsort(ids)
    wanted = hash_ids(hashes)
    at = np.searchsorted(ids[order], wanted)
    at = np.minimum(at, len(ids) - 1)
    if len(ids) == 0 or not np.array_equal(ids[order][at], wanted):
        return None
    result: np.ndarray = points[order][at].astype(np.float32)
    return result


def write_map(store: FeatureStore, method: str, hashes: list[str], points: np.ndarray) -> None:
    store.claim()  # the catalog's own, real folder, as for the store's chunks
    with atomic_write(map_path(store, method)) as fh:
        np.savez(fh, ids=hash_ids(hashes), points=points.astype(np.float32))
