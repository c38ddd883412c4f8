"""Reading image files safely: content hashes, size probing and decoding with decompression-bomb limits.

Every decode in Tailor goes through here. An image whose declared size exceeds :data:`MAX_IMAGE_PIXELS` is
refused before any pixel is decoded; truncated and corrupt files raise :class:`BadImage` with a reason a user
understands.
"""

from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError

#: Largest image accepted, in pixels (about 8,000 x 8,000). Larger declared sizes are refused unread.
MAX_IMAGE_PIXELS = 64_000_000
# Pillow's own guard: a warning above the limit, DecompressionBombError above twice the limit. Ours is stricter.
Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS
# Never decode truncated files as if they were whole.
Image.LOAD_TRUNCATED_IMAGES = False


class BadImage(Exception):
    """A file that cannot be used as an image; ``str()`` is the reason, one line."""


@dataclass(frozen=True)
class Probe:
    """What importing needs of a good image file."""

    path: str
    content_hash: str
    width: int
    height: int


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_bytes(path: str | os.PathLike) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except FileNotFoundError:
        raise BadImage("file not found") from None
    except PermissionError:
        raise BadImage("cannot read: permission denied") from None
    except IsADirectoryError:
        raise BadImage("is a folder") from None
    except OSError as exc:
        raise BadImage(f"cannot read: {exc.strerror or exc}") from None


def open_checked(data: bytes, *, max_pixels: int = MAX_IMAGE_PIXELS) -> Image.Image:
    """Open image bytes lazily (header only) after the checks every decode needs.

    Raises :class:`BadImage` for empty, unrecognised, corrupt-header and oversized (bomb) images; no pixel is
    decoded yet.
    """
    if not data:
        raise BadImage("empty file (0 bytes)")
    try:
        image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise BadImage("not an image (format not recognised)") from None
    except Image.DecompressionBombError as exc:
        raise BadImage(f"refused as a decompression bomb ({exc})") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise BadImage(f"corrupt image header ({_short(exc)})") from None
    width, height = image.size
    if width <= 0 or height <= 0:
        raise BadImage(f"invalid size {width}x{height}")
    if width * height > max_pixels:
        raise BadImage(f"refused as a decompression bomb: {width}x{height} pixels is over the limit of "
                       f"{max_pixels:,}")
    return image


def decode(data: bytes, *, max_pixels: int = MAX_IMAGE_PIXELS) -> Image.Image:
    """Decode image bytes completely (so truncation is detected) and return the Pillow image.

    Raises :class:`BadImage` for empty, unrecognised, truncated, corrupt and oversized (bomb) images.
    """
    image = open_checked(data, max_pixels=max_pixels)
    try:
        image.load()
    except Image.DecompressionBombError as exc:
        raise BadImage(f"refused as a decompression bomb ({exc})") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        message = _short(exc)
        if "truncated" in message:
            raise BadImage(f"truncated image ({message})") from None
        raise BadImage(f"corrupt image data ({message})") from None
    return image


def open_rgb(path: str | os.PathLike, *, max_pixels: int = MAX_IMAGE_PIXELS) -> Image.Image:
    """Read and decode a file into an RGB image (palette, alpha and grey images are converted)."""
    image = decode(read_bytes(path), max_pixels=max_pixels)
    return image if image.mode == "RGB" else image.convert("RGB")


def probe(path: str, known_hash: str | None = None) -> Probe | str:
    """Hash and check one file. Returns a :class:`Probe`, or the reason it is skipped as a string.

    When ``known_hash`` equals the file's hash the file is unchanged since it was imported and is not decoded
    again (its size is then reported as 0 x 0 and not used).
    """
    try:
        data = read_bytes(path)
        digest = content_hash(data)
        if digest == known_hash:
            return Probe(path, digest, 0, 0)
        image = decode(data)
        return Probe(path, digest, image.width, image.height)
    except BadImage as exc:
        return str(exc)
    except MemoryError:
        return "too large to decode in memory"


def probe_many(items: list[tuple[str, str | None]]) -> list[Probe | str]:
    """:func:`probe` over a chunk of (path, known hash) pairs; runs in worker processes."""
    return [probe(path, known) for path, known in items]


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def is_hidden(path: Path) -> bool:
    return path.name.startswith(".")
