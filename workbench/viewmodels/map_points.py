"""The Map tab's geometry in NumPy, off the GUI thread: the density image drawn at low zoom, the points inside the
view (drawn one by one when few enough), the points inside a lasso, and the nearest point to the cursor.

At 1,000,000 points the tab never draws the points themselves at low zoom: an image of the whole map (each pixel the
colour of the point drawn last there, so the tail stays on top, and more opaque where more points fall) is scaled by
the view like any picture; once the view holds at most :data:`MAX_POINTS` points, those are drawn as points."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_POINTS = 20_000  # points drawn one by one; above, the density image
DENSITY_PIXELS = 1024


@dataclass(frozen=True)
class Extent:
    left: float
    bottom: float
    width: float
    height: float

    @classmethod
    def of(cls, points: np.ndarray) -> Extent:
        low, high = points.min(axis=0), points.max(axis=0)
        span = np.maximum(high - low, 1e-6)
        return cls(float(low[0]), float(low[1]), float(span[0]), float(span[1]))


def density_image(points: np.ndarray, rgb: np.ndarray, order: np.ndarray, pixels: int = DENSITY_PIXELS) -> np.ndarray:
    """A pixels x pixels RGBA image of the map over :meth:`Extent.of` ``points`` (row 0 at the bottom): each pixel
    the colour of the last point in ``order`` falling there, its opacity growing with the log of their number."""
    extent = Extent.of(points)
    column = np.clip(((points[:, 0] - extent.left) / extent.width * (pixels - 1)).astype(np.int64), 0, pixels - 1)
    row = np.clip(((points[:, 1] - extent.bottom) / extent.height * (pixels - 1)).astype(np.int64), 0, pixels - 1)
    image = np.zeros((pixels, pixels, 4), dtype=np.uint8)
    cell = row * pixels + column
    rank = np.empty(len(points), dtype=np.int64)
    rank[order] = np.arange(len(points))  # when each point is drawn
    latest = np.full(pixels * pixels, -1, dtype=np.int64)
    np.maximum.at(latest, cell, rank)  # per pixel, the point drawn last
    hit = latest >= 0
    last = np.where(hit, order[np.maximum(latest, 0)], -1)
    flat = image.reshape(-1, 4)
    flat[hit, :3] = rgb[last[hit]]
    counts = np.bincount(cell, minlength=pixels * pixels)
    flat[hit, 3] = (150 + 105 * np.log1p(counts[hit]) / np.log1p(counts.max())).astype(np.uint8)
    return image


def in_view(points: np.ndarray, left: float, right: float, bottom: float, top: float) -> np.ndarray:
    """Indices of the points inside the rectangle."""
    x, y = points[:, 0], points[:, 1]
    return np.flatnonzero((x >= left) & (x <= right) & (y >= bottom) & (y <= top))


def in_polygon(points: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """Indices of the points inside ``polygon`` (K x 2 vertices, closed implicitly; even-odd rule), tested only
    within its bounding box."""
    if len(polygon) < 3:
        return np.zeros(0, dtype=np.int64)
    (left, bottom), (right, top) = polygon.min(axis=0), polygon.max(axis=0)
    candidates = in_view(points, left, right, bottom, top)
    x, y = points[candidates, 0], points[candidates, 1]
    inside = np.zeros(len(candidates), dtype=bool)
    x0, y0 = polygon[:, 0], polygon[:, 1]
    x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
    for ax, ay, bx, by in zip(x0, y0, x1, y1):
        crosses = (ay > y) != (by > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            at = ax + (y - ay) * (bx - ax) / (by - ay)
        inside ^= crosses & (x < at)
    return candidates[inside]


def nearest(points: np.ndarray, rows: np.ndarray, x: float, y: float, radius: float) -> int | None:
    """The row among ``rows`` whose point is nearest to (x, y), if within ``radius``."""
    if rows.size == 0:
        return None
    d = (points[rows, 0] - x) ** 2 + (points[rows, 1] - y) ** 2
    best = int(np.argmin(d))
    return int(rows[best]) if d[best] <= radius * radius else None
