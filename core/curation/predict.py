"""Predicting catalog images with a finished run's own model, stored in the catalog (``core.catalog.predictions``).

Every run's model is a backbone and a head, so prediction is two steps: the backbone's features of the images,
through the feature store (:mod:`core.features`; what is stored is never computed again), then the head on them.
A head-only run reads the store its head was trained on; a whole-network run gets a store of its own backbone's
features (``Extractor(run_id=...)``), which the label-issue finder and the near-duplicate search reuse. The scores
are what the run itself records (softmax, LDAM's scaled softmax, or sigmoid), so a prediction's confidence and the
run's thresholds at a target precision speak the same language. Nothing is written before every score is
computed; the write replaces the run's earlier predictions of those images in one transaction.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from core.base.errors import TailorError
from core.catalog import predictions
from core.catalog.records import RunStatus
from core.catalog.runs import RunInfo, get_run
from core.catalog.store import Catalog, open_catalog
from core.config import TrainConfig
from core.features.extract import extract
from core.features.extractor import Extractor
from core.features.store import FeatureStore
from core.heads.views import view_extractors, view_scores
from core.training.backbones import Classifier
from core.training.events import FeatureProgress, Note
from core.training.export import load_run_model
from core.training.runtime import pick_device


@dataclass(frozen=True)
class WriteProgress:
    """Prediction rows written so far (of ``total``), in the one transaction."""

    run_id: int
    done: int
    total: int


@dataclass(frozen=True)
class PredictResult:
    run_id: int
    image_ids: list[int]
    label_names: list[str]
    scores: np.ndarray  # N x C, the run's label order
    computed: int  # images that went through the backbone (the rest were in the feature store)
    seconds: float
    cancelled: bool = False

    @property
    def images_per_second(self) -> float:
        return len(self.image_ids) / self.seconds if self.seconds > 0 else 0.0


def run_extractor(catalog: Catalog, run: RunInfo) -> Extractor:
    """The extractor whose features the run's head reads: a head-only run's own, else the run's backbone."""
    config = run.config
    if config.head_only:
        return Extractor.for_config(catalog, config)
    return Extractor(config.backbone, None, config.pixels, config.normalization, run_id=run.id)


def score_scale(config: TrainConfig) -> float:
    """LDAM's runs record softmax(s * cos): the same scale here."""
    return config.score_scale


def check_run(catalog: Catalog, run_id: int, attribute: str | None = None) -> tuple[RunInfo, int]:
    """The run and its attribute's id, when its model can predict (else one line naming the problem);
    ``attribute``: the attribute the caller labels, which must be the run's."""
    run = get_run(catalog, run_id)
    if attribute is not None and attribute != run.attribute:
        raise TailorError(f"run {run_id} was trained on '{run.attribute}', not '{attribute}'")
    if run.status != RunStatus.FINISHED:
        raise TailorError(f"run {run_id} is {run.status}; only a finished run can predict")
    attribute_id = predictions.run_attribute_id(catalog, run_id)
    if attribute_id is None:
        raise TailorError(f"run {run_id}'s attribute '{run.attribute}' was deleted; its predictions have no labels")
    current = predictions.label_names(catalog, attribute_id)
    gone = [label.name for label in run.labels if label.id not in current]
    if gone:
        raise TailorError(
            f"run {run_id}'s labels {', '.join(repr(name) for name in gone[:5])} were deleted or merged since it "
            "trained: its predictions would name labels the catalog no longer has; train a new run"
        )
    model = Path(run.directory) / "model.pt"
    if not model.is_file():
        raise TailorError(f"run {run_id} has no stored model ({model} is missing); train it again")
    return run, attribute_id


def missing_files(paths: Sequence[str], image_ids: Sequence[int]) -> None:
    for image_id, path in zip(image_ids, paths):
        if not Path(path).is_file():
            raise TailorError(f"image {image_id}: {path} is missing on disk (nothing was written)")


