"""Fuzz: truncated, mutated and hostile image files (huge declared dimensions) never crash the importer's probe,
the decoder or the thumbnailer; each either works or is refused with BadImage / a skip reason."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from core.ingest.images import BadImage, decode, probe
from core.ingest.thumbnails import load


def _encoded(fmt: str, size=(40, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (120, 30, 200)).save(buffer, format=fmt)
    return buffer.getvalue()


SAMPLES = {fmt: _encoded(fmt) for fmt in ("PNG", "JPEG", "GIF", "BMP", "WEBP", "TIFF")}


def _png_declaring(width: int, height: int) -> bytes:
    """A PNG whose header declares width x height, with a tiny (wrong) payload."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    )


def _gif_declaring(width: int, height: int) -> bytes:
    return (
        b"GIF89a"
        + struct.pack("<HH", width, height)
        + b"\x00\x00\x00"
        + b"\x2c\x00\x00\x00\x00"
        + struct.pack("<HH", width, height)
        + b"\x00\x02\x02\x44\x01\x00\x3b"
    )


def _bmp_declaring(width: int, height: int) -> bytes:
    header = struct.pack("<2sIHHI", b"BM", 54 + 16, 0, 0, 54)
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, 16, 2835, 2835, 0, 0)
    return header + info + b"\0" * 16


def _exercise(tmp_path, data: bytes, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    result = probe(str(path))
    assert isinstance(result, str) or result.width * result.height <= 200_000_000
    for call in (lambda: decode(data), lambda: load(path, None, tmp_path / "cache")):
        try:
            call()
        except BadImage:
            pass


SIZES = [(65535, 65535), (2**31 - 1, 1), (1, 2**31 - 1), (0, 0), (100_000, 50_000)]
HOSTILE = [
    (make, size)
    for make in (_png_declaring, _gif_declaring, _bmp_declaring)
    for size in SIZES
    if make is not _gif_declaring or max(size) <= 65535
]  # GIF headers hold 16-bit sizes


@pytest.mark.parametrize("make, size", HOSTILE, ids=[f"{m.__name__[1:4]}-{w}x{h}" for m, (w, h) in HOSTILE])
def test_huge_or_impossible_declared_dimensions_are_refused(tmp_path, make, size):
    _exercise(tmp_path, make(*size), "hostile.img")
    assert isinstance(probe(str(tmp_path / "hostile.img")), str)  # skipped with a reason, never imported


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    fmt=st.sampled_from(sorted(SAMPLES)),
    cut=st.floats(0, 1),
    flips=st.lists(st.tuples(st.floats(0, 1), st.integers(0, 255)), max_size=8),
)
def test_truncated_and_mutated_files_never_crash(tmp_path, fmt, cut, flips):
    data = bytearray(SAMPLES[fmt][: max(1, int(len(SAMPLES[fmt]) * cut))] if cut < 1 else SAMPLES[fmt])
    for where, value in flips:
        data[min(len(data) - 1, int(where * len(data)))] = value
    _exercise(tmp_path, bytes(data), f"fuzzed.{fmt.lower()}")
