"""Benchmark: `stats` over synthetic catalogs of 1,000,000 annotations (target: <= 100 ms).

Two catalogs are built once in .bench/ (rows written straight through sqlite3 for speed, after the catalog
schema is created by Tailor itself):

* single: 1,000,000 images, one of 100 long-tailed labels each (ratio 1000);
* multi:  250,000 images, 4 of 60 long-tailed labels each.

Printed: the median and worst of 7 runs of the statistics (label counts, image count, groups, weights) on an open
catalog, the same for one split, and the wall time of the whole `tailor stats` command (process start included).

    make bench            # or: .venv/bin/python benchmarks/bench_stats.py
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.catalog.store import Catalog
from core.cli.main import stats_dict

N = 1_000_000


def long_tail(labels: int, ratio: float) -> np.ndarray:
    p = ratio ** (-np.arange(labels) / (labels - 1))
    return p / p.sum()


def build(path: Path, kind: str) -> None:
    if path.exists():
        return
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    Catalog.create(tmp).close()
    rng = np.random.default_rng(0)
    con = sqlite3.connect(tmp)
    con.execute("PRAGMA journal_mode = OFF")
    con.execute("PRAGMA synchronous = OFF")
    images = N if kind == "single" else N // 4
    labels = 100 if kind == "single" else 60
    splits = np.array(["train", "train", "train", "val", "test"])
    split_of = splits[rng.integers(0, len(splits), images)]
    con.executemany(
        "INSERT INTO image (id, path, content_hash, width, height, split, added_at, updated_at) "
        "VALUES (?, ?, '0', 32, 32, ?, '2026-01-01', '2026-01-01')",
        ((i + 1, f"/synthetic/{i:07d}.jpg", split_of[i]) for i in range(images)),
    )
    con.execute("INSERT INTO attribute (id, name, kind, created_at) VALUES (1, 'synthetic', ?, '2026-01-01')", (kind,))
    con.executemany(
        "INSERT INTO label (id, attribute_id, name) VALUES (?, 1, ?)",
        ((j + 1, f"label-{j:03d}") for j in range(labels)),
    )
    p = long_tail(labels, 1000.0 if kind == "single" else 200.0)
    if kind == "single":
        pairs = ((i + 1, int(l) + 1) for i, l in enumerate(rng.choice(labels, images, p=p)))
    else:  # 4 distinct labels per image
        keys = rng.random((images, labels)) ** (1.0 / p)  # weighted sampling without replacement
        chosen = np.argpartition(-keys, 4, axis=1)[:, :4]
        pairs = ((i + 1, int(l) + 1) for i in range(images) for l in chosen[i])
    con.executemany(
        "INSERT INTO annotation (image_id, label_id, attribute_id, source, created_at) "
        "VALUES (?, ?, 1, 'import', '2026-01-01')",
        pairs,
    )
    con.commit()
    con.execute("ANALYZE")
    count = con.execute("SELECT COUNT(*) FROM annotation").fetchone()[0]
    con.close()
    assert count == N, count
    tmp.rename(path)


def timed(fn, runs: int = 7) -> tuple[float, float]:
    fn()  # warm the page cache
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000, max(samples) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", default=str(ROOT / ".bench"), help="where the synthetic catalogs are kept")
    args = parser.parse_args()
    folder = Path(args.dir)
    folder.mkdir(exist_ok=True)
    tailor = Path(sys.executable).with_name("tailor")
    print(f"stats over {N:,} annotations (target <= 100 ms)")
    for kind in ("single", "multi"):
        path = folder / f"stats-{kind}.sqlite"
        started = time.perf_counter()
        build(path, kind)
        built = time.perf_counter() - started
        with Catalog(path) as catalog:
            median, worst = timed(lambda: stats_dict(catalog, "synthetic", beta=0.99, split=None, groups="log"))
            s_median, _s_worst = timed(lambda: stats_dict(catalog, "synthetic", beta=0.99, split="test", groups="log"))
            images = catalog.label_counts("synthetic").images
        wall, _ = timed(
            lambda: subprocess.run(
                [str(tailor), "stats", str(path), "-a", "synthetic", "--json"], check=True, capture_output=True
            ),
            runs=3,
        )
        print(
            f"  {kind:<6} ({images:,} images; built in {built:.0f} s): stats {median:.1f} ms median, "
            f"{worst:.1f} ms worst; --split test {s_median:.0f} ms; whole `tailor stats` command {wall:.0f} ms"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
