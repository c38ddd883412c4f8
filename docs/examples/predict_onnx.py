"""Run a model exported by Tailor (``tailor export-model RUN --format onnx --out model.onnx``) on image files, with
onnxruntime, NumPy and Pillow only: everything else (the input size, how to prepare an image, the labels, how scores
come from the logits, the thresholds) is read from the model's metadata (``metadata_props`` key ``tailor``).

    python predict_onnx.py model.onnx photo.jpg [more.jpg ...] [--json]

Prints each image's labels by score, marking those that reach their threshold. The scores are ``tailor predict``'s
for the same run, to the float16 rounding of the features ``tailor predict`` reads from its store (within 0.002;
Tailor's test suite checks it).
"""

from __future__ import annotations

import argparse
import json
import re
import sys

import numpy as np
import onnxruntime
from PIL import Image, ImageOps


def load(model_path: str) -> tuple[onnxruntime.InferenceSession, dict]:
    session = onnxruntime.InferenceSession(model_path, providers=["CPUExecutionProvider"])
    meta = session.get_modelmeta().custom_metadata_map
    if "tailor" not in meta:
        raise SystemExit(f"{model_path} has no Tailor metadata: export it again with tailor export-model")
    return session, json.loads(meta["tailor"])


def prepare(path: str, pre: dict) -> np.ndarray:
    """One image as the model's 3 x S x S float32 input, prepared as Tailor prepares it."""
    width, height = pre["size"]
    image = Image.open(path)
    if image.format == "JPEG" and min(image.size) >= 2 * width:
        image.draft(image.mode, (width, height))  # JPEG's reduced DCT scale, as Tailor decodes large photos
    image.load()
    image = ImageOps.exif_transpose(image)
    if image.mode.startswith("I;16") or image.mode in ("I", "F"):
        values = np.asarray(image, dtype=np.float64)
        top = 65535.0 if image.mode.startswith("I;16") else max(float(values.max()), 1.0)
        image = Image.fromarray(np.clip(values / top * 255.0 + 0.5, 0, 255).astype(np.uint8))
    if image.mode in ("RGBA", "LA", "P", "PA", "RGBa", "La") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        image = background
    image = image.convert("RGB")
    if image.size != (width, height):
        image = image.resize((width, height), Image.Resampling.BILINEAR)
    pixels = np.asarray(image, dtype=np.float32).transpose(2, 0, 1) / 255.0
    mean = np.asarray(pre["mean"], dtype=np.float32)[:, None, None]
    std = np.asarray(pre["std"], dtype=np.float32)[:, None, None]
    return (pixels - mean) / std


def scores_of(logits: np.ndarray, formula: str) -> np.ndarray:
    """``softmax(logits)``, ``softmax(30 * logits)`` or ``sigmoid(logits)``, as the metadata says."""
    match = re.fullmatch(r"(softmax|sigmoid)\((?:([0-9.]+) \* )?logits\)", formula)
    if match is None:
        raise SystemExit(f"unknown score formula {formula!r}")
    z = logits.astype(np.float64) * float(match.group(2) or 1.0)
    if match.group(1) == "sigmoid":
        return 1.0 / (1.0 + np.exp(-z))
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("images", nargs="+")
    parser.add_argument("--json", action="store_true", help="print {image: {label: score}} as JSON")
    args = parser.parse_args()
    session, meta = load(args.model)
    batch = np.stack([prepare(path, meta["preprocessing"]) for path in args.images])
    (logits,) = session.run(None, {meta["preprocessing"]["input"]: batch})
    scores = scores_of(logits, meta["output"]["scores"])
    labels = meta["labels"]
    if args.json:
        print(json.dumps({path: {label["name"]: float(row[label["index"]]) for label in labels}
                          for path, row in zip(args.images, scores)}))  # fmt: skip
        return 0
    for path, row in zip(args.images, scores):
        print(path)
        for label in sorted(labels, key=lambda item: -row[item["index"]]):
            score, threshold = row[label["index"]], label["threshold"]
            mark = "  ✓ at or above its threshold" if threshold is not None and score >= threshold else ""
            print(f"  {score:7.2%}  {label['name']}{mark}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
