"""One decode path for thumbnails and training: EXIF orientation, deep images, transparency and file-size limits
give the same pixels to both (a model trains on what the user sees)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from PIL import Image

from core.ingest import thumbnails
from core.ingest.images import MAX_FILE_BYTES, probe
from core.training.dataset import decode_square
from tests.ingest.test_hostile_images import _png_declaring


def _training_pixels(path, size: int) -> np.ndarray:
    return decode_square(str(path), size).transpose(1, 2, 0)  # what a run is fed (H x W x 3), before normalisation


def _thumbnail_pixels(path, size: int = 128) -> np.ndarray:
    thumb = thumbnails.load(path, None, None, size=size)
    return np.frombuffer(thumb.rgb, dtype=np.uint8).reshape(thumb.height, thumb.width, 3)


def _same_for_both(path) -> np.ndarray:
    """The image is small and square-free, so neither side resizes: the two must be equal pixel for pixel."""
    thumb = _thumbnail_pixels(path)
    height, width, _ = thumb.shape
    if height == width:
        assert np.array_equal(_training_pixels(path, width), thumb)
    return thumb


def test_exif_orientation_turns_a_portrait_photo_upright_for_training_too(tmp_path):
    pixels = np.zeros((20, 40, 3), dtype=np.uint8)  # stored landscape: red left half, blue right half
    pixels[:, :20] = (255, 0, 0)
    pixels[:, 20:] = (0, 0, 255)
    stored = Image.fromarray(pixels)
    exif = stored.getexif()
    exif[0x0112] = 6  # shown rotated 90 degrees clockwise: a portrait, red on top
    path = tmp_path / "phone.png"
    stored.save(path, exif=exif)
    thumb = _thumbnail_pixels(path)
    assert thumb.shape == (40, 20, 3) and tuple(thumb[2, 10]) == (255, 0, 0) and tuple(thumb[37, 10]) == (0, 0, 255)
    trained = _training_pixels(path, 40)  # squared to 40 x 40: still red on top, blue below
    assert tuple(trained[2, 20]) == (255, 0, 0) and tuple(trained[37, 20]) == (0, 0, 255)


def test_a_16_bit_greyscale_png_trains_as_grey_not_white(tmp_path):
    ramp = np.tile(np.linspace(0, 65535, 16, dtype=np.uint16), (16, 1))
    path = tmp_path / "scan.png"
    Image.fromarray(ramp).save(path)
    pixels = _same_for_both(path)
    assert pixels[0, 0, 0] == 0 and pixels[0, -1, 0] == 255
    assert abs(int(pixels[0, 8, 0]) - round(ramp[0, 8] / 257)) <= 1


@pytest.mark.parametrize("mode", ["I", "F"])
def test_32_bit_integer_and_float_tiffs_keep_their_contrast(tmp_path, mode):
    values = np.tile(np.linspace(-1000, 1_000_000, 16), (16, 1))
    array = values.astype(np.int32) if mode == "I" else values.astype(np.float32)
    path = tmp_path / f"deep-{mode}.tiff"
    Image.fromarray(array, mode=mode).save(path)
    pixels = _same_for_both(path)
    assert pixels[0, 0, 0] == 0 and pixels[0, -1, 0] == 255 and 100 < pixels[0, 8, 0] < 155


def test_a_float_image_in_zero_to_one_is_scaled_by_255(tmp_path):
    path = tmp_path / "unit.tiff"
    Image.fromarray(np.full((16, 16), 0.5, dtype=np.float32), mode="F").save(path)
    assert _same_for_both(path)[0, 0, 0] == 128


@pytest.mark.parametrize("mode", ["RGBA", "LA", "P"])
def test_transparency_is_white_for_training_and_thumbnails(tmp_path, mode):
    rgba = Image.new("RGBA", (16, 16), (200, 0, 0, 0))  # fully transparent red
    rgba.paste((0, 0, 200, 255), (0, 0, 8, 16))  # opaque blue left half
    image = rgba.convert(mode) if mode != "P" else rgba.convert("P", palette=Image.Palette.ADAPTIVE)
    if mode == "P":
        image.info["transparency"] = image.getpixel((12, 8))
    path = tmp_path / f"cutout-{mode}.png"
    image.save(path)
    pixels = _same_for_both(path)
    assert tuple(pixels[8, 12]) == (255, 255, 255)


def test_a_huge_file_is_refused_before_it_is_read(tmp_path):
    path = tmp_path / "huge.png"
    with path.open("wb") as fh:
        fh.write(_png_declaring(64, 64))
        fh.truncate(MAX_FILE_BYTES + 1)  # sparse: nothing of it is on disk
    reason = probe(str(path))
    assert isinstance(reason, str) and "over the limit" in reason and "MB" in reason


def test_a_moderate_bomb_is_refused_quietly_with_tailor_s_limit(tmp_path, capsys):
    path = tmp_path / "bomb.png"
    path.write_bytes(_png_declaring(9000, 8000))  # 72 Mpixel: over Tailor's 64 M, under twice it (Pillow's error)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning leaking out fails the test
        reason = probe(str(path))
        with pytest.raises(thumbnails.BadImage, match="64,000,000"):
            thumbnails.load(path, None, None)
    assert isinstance(reason, str) and "64,000,000" in reason and "72,000,000" in reason
    assert capsys.readouterr().err == ""
