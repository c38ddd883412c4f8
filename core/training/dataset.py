"""Training data: a torch Dataset over a run's snapshot (:mod:`core.catalog.snapshot`) and the decoded-image cache.

Images are decoded once (through :mod:`core.ingest.images`, RGB, resized to a square) into a uint8 tensor cache held
in memory when it fits the budget; epochs after the first then never decode a file again. Without the cache each
item is decoded on demand (DataLoader workers, started with the ``forkserver`` method, never fork, so it is safe
inside the Qt app).
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from core.base.errors import TailorError
from core.catalog.snapshot import Snapshot
from core.ingest.images import BadImage, open_rgb

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CACHE_BUDGET_BYTES = 4 * 1024**3


def resize_square(image: Image.Image, size: int) -> Image.Image:
    return image if image.size == (size, size) else image.resize((size, size), Image.Resampling.BILINEAR)


def decode_square(path: str, size: int) -> np.ndarray:
    """The image as a uint8 3 x size x size array (large JPEGs decoded at a reduced scale first)."""
    try:
        image = open_rgb(path, at_least=size)
    except BadImage as exc:
        raise TailorError(f"cannot read image {path}: {exc}") from None
    return np.asarray(resize_square(image, size), dtype=np.uint8).transpose(2, 0, 1).copy()


def load_cache(paths: list[str], size: int, *, workers: int = 4) -> Generator[int, None, torch.Tensor]:
    """Decode and resize every image once into an N x 3 x size x size uint8 tensor (threads overlap I/O and
    Pillow's decoding, which releases the GIL). Yields the number decoded now and then; returns the tensor."""
    cache = torch.empty((len(paths), 3, size, size), dtype=torch.uint8)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tailor-decode") as pool:
        for i, array in enumerate(pool.map(lambda p: decode_square(p, size), paths)):
            cache[i] = torch.from_numpy(array)
            if i % 1024 == 0:
                yield i
    yield len(paths)
    return cache


def fits_in_memory(count: int, size: int, budget: int = CACHE_BUDGET_BYTES) -> bool:
    return count * 3 * size * size <= budget


def augmentation(size: int) -> Callable[[torch.Tensor], torch.Tensor]:
    """Per-sample training augmentation on uint8 CHW tensors (torchvision v2): pad-4 crop + flip up to 64 px (the
    CIFAR protocol), random resized crop + flip above. Scaling and normalisation happen per batch on the device."""
    from torchvision.transforms import v2

    steps = [v2.RandomCrop(size, padding=4)] if size <= 64 else [v2.RandomResizedCrop(size, scale=(0.35, 1.0))]
    transform: Callable[[torch.Tensor], torch.Tensor] = v2.Compose([*steps, v2.RandomHorizontalFlip()])
    return transform


class SnapshotDataset(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    """Items ``(uint8 image tensor, target)`` of some snapshot indices, from the cache when given, else decoded;
    ``transform`` (training augmentation) is applied when given."""

    def __init__(
        self,
        snapshot: Snapshot,
        indices: list[int],
        size: int,
        transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
        cache: torch.Tensor | None = None,
        cache_rows: list[int] | None = None,
    ) -> None:
        self.paths = [snapshot.paths[i] for i in indices]
        self.size = size
        self.transform = transform
        self.cache = cache
        self.cache_rows = cache_rows
        if snapshot.multi_label:
            self.targets = torch.from_numpy(snapshot.target_matrix(indices))
        else:
            self.targets = torch.from_numpy(snapshot.target_vector(indices))

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, item: int) -> tuple[torch.Tensor, torch.Tensor]:
        if self.cache is not None:
            pixels = self.cache[self.cache_rows[item] if self.cache_rows is not None else item]
        else:
            pixels = torch.from_numpy(decode_square(self.paths[item], self.size))
        return (self.transform(pixels) if self.transform is not None else pixels), self.targets[item]
