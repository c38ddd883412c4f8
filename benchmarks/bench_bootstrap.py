"""Benchmark: bootstrap intervals (``core.analysis.bootstrap``) of one run and of a paired comparison.

Synthetic scores of 10,000 test images x 10 labels (issue 19's size), 2,000 resamples, every metric and every
label; best of three. Targets: one run <= 2 s, a paired comparison <= 3 s on 2 cores.

    .venv/bin/python benchmarks/bench_bootstrap.py [--images 10000] [--labels 10] [--resamples 2000]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    from core.analysis.bootstrap import intervals, paired_intervals

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--labels", type=int, default=10)
    parser.add_argument("--resamples", type=int, default=2000)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    truth = rng.integers(0, args.labels, args.images)
    logits = rng.normal(0, 1, (args.images, args.labels))
    logits[np.arange(args.images), truth] += 2
    a = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    b = np.exp(1.1 * logits) / np.exp(1.1 * logits).sum(axis=1, keepdims=True)
    one, paired = [], []
    for _ in range(3):
        started = time.perf_counter()
        intervals(truth, a, multi_label=False, resamples=args.resamples)
        one.append(time.perf_counter() - started)
        started = time.perf_counter()
        paired_intervals(truth, a, b, multi_label=False, resamples=args.resamples)
        paired.append(time.perf_counter() - started)
    print(f"{args.images:,} test images x {args.labels} labels, {args.resamples:,} resamples, every metric:")
    print(f"  one run            {min(one):.2f} s (target <= 2 s)")
    print(f"  paired comparison  {min(paired):.2f} s (target <= 3 s)")


if __name__ == "__main__":
    main()
