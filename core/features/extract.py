"""The feature pass: images without stored features go through the frozen backbone in batches, into the store a
chunk at a time (see :mod:`core.features.store`).

Decoding runs in worker threads a few batches ahead of the network (Pillow releases the GIL; JPEGs much larger
than the input size are decoded at a reduced DCT scale, :func:`core.training.dataset.decode_square`), so large
photos cost the network's time, not the decoder's. The forward pass runs in the store's precision
(:mod:`core.training.precision`: bfloat16 autocast with channels_last on CPUs with bfloat16 units), through a copy
of the backbone with its batch norms folded into the convolutions (:mod:`core.features.folding`). Cancel (a
``threading.Event``, checked before every batch) stops after the last finished chunk; the next pass continues
from there.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Generator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
import torch
from torch import nn

from core.base.memory import keep_freed_memory
from core.features.folding import folded
from core.features.store import FeatureStore
from core.training import distributed as parallel
from core.training.dataset import decode_square
from core.training.events import FeatureProgress, Note
from core.training.precision import Precision, choose
from core.training.runtime import Normaliser

CHUNK_IMAGES = 2048  # images per chunk written to the store
DECODE_AHEAD = 3  # batches decoded ahead of the network
CPU_BATCH, GPU_BATCH = 64, 256  # images per forward pass (benchmarks/bench_features.py batch measures the CPU's)
CPU_DECODERS, GPU_DECODERS = 2, 8  # decoding threads (a GPU's pass waits on decoding: more of them)


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
    batch_size: int | None = None,
    run_id: int = 0,
    decoders: int | None = None,
    group: parallel.Group | None = None,
) -> Generator[FeatureProgress | Note, None, bool]:
    """Compute what ``store`` lacks of these images (``hashes[i]`` is the content of ``paths[i]``); yields
    progress over the distinct images, returns False when cancelled. ``group``: one process of a torchrun group
    (every rank computes its share of each chunk, rank 0 gathers and writes)."""
    todo = store.missing(hashes)
    for note in store.notes:  # damaged chunks set aside while indexing: one line each
        yield Note(run_id, note)
    first_path = dict(zip(reversed(hashes), reversed(paths)))  # the first path of each hash
    total = len(set(hashes))
    done = cached = total - len(todo)
    yield FeatureProgress(run_id, done, total, cached)
    if group is not None:
        parallel.barrier(group)  # every rank has read the store before rank 0 writes to it
    if not todo:
        return True
    precision = store_precision(store, device)
    yield Note(run_id, f"feature pass in {precision.describe()}" + (f" on {group.world} processes" if group else ""))
    keep_freed_memory()
    backbone, _folded = folded(backbone.to(device).eval(), image_size)  # an inference copy: the caller's is kept
    if precision.channels_last:
        backbone.to(memory_format=torch.channels_last)
    normalise = Normaliser(device, precision.channels_last, *statistics)
    mirrored = store.key.get("view") == "mirrored"  # the images flipped left to right before the network
    rank, world = (group.rank, group.world) if group is not None else (0, 1)
    batch_size = batch_size or (GPU_BATCH if device.type == "cuda" else CPU_BATCH)
    decoders = decoders or (GPU_DECODERS if device.type == "cuda" else CPU_DECODERS)
    chunks = [todo[start : start + CHUNK_IMAGES] for start in range(0, len(todo), CHUNK_IMAGES)]
    shares = [chunk[rank::world] for chunk in chunks]  # this process's images of each chunk
    plan = [
        [first_path[h] for h in share[b : b + batch_size]] for share in shares for b in range(0, len(share), batch_size)
    ]
    batches = decoded_batches(plan, image_size, decoders, pinned=device.type == "cuda")
    try:
        for chunk, share in zip(chunks, shares):
            rows = []
            for _ in range(0, len(share), batch_size):
                if cancel is not None and cancel.is_set():
                    return False
                pixels = next(batches)
                pixels = pixels.flip(-1) if mirrored else pixels
                rows.append(_forward(backbone, normalise(pixels), precision))
                done += min(len(pixels) * world, total - done)
                yield FeatureProgress(run_id, done, total, cached)
            features = _gathered(rows, len(chunk), group)
            if features is not None:
                store.add(chunk, features, [first_path[h] for h in chunk])
    finally:
        batches.close()
    return True


def _gathered(rows: list[np.ndarray], count: int, group: parallel.Group | None) -> np.ndarray | None:
    """The chunk's features in chunk order (rank r computed rows r, r + world, ...); None on ranks other than 0."""
    own = np.concatenate(rows) if rows else np.zeros((0, 0), np.float32)
    if group is None:
        return own
    parts = parallel.gather_to_main(own, group)
    if parts is None:
        return None
    width = max(part.shape[1] for part in parts)
    merged = np.empty((count, width), np.float32)
    for r, part in enumerate(parts):
        if len(part):
            merged[r :: group.world] = part
    return merged


def store_precision(store: FeatureStore, device: torch.device) -> Precision:
    """The precision this pass runs in: the store's (recorded in its key when not float32)."""
    precision = choose(device)
    recorded = str(store.key.get("precision", "fp32"))
    if recorded != precision.name:  # the store was opened for another device or setting
        raise RuntimeError(f"feature store of precision {recorded} filled in {precision.name}")
    return precision


def decoded_batches(plan: list[list[str]], size: int, workers: int, pinned: bool = False) -> Generator[torch.Tensor]:
    """Each batch of paths of ``plan`` as a uint8 N x 3 x size x size tensor (in pinned memory for a GPU's
    asynchronous copy), in order, decoded by ``workers`` threads up to :data:`DECODE_AHEAD` batches ahead of the
    consumer; closing the generator stops the decoding."""
    pending: Iterator[list[str]] = iter(plan)
    queue: deque[Future[torch.Tensor]] = deque()
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="tailor-decode") as pool:

        def submit() -> None:
            batch = next(pending, None)
            if batch is not None:
                queue.append(pool.submit(_decode_batch, batch, size, pinned))

        for _ in range(DECODE_AHEAD):
            submit()
        try:
            while queue:
                batch = queue.popleft().result()
                submit()
                yield batch
        finally:
            for future in queue:
                future.cancel()


def _decode_batch(paths: list[str], size: int, pinned: bool) -> torch.Tensor:
    _lower_priority()
    batch = torch.empty((len(paths), 3, size, size), dtype=torch.uint8, pin_memory=pinned)
    for i, path in enumerate(paths):
        batch[i] = torch.from_numpy(decode_square(path, size))
    return batch


def _lower_priority() -> None:
    """The decoding thread yields the cores to the network's threads: it runs when they wait (a decoder taking a
    core from one of the network's threads stalls all of them at the next barrier); the batches decoded ahead keep
    the network fed, and when they run out the network waits, its cores idle and the decoder catches up."""
    if os.environ.get("TAILOR_DECODE_NICE", "1") == "0":
        return
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
    except (AttributeError, OSError):  # not Linux, or not allowed: the default priority
        pass


@torch.inference_mode()
def _forward(backbone: nn.Module, images: torch.Tensor, precision: Precision) -> np.ndarray:
    with precision.autocast():
        out = backbone(images)
    result: np.ndarray = out.float().flatten(1).cpu().numpy()
    return result
