"""The demo catalog: procedurally drawn garments, generated offline and deterministically.

Each image is a top (a torso with a neckline) in one colour and pattern with one of seven sleeve types, drawn so a
person — and a small model — can tell them apart. Two attributes:

* ``sleeve`` (single-label, long-tailed, imported from a class-per-folder tree): short sleeve 150 ...
  bell sleeve 6, imbalance ratio 25.
* ``style`` (multi-label, imported from a CSV manifest): casual, sporty, formal, minimal, boho, festive, derived from
  the pattern and colour, one to three per image.

The same seed always writes byte-identical PNG files, so generating again and re-importing changes nothing.
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw

SIZE = 96
SLEEVE_COUNTS = {
    "short sleeve": 150,
    "long sleeve": 90,
    "sleeveless": 52,
    "three-quarter sleeve": 28,
    "cap sleeve": 16,
    "puff sleeve": 9,
    "bell sleeve": 6,
}
COLOURS = {
    "white": (236, 236, 232),
    "black": (38, 38, 42),
    "navy": (32, 48, 96),
    "red": (196, 48, 52),
    "mustard": (214, 168, 48),
    "sage": (140, 170, 130),
    "blush": (232, 170, 170),
    "sky": (120, 176, 226),
    "olive": (112, 116, 58),
    "lilac": (184, 160, 214),
}
PATTERNS = ("plain", "stripes", "dots", "floral", "collar", "glitter")
PATTERN_WEIGHTS = (40, 22, 16, 12, 8, 2)


@dataclass(frozen=True)
class Garment:
    sleeve: str
    colour: str
    pattern: str
    styles: tuple[str, ...]


def styles_for(colour: str, pattern: str, rng: random.Random) -> tuple[str, ...]:
    styles: list[str] = []
    if pattern == "stripes":
        styles += ["sporty", "casual"]
    elif pattern == "dots":
        styles.append("casual")
    elif pattern == "floral":
        styles.append("boho")
        if rng.random() < 0.4:
            styles.append("casual")
    elif pattern == "collar":
        styles.append("formal")
    elif pattern == "glitter":
        styles.append("festive")
    if colour in ("black", "navy") and "formal" not in styles and pattern in ("plain", "collar"):
        styles.append("formal")
    if pattern == "plain" and colour in ("white", "sage", "blush", "sky", "lilac"):
        styles.append("minimal")
    if pattern == "plain" and colour in ("red", "mustard") and rng.random() < 0.5:
        styles.append("casual")
    return tuple(sorted(set(styles))) or ("casual",)


def _shade(rgb: tuple[int, int, int], factor: float) -> tuple[int, int, int]:
    r, g, b = (max(0, min(255, int(c * factor))) for c in rgb)
    return r, g, b


def _sleeve_polygons(kind: str, side: int, cx: float, shoulder_y: float, half: float) -> list[list[tuple]]:
    """Polygons of one sleeve (side -1 left, +1 right) in image coordinates."""
    sx = cx + side * half  # shoulder point

    def pt(dx: float, dy: float) -> tuple[float, float]:
        return (sx + side * dx, shoulder_y + dy)

    if kind == "sleeveless":
        return []
    if kind == "cap sleeve":
        return [[pt(-2, 0), pt(7, 4), pt(5, 10), pt(-2, 9)]]
    if kind == "short sleeve":
        return [[pt(-2, 0), pt(16, 12), pt(10, 22), pt(-2, 14)]]
    if kind == "puff sleeve":
        return [[pt(-2, 0), pt(14, 6), pt(12, 18), pt(-2, 14)]]  # the puff ellipse is drawn separately
    if kind == "three-quarter sleeve":
        return [[pt(-2, 0), pt(20, 26), pt(13, 33), pt(-3, 16)]]
    if kind == "long sleeve":
        return [[pt(-2, 0), pt(20, 44), pt(12, 48), pt(-4, 18)]]
    if kind == "bell sleeve":
        return [[pt(-2, 0), pt(14, 30), pt(24, 50), pt(4, 54), pt(2, 34), pt(-4, 18)]]
    raise ValueError(kind)


def draw(garment: Garment, rng: random.Random) -> Image.Image:
    background = tuple(rng.randint(222, 246) for _ in range(3))
    image = Image.new("RGB", (SIZE, SIZE), background)
    d = ImageDraw.Draw(image)
    base = COLOURS[garment.colour]
    outline = _shade(base, 0.6) if garment.colour != "black" else (90, 90, 96)
    cx = SIZE / 2 + rng.uniform(-3, 3)
    top = 16 + rng.uniform(-2, 2)
    half = 15 + rng.uniform(-1.5, 1.5)
    bottom = 80 + rng.uniform(-3, 3)
    torso = [
        (cx - half, top),
        (cx - 5, top - 2),
        (cx + 5, top - 2),
        (cx + half, top),
        (cx + half + 2, bottom),
        (cx - half - 2, bottom),
    ]
    for side in (-1, 1):
        for poly in _sleeve_polygons(garment.sleeve, side, cx, top, half):
            d.polygon(poly, fill=_shade(base, 0.92), outline=outline)
        if garment.sleeve == "puff sleeve":
            px = cx + side * (half + 7)
            d.ellipse([px - 9, top - 3, px + 9, top + 15], fill=_shade(base, 0.97), outline=outline)
    d.polygon(torso, fill=base, outline=outline)
    _pattern(d, garment, rng, cx, top, half, bottom, base)
    d.polygon([(cx - 6, top - 2), (cx + 6, top - 2), (cx, top + 7)], fill=background, outline=outline)  # neckline
    if garment.pattern == "collar":
        d.polygon([(cx - 8, top - 2), (cx - 1, top + 9), (cx - 11, top + 6)], fill=(250, 250, 250), outline=outline)
        d.polygon([(cx + 8, top - 2), (cx + 1, top + 9), (cx + 11, top + 6)], fill=(250, 250, 250), outline=outline)
        for y in range(int(top + 12), int(bottom) - 4, 10):
            d.ellipse([cx - 1.5, y - 1.5, cx + 1.5, y + 1.5], fill=outline)
    return image


def _pattern(
    d: ImageDraw.ImageDraw,
    g: Garment,
    rng: random.Random,
    cx: float,
    top: float,
    half: float,
    bottom: float,
    base: tuple[int, int, int],
) -> None:
    left, right = cx - half + 1, cx + half - 1
    contrast = (250, 250, 250) if sum(base) < 380 else _shade(base, 0.55)
    if g.pattern == "stripes":
        for y in range(int(top + 6), int(bottom) - 2, 7):
            d.rectangle([left, y, right, y + 2], fill=contrast)
    elif g.pattern == "dots":
        for y in range(int(top + 8), int(bottom) - 3, 8):
            for x in range(int(left + 3), int(right) - 1, 8):
                d.ellipse([x - 1.5, y - 1.5, x + 1.5, y + 1.5], fill=contrast)
    elif g.pattern == "floral":
        for _ in range(7):
            cx, cy = rng.uniform(left + 4, right - 4), rng.uniform(top + 10, bottom - 5)
            petal = rng.choice([(230, 90, 140), (250, 210, 80), (150, 110, 210)])
            for dx, dy in ((-2, 0), (2, 0), (0, -2), (0, 2)):
                d.ellipse([cx + dx - 2, cy + dy - 2, cx + dx + 2, cy + dy + 2], fill=petal)
            d.ellipse([cx - 1, cy - 1, cx + 1, cy + 1], fill=(255, 240, 120))
    elif g.pattern == "glitter":
        for _ in range(40):
            px, py = rng.uniform(left, right), rng.uniform(top + 4, bottom - 2)
            d.point([(px, py), (px + 1, py)], fill=(255, 225, 90))


def garments(seed: int = 7) -> list[Garment]:
    rng = random.Random(seed)
    items = []
    for sleeve, count in SLEEVE_COUNTS.items():
        for _ in range(count):
            colour = rng.choice(list(COLOURS))
            pattern = rng.choices(PATTERNS, weights=PATTERN_WEIGHTS)[0]
            items.append(Garment(sleeve, colour, pattern, styles_for(colour, pattern, rng)))
    return items


def demo_files(seed: int = 7) -> dict[str, bytes]:
    """Every file the demo writes, by path relative to its folder: ``images/<sleeve>/<sleeve>-NNN.png`` and
    ``style.csv`` (the multi-label manifest naming those images)."""
    import io

    rng = random.Random(seed + 1)
    files: dict[str, bytes] = {}
    rows = []
    per_label: dict[str, int] = {}
    for garment in garments(seed):
        index = per_label.get(garment.sleeve, 0)
        per_label[garment.sleeve] = index + 1
        name = f"images/{garment.sleeve}/{garment.sleeve.replace(' ', '-')}-{index:03d}.png"
        buffer = io.BytesIO()
        draw(garment, rng).save(buffer, format="PNG", optimize=False)
        files[name] = buffer.getvalue()
        rows.append((name, "|".join(garment.styles)))
    text = io.StringIO(newline="")
    writer = csv.writer(text)
    writer.writerow(["path", "labels"])
    writer.writerows(rows)
    files["style.csv"] = text.getvalue().encode("utf-8")
    return files


def conflicts(out: Path, files: dict[str, bytes]) -> list[str]:
    """What the demo would replace or import in ``out`` that is not its own (sorted relative paths): a file of
    its names with other bytes, and anything else under ``images/`` (the folder import would take it in).
    Other files beside them (an exported table, the catalog's runs) are left alone and do not count."""
    found = [name for name in files if (out / name).is_file() and (out / name).read_bytes() != files[name]]
    found += [name for name in files if (out / name).exists() and not (out / name).is_file()]
    images = out / "images"
    if images.is_dir():
        expected = set(files) | {f"images/{sleeve}" for sleeve in SLEEVE_COUNTS}
        found += [
            path.relative_to(out).as_posix()
            for path in images.rglob("*")
            if path.relative_to(out).as_posix() not in expected
        ]
    elif images.exists():
        found.append("images")
    return sorted(set(found))


def generate(out: Path, seed: int = 7, files: dict[str, bytes] | None = None) -> tuple[Path, Path]:
    """Write the demo's files (``demo_files``) into ``out``; returns the image folder and the manifest path.
    Files whose bytes are already right are not rewritten."""
    for name, data in (files or demo_files(seed)).items():
        path = out / name
        if not path.is_file() or path.read_bytes() != data:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
    return out / "images", out / "style.csv"
