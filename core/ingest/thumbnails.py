"""Thumbnails: decoded at reduced size with the decompression-bomb limit, cached on disk by content hash.

The disk cache is a folder of JPEGs named by the image's SHA-256 (``<size>-v<version>/<ab>/<hash>.jpg``), so it is
shared by every catalog on the machine and stays valid when files move; the version changes when decoding does.
Pixels become RGB through :func:`core.ingest.images.to_rgb`, exactly as for training. Images no larger than the
thumbnail are not cached: reading the original costs the same as reading a cached copy (CIFAR's 32 x 32 files, for
instance).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from core.base.files import atomic_write
from core.ingest.images import MAX_IMAGE_PIXELS, BadImage, _bomb, _short, open_checked, read_bytes, to_rgb

THUMBNAIL_SIZE = 128
CACHE_VERSION = 2  # 2: 16-bit and float images scaled to 8 bits instead of clipped


@dataclass(frozen=True)
class Thumbnail:
    width: int
    height: int
    rgb: bytes  # width * height * 3 bytes, rows top to bottom
    cached: bool  # read from the disk cache


def cache_file(cache_dir: str | os.PathLike, content_hash: str, size: int = THUMBNAIL_SIZE) -> Path:
    return Path(cache_dir) / f"{size}-v{CACHE_VERSION}" / content_hash[:2] / f"{content_hash}.jpg"


def _decode_small(data: bytes, size: int, max_pixels: int) -> tuple[Image.Image, tuple[int, int]]:
    """The decoded thumbnail and the original's size."""
    image = open_checked(data, max_pixels=max_pixels)  # the import's checks: empty, not an image, bomb
    original = image.size
    try:
        image.draft("RGB", (size, size))  # JPEG: decode at 1/2, 1/4 or 1/8 scale directly
        image = to_rgb(image)
        image.thumbnail((size, size), Image.Resampling.LANCZOS)
        return image, original
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _bomb(exc, max_pixels) from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise BadImage(f"cannot decode ({_short(exc)})") from None


def load(
    path: str | os.PathLike,
    content_hash: str | None,
    cache_dir: str | os.PathLike | None,
    *,
    size: int = THUMBNAIL_SIZE,
    max_pixels: int = MAX_IMAGE_PIXELS,
) -> Thumbnail:
    """The thumbnail of one image (longest side <= ``size``), from the disk cache when there.

    Raises :class:`~core.ingest.images.BadImage` when the file is missing or cannot be decoded.
    """
    cached = cache_file(cache_dir, content_hash, size) if cache_dir and content_hash else None
    if cached is not None and cached.is_file():
        try:
            with Image.open(cached) as stored:
                rgb = stored.convert("RGB")
                return Thumbnail(rgb.width, rgb.height, rgb.tobytes(), True)
        except (OSError, SyntaxError, ValueError):
            cached.unlink(missing_ok=True)  # a damaged cache entry is rebuilt from the original
    data = read_bytes(path)
    image, original = _decode_small(data, size, max_pixels)
    if cached is not None and max(original) > size:
        _store(image, cached)
    return Thumbnail(image.width, image.height, image.tobytes(), False)


def _store(image: Image.Image, target: Path) -> None:
    """Write atomically; a full or read-only disk only means no caching."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(target, unique=True) as fh:  # several threads may cache one image
            image.save(fh, format="JPEG", quality=90)
    except OSError:
        pass
