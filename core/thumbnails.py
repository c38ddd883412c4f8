"""Thumbnails: decoded at reduced size with the decompression-bomb limit, cached on disk by content hash.

The disk cache is a folder of JPEGs named by the image's SHA-256 (``<size>/<ab>/<hash>.jpg``), so it is shared by
every catalog on the machine and stays valid when files move. Images no larger than the thumbnail are not cached:
reading the original costs the same as reading a cached copy (CIFAR's 32 x 32 files, for instance).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps

from core.images import MAX_IMAGE_PIXELS, BadImage, _short, open_checked, read_bytes

THUMBNAIL_SIZE = 128


@dataclass(frozen=True)
class Thumbnail:
    width: int
    height: int
    rgb: bytes  # width * height * 3 bytes, rows top to bottom
    cached: bool  # read from the disk cache


def cache_file(cache_dir: str | os.PathLike, content_hash: str, size: int = THUMBNAIL_SIZE) -> Path:
    return Path(cache_dir) / str(size) / content_hash[:2] / f"{content_hash}.jpg"


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode == "RGB":
        return image
    if image.mode in ("RGBA", "LA", "P", "PA"):  # composite transparency on white, as a catalog page shows it
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


def _decode_small(data: bytes, size: int, max_pixels: int) -> tuple[Image.Image, tuple[int, int]]:
    """The decoded thumbnail and the original's size."""
    image = open_checked(data, max_pixels=max_pixels)  # the import's checks: empty, not an image, bomb
    original = image.size
    try:
        image.draft("RGB", (size, size))  # JPEG: decode at 1/2, 1/4 or 1/8 scale directly
        image = ImageOps.exif_transpose(image)
        image.thumbnail((size, size), Image.Resampling.LANCZOS)
        return _to_rgb(image), original
    except Image.DecompressionBombError as exc:
        raise BadImage(f"refused as a decompression bomb ({exc})") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise BadImage(f"cannot decode ({_short(exc)})") from None


def load(path: str | os.PathLike, content_hash: str | None, cache_dir: str | os.PathLike | None, *,
         size: int = THUMBNAIL_SIZE, max_pixels: int = MAX_IMAGE_PIXELS) -> Thumbnail:
    """The thumbnail of one image (longest side <= ``size``), from the disk cache when there.

    Raises :class:`~core.images.BadImage` when the file is missing or cannot be decoded.
    """
    cached = cache_file(cache_dir, content_hash, size) if cache_dir and content_hash else None
    if cached is not None and cached.is_file():
        try:
            with Image.open(cached) as image:
                image = _to_rgb(image)
                return Thumbnail(image.width, image.height, image.tobytes(), True)
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
        fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".part")
        try:
            with os.fdopen(fd, "wb") as fh:
                image.save(fh, format="JPEG", quality=90)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError:
        pass
