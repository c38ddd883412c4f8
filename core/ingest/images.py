"""Reading image files safely: content hashes, size probing and decoding with decompression-bomb limits.

Every decode in Tailor goes through here. A file larger than :data:`MAX_FILE_BYTES` is refused before it is
read, an image whose declared size exceeds :data:`MAX_IMAGE_PIXELS` before any pixel is decoded; truncated and
corrupt files raise :class:`BadImage` with a reason a user understands.

:func:`to_rgb` is the one way pixels become RGB, for thumbnails and training alike, so a model trains on what the
user sees: the EXIF orientation is applied (a portrait phone photo stands upright), transparency is composited on
white (as a catalog page shows it), and deeper images are scaled to 8 bits instead of clipped: 16-bit images by
1/257, 32-bit integer and float images from their own value range (floats already in [0, 1] by 255).
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from core.base.held_files import HeldFileError, refuse_held

#: Largest image accepted, in pixels (about 8,000 x 8,000). Larger declared sizes are refused unread.
MAX_IMAGE_PIXELS = 64_000_000
#: Largest file read, in bytes: a 64-Mpixel image needs far less in any format Tailor reads.
MAX_FILE_BYTES = 256 * 1024 * 1024
# Pillow's own guard: a warning above the limit, DecompressionBombError above twice the limit. Ours is stricter.
Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS
# Never decode truncated files as if they were whole.
ImageFile.LOAD_TRUNCATED_IMAGES = False


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


def read_bytes(path: str | os.PathLike, *, max_bytes: int = MAX_FILE_BYTES) -> bytes:
    """The file's bytes; a file over ``max_bytes`` is refused before any of it is read, the catalog this process
    holds open (core.base.held_files) before it is opened."""
    try:
        refuse_held(path, "image")
    except HeldFileError as exc:
        raise BadImage(str(exc)) from None
    try:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if size > max_bytes:
                raise BadImage(f"file is {_size(size)}, over the limit of {_size(max_bytes)} for an image")
            data = fh.read(max_bytes + 1)
            if len(data) > max_bytes:  # grew while being read, or a device that reports no size
                raise BadImage(f"file is over the limit of {_size(max_bytes)} for an image")
            return data
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
        with warnings.catch_warnings():  # Pillow's warning between its limit and twice it: refused, not printed
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise BadImage("not an image (format not recognised)") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _bomb(exc, max_pixels) from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise BadImage(f"corrupt image header ({_short(exc)})") from None
    width, height = image.size
    if width <= 0 or height <= 0:
        raise BadImage(f"invalid size {width}x{height}")
    if width * height > max_pixels:
        raise BadImage(f"refused as a decompression bomb: {width}x{height} pixels is over the limit of {max_pixels:,}")
    return image


def decode(data: bytes, *, max_pixels: int = MAX_IMAGE_PIXELS, at_least: int = 0) -> Image.Image:
    """Decode image bytes completely (so truncation is detected) and return the Pillow image.

    ``at_least``: a JPEG larger than twice that in both directions is decoded at a reduced DCT scale (1/2, 1/4 or
    1/8, JPEG's draft mode), still at least that large: much faster for photos bound for a small input size.
    Raises :class:`BadImage` for empty, unrecognised, truncated, corrupt and oversized (bomb) images.
    """
    image = open_checked(data, max_pixels=max_pixels)
    if at_least and image.format == "JPEG" and min(image.size) >= 2 * at_least:
        image.draft(image.mode, (at_least, at_least))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _bomb(exc, max_pixels) from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        message = _short(exc)
        if "truncated" in message:
            raise BadImage(f"truncated image ({message})") from None
        raise BadImage(f"corrupt image data ({message})") from None
    return image


def open_rgb(path: str | os.PathLike, *, max_pixels: int = MAX_IMAGE_PIXELS, at_least: int = 0) -> Image.Image:
    """Read and decode a file into an upright RGB image (:func:`to_rgb`): what training sees (``at_least``: see
    :func:`decode`)."""
    image = decode(read_bytes(path), max_pixels=max_pixels, at_least=at_least)
    try:
        return to_rgb(image)
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise BadImage(f"cannot decode ({_short(exc)})") from None


def to_rgb(image: Image.Image) -> Image.Image:
    """The image upright (EXIF orientation), 8-bit RGB, transparency composited on white (module docstring)."""
    image = ImageOps.exif_transpose(image)
    if image.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        image = _to_8_bits(image)
    if image.mode == "RGB":
        return image
    if image.mode in ("RGBA", "LA", "P", "PA", "RGBa", "La") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


def _to_8_bits(image: Image.Image) -> Image.Image:
    """A 16-bit, 32-bit integer or float single-channel image as 8-bit grey ("L")."""
    import numpy as np  # only for 16-bit and float images: numpy is not imported before the window's first paint

    values = np.asarray(image)
    if image.mode.startswith("I;16"):
        scaled = values.astype(np.float32) / 257.0
    elif image.mode == "F" and values.size and np.nanmin(values) >= 0 and np.nanmax(values) <= 1:
        scaled = values * 255.0
    else:  # 32-bit integers or floats of any range: their own range onto 0..255
        finite = values[np.isfinite(values)] if values.dtype.kind == "f" else values
        low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        if image.mode == "I" and low >= 0 and high <= 255:
            low, high = 0.0, 255.0  # already 8-bit values in a wider type
        elif image.mode == "I" and low >= 0 and high <= 65535:
            low, high = 0.0, 65535.0  # 16-bit values (Pillow reads some 16-bit PNGs as "I")
        scaled = (values.astype(np.float64) - low) * (255.0 / (high - low if high > low else 1.0))
    return Image.fromarray(np.nan_to_num(np.clip(scaled, 0, 255)).round().astype(np.uint8), mode="L")


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


def probe_many(items: Sequence[tuple[str, str | None]]) -> list[Probe | str]:
    """:func:`probe` over a chunk of (path, known hash) pairs; runs in worker processes."""
    return [probe(path, known) for path, known in items]


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _size(n: int) -> str:
    return f"{n / 1024**3:.1f} GB" if n >= 1024**3 else f"{n / 1024**2:.0f} MB"


def _bomb(exc: BaseException, max_pixels: int) -> BadImage:
    """Pillow's bomb error or warning in Tailor's words and with Tailor's limit."""
    found = re.search(r"\((\d+) pixels\)", str(exc))
    size = f"{int(found.group(1)):,} pixels" if found else "its size"
    return BadImage(f"refused as a decompression bomb: {size} is over the limit of {max_pixels:,}")
