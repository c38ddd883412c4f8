"""Filling a feature store for a catalog's images ahead of any run (``tailor features``): the heads, label issues,
duplicates and similar images that use the same extractor then read the store instead of waiting for a pass.

Under ``torchrun`` (``--distributed``) every process computes its share of each chunk on its own GPU or CPU
cores and rank 0 gathers and writes them (core.features.extract): a team's several GPUs or machines fill one store.
The store's folder must be the same on every rank (one machine, or a shared file system).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Generator, Sequence
from dataclasses import dataclass

from core.base.errors import TailorError
from core.catalog import browse, predictions
from core.catalog.store import Catalog
from core.features.extract import extract
from core.features.extractor import Extractor, build_model
from core.training import distributed as parallel
from core.training import weights
from core.training.backbones import Classifier
from core.training.events import FeatureProgress, Note, WeightsDownload
from core.training.precision import choose
from core.training.runtime import pick_device


@dataclass(frozen=True)
class FeaturePass:
    """What a pass did (on rank 0; ``main`` False on the other ranks of a distributed pass)."""

    store: str
    features: str  # the extractor, for a user
    images: int  # distinct images of the catalog (or of the ids asked for)
    computed: int
    seconds: float
    precision: str
    processes: int = 1
    cancelled: bool = False
    main: bool = True

    @property
    def images_per_second(self) -> float:
        return self.computed / self.seconds if self.seconds > 0 else 0.0


def fill_store(
    catalog: Catalog,
    extractor: Extractor,
    *,
    image_ids: Sequence[int] | None = None,
    device: str = "auto",
    cancel: threading.Event | None = None,
    distributed: bool = False,
) -> Generator[FeatureProgress | Note | WeightsDownload, None, FeaturePass]:
    """Compute the features the store of ``extractor`` lacks for ``image_ids`` (default: every image)."""
    started = time.perf_counter()
    group = parallel.start(device) if distributed else None
    try:
        on = pick_device(device)
        on = parallel.device_of(group, on) if group is not None else on
        ids = list(image_ids) if image_ids is not None else _all_ids(catalog)
        paths, hashes = predictions.image_paths(catalog, ids)
        if extractor.pretrained == "imagenet" and (group is None or group.main):
            yield from weights.ensure(extractor.backbone, cancel)  # rank 0 downloads, the others wait below
        if group is not None:
            parallel.barrier(group)
        model, _ = build_model(catalog, extractor, 2, False)  # the head is not used: features only
        assert isinstance(model, Classifier)
        store = extractor.open_store(catalog, on)
        before = store.stored
        finished = yield from extract(
            store, model.backbone, extractor.statistics(), hashes, paths, extractor.image_size, device=on,
            cancel=cancel, group=group,
        )  # fmt: skip
        computed = store.stored - before if group is None or group.main else 0
        return FeaturePass(
            str(store.folder), extractor.describe(), len(set(hashes)), computed, time.perf_counter() - started,
            choose(on).name, group.world if group else 1, not finished, group is None or group.main,
        )  # fmt: skip
    finally:
        if group is not None:
            parallel.stop()


def _all_ids(catalog: Catalog) -> list[int]:
    ids = browse.all_ids(catalog)
    if not ids:
        raise TailorError("the catalog has no images yet: tailor import CATALOG FOLDER first")
    return ids
