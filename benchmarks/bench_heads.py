"""Benchmark: heads on frozen pretrained features, CIFAR-10-LT (ratio 100), with the shared EfficientNet-Lite0.

Uses the catalog of ``make bench-quality`` (``.bench/cifar10-lt-100.sqlite``, built once) copied to
``.bench/heads/`` and the ImageNet weights in ``../shared/weights/efficientnet_lite0_imagenet.pth`` (timm key names,
inputs scaled with mean and std 0.5: ``--normalization inception``). Prints:

1. feature pass images/s over the same ``--images`` files: Tailor's pass (``core.features.extract``) against a
   plain torchvision loop (PIL decode and resize, ``pil_to_tensor``, ``v2.Normalize``, the same timm model, batch
   128); the plain loop twice, as written (glibc's default allocator) and with the allocator setting Tailor's
   processes use (``core.base.memory``), so the ratio compares like with like;
2. ``tailor train --head-only`` for every variant (the first computes the features of all 22,406 images, the others
   read them): top-1, ACSA, GM, tail-3 accuracy (the three rarest classes) and the seconds of each head;
3. ``tailor adjust`` of the nw head (tau 1) and its tau chosen on nothing (no validation split here);
4. the convex-GAN (Phase 2 on the nw head) beside its control, cRT, on the same features.

    .venv/bin/python benchmarks/bench_heads.py [--images 1024] [--image-size 128] [--epochs 30] [--skip-pass]
                                               [--only-pass]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

WEIGHTS = ROOT.parent / "shared" / "weights" / "efficientnet_lite0_imagenet.pth"
VARIANTS = ("nw", "ifw", "isw", "iew", "focal", "cb-focal", "ldam", "ldam-drw", "balanced-softmax", "crt")


def tail3(result: dict) -> float:
    """Mean accuracy of the three labels with the fewest training images."""
    rarest = sorted(result["metrics"]["per_label"], key=lambda p: p["count"])[:3]
    return sum(p["accuracy"] for p in rarest) / 3


def feature_pass_speed(catalog: Path, images: int, size: int) -> None:
    import torch

    from core.base.memory import keep_freed_memory
    from core.catalog.store import Catalog
    from core.features.extract import extract
    from core.features.store import FeatureStore
    from core.training.backbones import build_classifier
    from core.training.runtime import pick_device

    torch.set_num_threads(2)
    with Catalog(str(catalog)) as cat, cat.session() as s:
        from sqlalchemy import text

        rows = s.execute(text("select path, content_hash from image order by id limit :n"), {"n": images}).all()
    paths, hashes = [r[0] for r in rows], [r[1] for r in rows]
    model, _ = build_classifier("timm:efficientnet_lite0", 10, pretrained=str(WEIGHTS))
    backbone = model.backbone.eval()
    stats = ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))

    def plain() -> float:
        from PIL import Image
        from torchvision.transforms import v2
        from torchvision.transforms.functional import pil_to_tensor

        normalise = v2.Normalize(*stats)
        started = time.perf_counter()
        with torch.inference_mode():
            for start in range(0, len(paths), 128):
                batch = [
                    pil_to_tensor(Image.open(p).convert("RGB").resize((size, size), Image.Resampling.BILINEAR))
                    for p in paths[start : start + 128]
                ]
                backbone(normalise(torch.stack(batch).float() / 255))
        return len(paths) / (time.perf_counter() - started)

    def ours() -> float:
        from core.training.precision import choose

        device = pick_device("cpu")
        precision = choose(device).name  # the store records the precision the pass runs in
        key = {"bench": 1, **({"precision": precision} if precision != "fp32" else {})}
        store = FeatureStore(ROOT / ".bench" / "heads" / f"speed-{time.time_ns()}", key)
        started = time.perf_counter()
        for _ in extract(store, backbone, stats, hashes, paths, size, device=device):
            pass
        rate = len(paths) / (time.perf_counter() - started)
        shutil.rmtree(store.folder)
        return rate

    as_written = plain()
    keep_freed_memory()
    plain_tuned, tailor_pass = plain(), ours()
    plain_tuned, tailor_pass = max(plain_tuned, plain()), max(tailor_pass, ours())
    print(f"feature pass over {len(paths):,} images at {size} px, EfficientNet-Lite0, 2 threads:")
    print(f"  plain torchvision loop as written     {as_written:6.1f} images/s")
    print(f"  plain loop, Tailor's allocator setting {plain_tuned:6.1f} images/s")
    print(
        f"  Tailor's feature pass                 {tailor_pass:6.1f} images/s (ratio {tailor_pass / plain_tuned:.2f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=1024)
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--skip-pass", action="store_true", help="skip the feature pass speed comparison")
    parser.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda")
    parser.add_argument("--only-pass", action="store_true", help="only the feature pass speed comparison")
    args = parser.parse_args()
    if not WEIGHTS.is_file():
        raise SystemExit(f"needs {WEIGHTS} (see ../shared/weights/README.md)")
    from cifar_lt import build, tailor_json

    _tree, source = build(ROOT / ".bench")
    folder = ROOT / ".bench" / "heads"
    folder.mkdir(parents=True, exist_ok=True)
    catalog = folder / "cifar10-lt-100.sqlite"
    if not catalog.exists():
        shutil.copy(source, catalog)
    if not args.skip_pass:
        feature_pass_speed(catalog, args.images, args.image_size)
    if args.only_pass:
        return
    common = ["-a", "object", "--head-only", "--backbone", "timm:efficientnet_lite0", "--pretrained", str(WEIGHTS),
              "--normalization", "inception", "--image-size", str(args.image_size), "--epochs", str(args.epochs),
              "--batch-size", "256", "--device", args.device]  # fmt: skip
    print(f"\nheads ({args.epochs} epochs of Adam, batch 256, cosine schedule; 12,406 train / 10,000 test images):")
    print(f"{'variant':18} {'top-1':>6} {'ACSA':>6} {'GM':>6} {'tail-3':>6} {'head s':>7} {'pass s':>7}")
    runs = {}
    for variant in VARIANTS:
        _wall, result, log = tailor_json("train", str(catalog), *common, "--loss", variant)
        feature_line = next((line for line in log.splitlines() if "feature pass" in line), "")
        pass_s = float(feature_line.rsplit("feature pass ", 1)[1].split(" s")[0]) if feature_line else float("nan")
        runs[variant] = result
        m = result["metrics"]
        print(f"{variant:18} {m['top1']:6.1%} {m['acsa']:6.1%} {m['gm']:6.1%} {tail3(result):6.1%} "
              f"{result['seconds']:7.1f} {pass_s:7.1f}")  # fmt: skip
    _wall, adjusted, _ = tailor_json("adjust", str(catalog), str(runs["nw"]["run_id"]), "--tau", "1")
    m = adjusted["metrics"]
    print(f"{'nw + LA tau=1':18} {m['top1']:6.1%} {m['acsa']:6.1%} {m['gm']:6.1%} {tail3(adjusted):6.1%} "
          f"{adjusted['seconds']:7.1f}")  # fmt: skip
    _wall, gan, _ = tailor_json("oversample", str(catalog), str(runs["nw"]["run_id"]), "--device", args.device)
    m = gan["metrics"]
    print(f"{'nw + convex-GAN':18} {m['top1']:6.1%} {m['acsa']:6.1%} {m['gm']:6.1%} {tail3(gan):6.1%} "
          f"{gan['seconds']:7.1f}   (control: crt above, same features)")  # fmt: skip


if __name__ == "__main__":
    main()
