"""Benchmark: one similar-images query (``core.curation.similar.nearest``, exact search) over synthetic float16
features, 1,280 wide (EfficientNet's), at 100,000 and 1,000,000 images; 2 CPU threads. The target of issue 29 (one
query <= 50 ms at 1,000,000 with recall@10 >= 0.95) needs an approximate index: this is the exact baseline.

    .venv/bin/python benchmarks/bench_similar.py [--width 1280]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--width", type=int, default=1280)
    args = parser.parse_args()
    from core.curation.similar import nearest

    rng = np.random.default_rng(0)
    features = rng.standard_normal((1_000_000, args.width), dtype=np.float32).astype(np.float16)
    for size in (100_000, 1_000_000):
        pool = features[:size]
        nearest(pool[:5], pool[:1000], 50)  # warm-up
        times = []
        for query in range(3):
            started = time.perf_counter()
            nearest(pool[query * 5 : query * 5 + 5], pool, 50)
            times.append(time.perf_counter() - started)
        print(f"{size:>9,} x {args.width} float16: one query (5 chosen, top 50) {min(times) * 1000:7.0f} ms exact")


if __name__ == "__main__":
    main()
