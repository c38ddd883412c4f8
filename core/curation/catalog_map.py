"""The map of the catalog: every image a point of a 2-D projection of its features (:mod:`core.features.projection`),
and what colours the points.

The features are those of the similar-images search (the attribute's newest finished run, else the best bundled
backbone, or a choice); what the store lacks is computed first, with progress and Cancel. The map is kept beside the
feature store, so the next time it opens at once; images added since are a reason to compute it again.

Colours (:func:`colouring`): the label (an image with several: its rarest), the predicted label and its confidence
(a run's stored predictions), whether the run disagrees with the label (Browse's Disagrees), the split, the label's
head / medium / tail group, labeled or not. Categories come in drawing order, so the tail is drawn on top.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Generator
from dataclasses import dataclass

import numpy as np

from core.analysis.imbalance import assign_groups
from core.base.errors import TailorError
from core.catalog import browse, columns, predictions
from core.catalog.store import Catalog, open_catalog
from core.curation.label_issues import FeatureChoice, default_extractor, extractor_features
from core.features.projection import METHODS, MapProgress, project, read_map, write_map
from core.training.events import FeatureProgress, Note, WeightsDownload
from core.training.runtime import pick_device

COLOUR_FIELDS = ("label", "predicted", "confidence", "disagrees", "split", "group", "unlabeled")
NEEDS_ATTRIBUTE = ("label", "predicted", "confidence", "disagrees", "group", "unlabeled")


@dataclass(frozen=True)
class CatalogMap:
    image_ids: np.ndarray  # int64, the catalog's images by id
    points: np.ndarray  # N x 2 float32
    features: str  # the extractor, for a user
    method: str
    computed: int  # features computed for this map
    reused: bool  # the map kept beside the store served
    seconds: float
    cancelled: bool = False


@dataclass(frozen=True)
class Colouring:
    field: str
    categories: tuple[str, ...]  # categorical fields, in drawing order (the tail last); () for confidence
    values: np.ndarray  # per image: a category's index (-1: none), or the confidence (NaN: none)
    order: np.ndarray  # the rows in drawing order: what is drawn last is on top
    note: str = ""  # where the colours come from ("predictions of run 3")


def catalog_map(
    catalog: Catalog | str,
    *,
    attribute: str | None = None,
    choice: FeatureChoice | None = None,
    method: str = "tsne",
    device: str = "auto",
    cancel: threading.Event | None = None,
    only_stored: bool = False,
) -> Generator[FeatureProgress | WeightsDownload | Note | MapProgress, None, CatalogMap | None]:
    """Every image's point on the map (computed, or read back from beside the feature store); ``only_stored``: None
    unless the map kept beside the store holds every image (nothing computed)."""
    started = time.perf_counter()
    if method not in METHODS:
        raise TailorError(f"unknown map method '{method}' (expected {' or '.join(METHODS)})")
    with open_catalog(catalog) as opened:
        ids = browse.all_ids(opened)
        if not ids:
            raise TailorError("the catalog has no images yet: tailor import CATALOG FOLDER first")
        if attribute is not None:
            opened.attribute(attribute)  # an unknown attribute: one line naming the known ones
        extractor = default_extractor(opened, attribute, choice or FeatureChoice())
        store = extractor.open_store(opened, pick_device(device))
        paths, hashes = predictions.image_paths(opened, ids)
        unique = list(dict.fromkeys(hashes))
        points = read_map(store, method, unique)
        before, reused = store.stored, points is not None
        if points is None and only_stored:
            return None
        if points is None:
            store.claim()  # a folder this catalog may not write to is refused before minutes of work
            features = yield from extractor_features(opened, extractor, store, ids, paths, hashes, device=device,
                                                     cancel=cancel)  # fmt: skip
            if features is None:
                return _cancelled(ids, extractor.describe(), method)
            points = yield from project(store.gather(unique), method, cancel)
            if points is None:
                return _cancelled(ids, extractor.describe(), method)
            write_map(store, method, unique, points)
    where = {h: row for row, h in enumerate(unique)}
    placed = points[[where[h] for h in hashes]]
    return CatalogMap(np.asarray(ids, dtype=np.int64), placed, extractor.describe(), method, store.stored - before,
                      reused, time.perf_counter() - started)  # fmt: skip


def _cancelled(ids: list[int], features: str, method: str) -> CatalogMap:
    return CatalogMap(np.asarray(ids, dtype=np.int64), np.zeros((0, 2), np.float32), features, method, 0, False, 0.0,
                      cancelled=True)  # fmt: skip


def colouring(
    catalog: Catalog, image_ids: np.ndarray, field: str, attribute: str | None = None, run_id: int | None = None
) -> Colouring:
    """What colours each image for ``field`` (one of :data:`COLOUR_FIELDS`)."""
    if field not in COLOUR_FIELDS:
        raise TailorError(f"unknown colour '{field}' (expected one of {', '.join(COLOUR_FIELDS)})")
    if field == "split":
        values = columns.splits(catalog, image_ids).astype(np.int64)
        return Colouring(field, columns.SPLITS, values, np.argsort(values, kind="stable"))
    if attribute is None:
        raise TailorError(f"colouring by {field} needs an attribute (-a NAME)")
    info = catalog.attribute(attribute)
    labels = _Labels.read(catalog, info.id, attribute, image_ids)
    if field == "label":
        return Colouring(field, labels.names, labels.rarest, np.argsort(labels.rarest, kind="stable"))
    if field == "unlabeled":
        values = (labels.rarest < 0).astype(np.int64)
        return Colouring(field, ("labeled", "unlabeled"), values, np.argsort(values, kind="stable"))
    if field == "group":
        return _groups(catalog, attribute, labels)
    return _predicted(catalog, info.id, image_ids, field, run_id, labels)


@dataclass(frozen=True)
class _Labels:
    """The attribute's labels, most images first, and the images' labels: read once for every colour."""

    names: tuple[str, ...]
    counts: tuple[int, ...]
    index: dict[int, int]  # label id -> its place in ``names``
    rows: np.ndarray  # (row of an image, label id) pairs
    label_ids: np.ndarray
    rarest: np.ndarray  # each image's rarest label's index (-1: none)

    @classmethod
    def read(cls, catalog: Catalog, attribute_id: int, attribute: str, image_ids: np.ndarray) -> _Labels:
        counts = catalog.label_counts(attribute).labels  # most images first
        index = {c.label_id: i for i, c in enumerate(counts)}
        rows, label_ids = columns.label_pairs(catalog, attribute_id, image_ids)
        rarest = np.full(len(image_ids), -1, dtype=np.int64)
        np.maximum.at(rarest, rows, np.array([index[i] for i in label_ids.tolist()], dtype=np.int64))
        names = tuple(c.name for c in counts)
        return cls(names, tuple(c.count for c in counts), index, rows, label_ids, rarest)


def _groups(catalog: Catalog, attribute: str, labels: _Labels) -> Colouring:
    train = {c.name: c.count for c in catalog.label_counts(attribute, "train").labels}
    counts = [train.get(n, 0) for n in labels.names] if any(train.values()) else list(labels.counts)
    groups = ("head", "medium", "tail")
    of_label = np.array([groups.index(g) for g in assign_groups(counts)] if labels.names else [], dtype=np.int64)
    rarest = labels.rarest
    values = np.where(rarest >= 0, of_label[np.maximum(rarest, 0)] if len(of_label) else -1, -1)
    note = "training images per label" if any(train.values()) else "images per label (no training split)"
    return Colouring("group", groups, values, np.argsort(values, kind="stable"), note)


def _predicted(
    catalog: Catalog, attribute_id: int, image_ids: np.ndarray, field: str, run_id: int | None, labels: _Labels
) -> Colouring:
    runs = predictions.runs_with_predictions(catalog, attribute_id)
    if run_id is None:
        if not runs:
            raise TailorError("no run of this attribute has stored predictions: Runs ▸ Predict (tailor predict) first")
        run_id = runs[0]
    elif run_id not in runs:
        raise TailorError(f"run {run_id} has no stored predictions of this attribute: tailor predict CATALOG {run_id}")
    label_ids, scores = columns.top_predictions(catalog, run_id, image_ids)
    note = f"predictions of run {run_id}"
    if field == "confidence":
        order = np.argsort(np.nan_to_num(scores, nan=-1.0), kind="stable")
        return Colouring(field, (), scores, order, note)
    predicted = np.array([labels.index.get(i, -1) for i in label_ids.tolist()], dtype=np.int64)
    if field == "predicted":
        return Colouring(field, labels.names, predicted, np.argsort(predicted, kind="stable"), note)
    agrees = np.zeros(len(image_ids), dtype=bool)
    agrees[labels.rows[labels.label_ids == label_ids[labels.rows]]] = True
    values = np.where((labels.rarest < 0) | (predicted < 0), -1, np.where(agrees, 0, 1))
    return Colouring(field, ("agrees", "disagrees"), values, np.argsort(values, kind="stable"), note)
