"""Benchmark: the convex-GAN oversampler on CIFAR-10-LT (ratio 100): metrics before and after Phase 2.

Uses the catalog of ``make bench-quality`` (``.bench/cifar10-lt-100.sqlite``, built once) and its base run: by
default the latest finished ``nw`` resnet32-cifar run of that protocol (``--base RUN`` picks another; without one
an ``nw`` run is trained first: 16 epochs, about 10 minutes on 2 CPU cores). Then runs ``tailor oversample`` with
the defaults (and with every extra setting given by ``--also "--head-lr 5e-5"``-style options) and prints top-1,
ACSA, GM, macro AP and the tail-3 accuracy (the three rarest classes) of the base and each oversampled run, with
Phase 2 throughput in iterations/s (Phase 1 features come from the base run's cache after the first call).

    .venv/bin/python benchmarks/bench_oversampling.py [--base RUN] [--device cpu|cuda] [--also "ARGS" ...]
"""

from __future__ import annotations

import argparse
import re
import shlex
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from cifar_lt import build, tailor_json


def base_run(catalog: Path, device: str) -> int:
    _, runs, _ = tailor_json("runs", str(catalog))
    candidates = [
        r
        for r in runs
        if r["loss"] == "nw" and r["backbone"] == "resnet32-cifar" and r["status"] == "finished" and r["epochs"] >= 16
    ]
    if candidates:
        return candidates[-1]["run_id"]
    print("training the nw base run (resnet32-cifar, 16 epochs, SGD: the make bench-quality protocol)", flush=True)
    _, result, _ = tailor_json(
        "train",
        str(catalog),
        "-a",
        "object",
        "--loss",
        "nw",
        "--backbone",
        "resnet32-cifar",
        "--epochs",
        "16",
        "--batch-size",
        "128",
        "--image-size",
        "32",
        "--optimizer",
        "sgd",
        "--lr",
        "0.1",
        "--device",
        device,
    )
    return result["run_id"]


def row(name: str, result: dict, seconds: float | None, iterations_per_s: float | None) -> str:
    m = result["metrics"]
    rarest = sorted(m["per_label"], key=lambda p: p["count"])[:3]
    tail = sum(p["accuracy"] for p in rarest) / 3
    speed = f"{iterations_per_s:.1f}" if iterations_per_s else "-"
    time_text = f"{seconds:.0f}" if seconds else "-"
    return (
        f"| {name} | {result['run_id']} | {100 * m['top1']:.1f} | {100 * m['acsa']:.1f} | {100 * m['gm']:.1f} "
        f"| {100 * m['macro_ap']:.1f} | {100 * tail:.1f} | {speed} | {time_text} |"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", default=str(ROOT / ".bench"))
    parser.add_argument("--base", type=int, help="base run (default: the latest nw resnet32-cifar 16-epoch run)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--also",
        action="append",
        default=[],
        metavar="ARGS",
        help='another Phase 2 setting to run, e.g. --also "--head-lr 5e-5"',
    )
    args = parser.parse_args()
    _, catalog = build(Path(args.dir))
    base = args.base or base_run(catalog, args.device)
    _, base_result, _ = tailor_json("runs", str(catalog))
    base_result = next(r for r in base_result if r["run_id"] == base)
    lines = [row(f"base: {base_result['loss']}", base_result, None, None)]
    for extra in ["", *args.also]:
        seconds, result, log = tailor_json(
            "oversample", str(catalog), str(base), "--device", args.device, *shlex.split(extra)
        )
        iterations = int(re.search(r"(\d+) iterations per epoch", log).group(1))
        phase2 = result["epochs"] * iterations / result["seconds"]
        lines.append(row(f"convex-gan {extra or '(defaults)'}", result, seconds, phase2))
        print(lines[-1], flush=True)
    print("\n| run | id | top-1 | ACSA | GM | macro AP | tail-3 accuracy | Phase 2 iterations/s | seconds |")
    print("|---|---|---|---|---|---|---|---|---|")
    print("\n".join(lines))
    print(f"\ncatalog {catalog}; base run {base}; device {args.device}; last-epoch metrics on the balanced test set")
    return 0


if __name__ == "__main__":
    sys.exit(main())
