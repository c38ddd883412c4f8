"""The feature pass: images without stored features go through the frozen backbone in batches, one chunk at a
time into the store (see :mod:`core.features.store`). A chunk is decoded (a few threads) before it runs through
the network: on a CPU, decoding beside the network's own threads slowed the pass more than it overlapped (40 against
49 images/s on 2 cores; decoding is about 2% of the time). Cancel (a ``threading.Event``, checked before every
batch) stops after the last finished chunk; the next pass continues from there."""

from __future__ import annotations

import threading
from collections.abc import Generator

import numpy as np
import torch
from torch import nn

from core.base.iteration import drain
from core.base.memory import keep_freed_memory
from core.features.store import FeatureStore
from core.training.dataset import load_cache
from core.training.events import FeatureProgress, Note
from core.training.runtime import Normaliser

CHUNK_IMAGES = 2048


def extract(
    store: FeatureStore,
    backbone: nn.Module,
    statistics: tuple[tuple[float, ...], tuple[float, ...]],
    hashes: list[str],
    paths: list[str],
    image_size: int,
    *,
    device: torch.device,
    cancel: threading.Event | None = None,
    batch_size: int = 128,
    run_id: int = 0,
) -> Generator[FeatureProgress | Note, None, bool]:
    """Compute what ``store`` lacks of these images (``hashes[i]`` is the content of ``paths[i]``); yields
    progress over the distinct images, returns False when cancelled."""
    todo = store.missing(hashes)
    for note in store.notes:  # damaged chunks set aside while indexing: one line each
        yield Note(run_id, note)
    first_path = dict(zip(reversed(hashes), reversed(paths)))  # the first path of each hash
    total = len(set(hashes))
    done = cached = total - len(todo)
    yield FeatureProgress(run_id, done, total, cached)
    if not todo:
        return True
    keep_freed_memory()
    backbone.to(device).eval()
    normalise = Normaliser(device, device.type == "cuda", *statistics)
    for start in range(0, len(todo), CHUNK_IMAGES):
        chunk = todo[start : start + CHUNK_IMAGES]
        pixels = drain(load_cache([first_path[h] for h in chunk], image_size))
        features = []
        for first in range(0, len(chunk), batch_size):
            if cancel is not None and cancel.is_set():
                return False
            features.append(_forward(backbone, normalise(pixels[first : first + batch_size]), device))
            done += min(batch_size, len(chunk) - first)
            yield FeatureProgress(run_id, done, total, cached)
        store.add(chunk, np.concatenate(features), [first_path[h] for h in chunk])
    return True


@torch.inference_mode()
def _forward(backbone: nn.Module, images: torch.Tensor, device: torch.device) -> np.ndarray:
    with torch.autocast(device.type, enabled=device.type == "cuda"):
        out = backbone(images)
    result: np.ndarray = out.float().flatten(1).cpu().numpy()
    return result
