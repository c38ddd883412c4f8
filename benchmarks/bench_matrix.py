"""Benchmark: the variant matrix (``tailor matrix``) on CIFAR-10-LT (ratio 100) with stored EfficientNet-Lite0
features, every head variant x 3 seeds, then the comparison with 2,000 bootstrap resamples. Target: <= 5 minutes on
2 cores (the feature store already filled: ``make bench-heads`` fills it).

Uses a copy of ``.bench/heads/cifar10-lt-100.sqlite`` in ``.bench/matrix/`` (its feature store linked, a fresh runs
folder), so the benchmark catalog keeps its own runs. Prints the time and writes the Markdown table and the JSON to
``.bench/matrix/``.

    .venv/bin/python benchmarks/bench_matrix.py [--seeds 0,1,2] [--epochs 30] [--variants LIST]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
WEIGHTS = ROOT.parent / "shared" / "weights" / "efficientnet_lite0_imagenet.pth"
SOURCE = ROOT / ".bench" / "heads" / "cifar10-lt-100.sqlite"
HEADS = "nw,ifw,isw,iew,focal,cb-focal,ldam,ldam-drw,balanced-softmax,crt"


def prepared() -> Path:
    if not SOURCE.exists() or not (SOURCE.parent / (SOURCE.name + ".features")).exists():
        sys.exit(f"{SOURCE} and its feature store are missing: run `make bench-heads` first")
    folder = ROOT / ".bench" / "matrix"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    catalog = folder / "cifar10-lt-100.sqlite"
    shutil.copy(SOURCE, catalog)
    (folder / (catalog.name + ".features")).symlink_to(SOURCE.parent / (SOURCE.name + ".features"))
    return catalog


def main() -> None:
    from core.cli.main import main as tailor

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--variants", default=HEADS, help="default: every head variant (not the convex-GAN)")
    args = parser.parse_args()
    catalog = prepared()
    common = ["matrix", str(catalog), "-a", "object", "--backbone", "timm:efficientnet_lite0", "--pretrained",
              str(WEIGHTS), "--normalization", "inception", "--image-size", "128", "--epochs", str(args.epochs),
              "--batch-size", "256", "--variants", args.variants, "--seeds", args.seeds]  # fmt: skip
    out = io.StringIO()
    started = time.perf_counter()
    with contextlib.redirect_stdout(out):
        status = tailor(common)
    seconds = time.perf_counter() - started
    if status != 0:
        sys.exit(f"tailor matrix exited {status}")
    (catalog.parent / "matrix.md").write_text(out.getvalue())
    runs = len(args.variants.split(",")) * len(args.seeds.split(","))
    print(f"{runs} runs ({args.variants} x seeds {args.seeds}), {args.epochs} epochs each, then the table:")
    print(f"  {seconds:.0f} s in all ({seconds / runs:.1f} s a run; target <= 300 s)")
    print(f"  table: {catalog.parent / 'matrix.md'}")


if __name__ == "__main__":
    main()
