"""The map drawn as a PNG without a window (``tailor map --png``): each point a few pixels in its colour, drawn in
the colouring's order (the tail on top), with a legend; the same palette as the window's Map tab."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.base.files import atomic_write
from core.curation.catalog_map import Colouring

PALETTE = (  # Tableau 20's first ten and their light twins: categories past 20 repeat
    (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
    (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207),
    (174, 199, 232), (255, 187, 120), (152, 223, 138), (255, 152, 150), (197, 176, 213),
    (196, 156, 148), (247, 182, 210), (199, 199, 199), (219, 219, 141), (158, 218, 229),
)  # fmt: skip
NONE = (215, 215, 215)  # no category (unlabeled, no prediction)
LOW, HIGH = np.array((68, 1, 84)), np.array((253, 231, 37))  # confidence 0 and 1 (viridis' ends)


def colours(colouring: Colouring) -> np.ndarray:
    """N x 3 uint8 colours of the points."""
    values = colouring.values
    if not colouring.categories:  # confidence
        v = np.nan_to_num(values.astype(np.float64), nan=-1.0)[:, None]
        mixed = LOW + (HIGH - LOW) * np.clip(v, 0, 1)
        return np.where(v < 0, np.array(NONE), mixed).astype(np.uint8)
    table = np.array([PALETTE[i % len(PALETTE)] for i in range(len(colouring.categories))] + [NONE], dtype=np.uint8)
    return table[np.where(values < 0, len(colouring.categories), values)]


def draw(points: np.ndarray, colouring: Colouring, path: Path, size: int = 1200) -> None:
    """Write the map as a PNG at ``path`` (size x size pixels and a legend)."""
    from PIL import Image, ImageDraw

    canvas = np.full((size, size, 3), 255, dtype=np.uint8)
    low, high = points.min(axis=0), points.max(axis=0)
    span = np.maximum(high - low, 1e-9)
    margin, dot = 20, 1 if len(points) > 200_000 else 2
    xy = ((points - low) / span * (size - 2 * margin - dot) + margin).astype(np.int64)
    rgb = colours(colouring)
    order = colouring.order
    for dx in range(dot):
        for dy in range(dot):
            canvas[size - 1 - (xy[order, 1] + dy), xy[order, 0] + dx] = rgb[order]
    image = Image.fromarray(canvas)
    _legend(ImageDraw.Draw(image), colouring)
    with atomic_write(path) as fh:
        image.save(fh, format="PNG")


def _legend(pen, colouring: Colouring) -> None:  # type: ignore[no-untyped-def]
    entries = [(name, PALETTE[i % len(PALETTE)]) for i, name in enumerate(colouring.categories)]
    if not colouring.categories:
        entries = [("confidence 0", tuple(LOW)), ("confidence 1", tuple(HIGH))]
    if (colouring.values < 0).any() if colouring.categories else np.isnan(colouring.values).any():
        entries.append(("none", NONE))
    for row, (name, colour) in enumerate(entries[:40]):
        top = 8 + 16 * row
        pen.rectangle((8, top, 20, top + 12), fill=tuple(int(c) for c in colour))
        pen.text((26, top), name[:40], fill=(0, 0, 0))
