"""Benchmark: the feature pass against a plain float32 timm loop, and bfloat16 features against float32 ones.

1. ``speed``: images/s over the same files, size and weights (the shared EfficientNet-Lite0 ImageNet weights,
   inception statistics), 2 threads, in one run:
   - a plain float32 loop as a newcomer writes it (PIL open, convert, resize, ``pil_to_tensor``, ``v2.Normalize``,
     the timm model, batch 64, one thread decoding between batches);
   - Tailor's pass (``core.features.extract``) forced to float32 (``TAILOR_PRECISION=fp32``): what the decoding
     pipeline alone buys;
   - Tailor's pass as it runs by default (bfloat16 autocast + channels_last where the CPU has bf16 units).
   On 3,000 CIFAR-10 JPEGs (32 x 32) and on 300 large JPEGs (1000 x 1000, CIFAR images upscaled: decoding
   dominates), both at ``--image-size`` (128).
2. ``agreement``: a head on bfloat16 features against the same head on float32 features of CIFAR-10-LT (ratio 100,
   all 22,406 images, Lite0 at 128 px): ACSA of balanced softmax and of plain cross-entropy, both precisions
   (target: within 0.5 points). Uses ``make bench-quality``'s catalog (built once) copied to ``.bench/features/``.

    .venv/bin/python benchmarks/bench_features.py speed [--images 3000] [--large 300] [--image-size 128]
    .venv/bin/python benchmarks/bench_features.py agreement [--image-size 128]
    .venv/bin/python benchmarks/bench_features.py batch     # the pass's images/s per batch size
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

WEIGHTS = ROOT.parent / "shared" / "weights" / "efficientnet_lite0_imagenet.pth"
FOLDER = ROOT / ".bench" / "features"
STATS = ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))


def cifar_paths(count: int) -> list[str]:
    from cifar_lt import build

    _tree, catalog = build(ROOT / ".bench")
    from sqlalchemy import text

    from core.catalog.store import Catalog

    with Catalog(str(catalog)) as cat, cat.session() as s:
        rows = s.execute(text("select path from image order by id limit :n"), {"n": count}).all()
    return [r[0] for r in rows]


def large_jpegs(sources: list[str], count: int) -> list[str]:
    """``count`` 1000 x 1000 JPEGs (quality 90) made once from CIFAR images (upscaled, bicubic)."""
    from PIL import Image

    folder = FOLDER / "large-jpegs"
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, source in enumerate(sources[:count]):
        path = folder / f"{i:05d}.jpg"
        if not path.is_file():
            Image.open(source).convert("RGB").resize((1000, 1000), Image.Resampling.BICUBIC).save(path, quality=90)
        paths.append(str(path))
    return paths


def backbone():  # type: ignore[no-untyped-def]
    from core.training.backbones import build_classifier

    model, _ = build_classifier("timm:efficientnet_lite0", 10, pretrained=str(WEIGHTS))
    return model.backbone.eval()


def plain_loop(paths: list[str], size: int, batch: int = 64) -> float:
    import torch
    from PIL import Image
    from torchvision.transforms import v2
    from torchvision.transforms.functional import pil_to_tensor

    net, normalise = backbone(), v2.Normalize(*STATS)
    started = time.perf_counter()
    with torch.inference_mode():
        for start in range(0, len(paths), batch):
            images = [
                pil_to_tensor(Image.open(p).convert("RGB").resize((size, size), Image.Resampling.BILINEAR))
                for p in paths[start : start + batch]
            ]
            net(normalise(torch.stack(images).float() / 255))
    return len(paths) / (time.perf_counter() - started)


def tailor_pass(paths: list[str], size: int, precision: str, batch: int = 64) -> float:
    import hashlib

    from core.features.extract import extract
    from core.features.store import FeatureStore
    from core.training.runtime import pick_device

    os.environ["TAILOR_PRECISION"] = precision
    from core.training.precision import choose

    device = pick_device("cpu")
    name = choose(device).name
    key = {"bench": time.time_ns(), **({"precision": name} if name != "fp32" else {})}
    store = FeatureStore(FOLDER / f"speed-{time.time_ns()}", key)
    hashes = [hashlib.sha256(p.encode()).hexdigest() for p in paths]
    net = backbone()
    started = time.perf_counter()
    for _ in extract(store, net, STATS, hashes, paths, size, device=device, batch_size=batch):
        pass
    rate = len(paths) / (time.perf_counter() - started)
    shutil.rmtree(store.folder)
    return rate


def speed(args: argparse.Namespace) -> None:
    import torch

    from core.base.memory import keep_freed_memory
    from core.training.precision import choose, cpu_bf16_units

    torch.set_num_threads(2)
    keep_freed_memory()  # the allocator setting Tailor's processes use, for every contender
    small = cifar_paths(args.images)
    sets = {f"{len(small):,} CIFAR-10 JPEGs (32 px)": small}
    if args.large:
        sets[f"{args.large:,} large JPEGs (1000 px)"] = large_jpegs(small, args.large)
    default = choose(torch.device("cpu"), "auto")
    print(f"CPU bfloat16 units: {cpu_bf16_units() or 'none'}; default precision: {default.describe()}")
    print(f"EfficientNet-Lite0 at {args.image_size} px, 2 threads, best of two runs each:")
    for title, paths in sets.items():
        plain_loop(paths[:128], args.image_size)  # warm-up: the model's first call, the page cache
        plain = max(plain_loop(paths, args.image_size) for _ in range(2))
        fp32 = max(tailor_pass(paths, args.image_size, "fp32") for _ in range(2))
        auto = max(tailor_pass(paths, args.image_size, "auto") for _ in range(2))
        print(f"  {title}:")
        print(f"    plain float32 timm loop           {plain:7.1f} images/s")
        print(f"    Tailor's pass, float32           {fp32:7.1f} images/s ({fp32 / plain:.2f}x)")
        print(f"    Tailor's pass, {default.name:<6}            {auto:7.1f} images/s ({auto / plain:.2f}x)")


def batch_sizes(args: argparse.Namespace) -> None:
    import torch

    from core.base.memory import keep_freed_memory

    torch.set_num_threads(2)
    keep_freed_memory()
    paths = cifar_paths(args.images)
    tailor_pass(paths[:256], args.image_size, "auto")
    for batch in (32, 64, 128, 256):
        rate = max(tailor_pass(paths, args.image_size, "auto", batch) for _ in range(2))
        print(f"batch {batch:>4}: {rate:7.1f} images/s")


def agreement(args: argparse.Namespace) -> None:
    from cifar_lt import build, tailor_json

    _tree, source = build(ROOT / ".bench")
    FOLDER.mkdir(parents=True, exist_ok=True)
    catalog = FOLDER / "cifar10-lt-100.sqlite"
    if not catalog.exists():
        shutil.copy(source, catalog)
    common = ["-a", "object", "--head-only", "--backbone", "timm:efficientnet_lite0", "--pretrained", str(WEIGHTS),
              "--normalization", "inception", "--image-size", str(args.image_size), "--epochs", "30",
              "--batch-size", "256", "--device", "cpu"]  # fmt: skip
    print(f"heads on Lite0 features at {args.image_size} px, CIFAR-10-LT ratio 100 (12,406 train / 10,000 test):")
    print(f"{'precision':10} {'loss':18} {'top-1':>6} {'ACSA':>6} {'pass s':>7}")
    for precision in ("fp32", "bf16"):
        os.environ["TAILOR_PRECISION"] = precision
        for loss in ("balanced-softmax", "nw"):
            _wall, result, log = tailor_json("train", str(catalog), *common, "--loss", loss)
            line = next((x for x in log.splitlines() if "feature pass " in x and " s)" in x), "")
            seconds = line.rsplit("feature pass ", 1)[1].split(" s")[0] if line else "-"
            m = result["metrics"]
            print(f"{precision:10} {loss:18} {m['top1']:6.1%} {m['acsa']:6.1%} {seconds:>7}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=("speed", "agreement", "batch"))
    parser.add_argument("--images", type=int, default=3000)
    parser.add_argument("--large", type=int, default=300)
    parser.add_argument("--image-size", type=int, default=128)
    args = parser.parse_args()
    if not WEIGHTS.is_file():
        raise SystemExit(f"needs {WEIGHTS} (see ../shared/weights/README.md)")
    FOLDER.mkdir(parents=True, exist_ok=True)
    {"speed": speed, "agreement": agreement, "batch": batch_sizes}[args.what](args)


if __name__ == "__main__":
    main()