def features_of(
    catalog: Catalog,
    store: FeatureStore,
    model: Classifier,
    extractor: Extractor,
    image_ids: Sequence[int],
    paths: list[str],
    hashes: list[str],
    *,
    device: torch.device,
    cancel: threading.Event | None,
    run_id: int,
    first: int | None = None,
) -> Generator[FeatureProgress | Note, None, np.ndarray | None]:
    """The extractor's features of ``image_ids`` (their ``paths`` and content ``hashes``; N x D float16),
    computing what the store lacks; None when cancelled. Images whose features are not stored must be on disk
    (checked before any is computed). ``first``: read back only the first so many (the others are stored)."""
    lacking = set(store.missing(hashes))
    missing_files(
        [p for p, h in zip(paths, hashes) if h in lacking], [i for i, h in zip(image_ids, hashes) if h in lacking]
    )
    statistics = extractor.statistics()
    finished = yield from extract(
        store, model.backbone, statistics, hashes, paths, extractor.image_size, device=device, cancel=cancel,
        run_id=run_id,
    )  # fmt: skip
    return store.gather(hashes[:first] if first is not None else hashes) if finished else None


def head_scores(model: Classifier, views: list[np.ndarray], config: TrainConfig, multi_label: bool) -> np.ndarray:
    """The run's scores (what it records) of stored features (one array per view: core.heads.views)."""
    return view_scores(model.head, views, score_scale(config), multi_label)


def predict(
    catalog: Catalog | str,
    run_id: int,
    *,
    scope: str = "unlabeled",
    split: str | None = None,
    image_ids: Sequence[int] | None = None,
    attribute: str | None = None,
    device: str = "auto",
    cancel: threading.Event | None = None,
) -> Generator[FeatureProgress | Note | WriteProgress, None, PredictResult]:
    """Score images (``image_ids``, or a scope: unlabeled / all / split) with the run's model and store the
    scores; yields progress, returns what was predicted (``cancelled`` with nothing written when cancelled)."""
    started = time.perf_counter()
    with open_catalog(catalog) as opened:
        run, attribute_id = check_run(opened, run_id, attribute)
        ids = list(image_ids) if image_ids is not None else predictions.scope_ids(opened, attribute_id, scope, split)
        current = predictions.label_names(opened, attribute_id)  # a label renamed since the run: its name now
        names = [current[label.id] for label in run.labels]
        if not ids:
            return PredictResult(run_id, [], names, np.zeros((0, len(names))), 0, time.perf_counter() - started)
        model, config, _ = load_run_model(opened, run_id)
        on = pick_device(device)
        paths, hashes = predictions.image_paths(opened, ids)
        views, computed = [], 0
        for extractor in view_extractors(run_extractor(opened, run), config):  # + the mirrored view, if it has one
            store = extractor.open_store(opened, on)
            stored_before = store.stored
            features = yield from features_of(
                opened, store, model, extractor, ids, paths, hashes, device=on, cancel=cancel, run_id=run_id,
            )  # fmt: skip
            if features is None:
                return PredictResult(run_id, ids, names, np.zeros((0, len(names))), 0, 0.0, cancelled=True)
            views.append(features)
            computed += store.stored - stored_before
        scores = head_scores(model, views, config, run.kind == "multi")
        written = yield from _write(opened, run, ids, scores, cancel)
        return PredictResult(run_id, ids, names, scores, computed, time.perf_counter() - started, not written)


def _write(
    catalog: Catalog, run: RunInfo, ids: list[int], scores: np.ndarray, cancel: threading.Event | None
) -> Generator[WriteProgress, None, bool]:
    label_ids = [label.id for label in run.labels]
    writer = predictions.write(catalog, run.id, label_ids, ids, scores, cancel=cancel)
    while True:
        try:
            done = next(writer)
        except StopIteration as stop:
            return bool(stop.value)
        yield WriteProgress(run.id, done, len(ids))
