"""Benchmark: approximate nearest-neighbour indexes for similar images (issue 29), against exact search.

Synthetic features shaped like a catalog's: ``--size`` vectors, 1,280 wide, around 2,000 cluster centres (products
photographed several times, near-duplicates), stored as float16 and L2-normalised (cosine = inner product). 100
queries (catalog images) with their exact top 10 from a float32 product. For each library: build time on 2 threads,
index size, one query's time (median of 100), recall@10 against exact search.

    .venv/bin/python benchmarks/bench_similar_index.py [--size 200000] [--only hnswlib,usearch,faiss]

Needs the libraries (``pip install hnswlib usearch faiss-cpu``); not part of Tailor's dependencies until chosen.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np

WIDTH, CENTRES, QUERIES, K = 1280, 2000, 100, 10


def data(size: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((CENTRES, WIDTH), dtype=np.float32)
    out = np.empty((size, WIDTH), np.float16)
    for start in range(0, size, 50_000):
        n = min(50_000, size - start)
        rows = centres[rng.integers(0, CENTRES, n)] + 0.6 * rng.standard_normal((n, WIDTH), dtype=np.float32)
        out[start : start + n] = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    return out


def exact(features: np.ndarray, queries: np.ndarray) -> np.ndarray:
    scores = np.zeros((len(queries), len(features)), np.float32)
    for start in range(0, len(features), 100_000):
        scores[:, start : start + 100_000] = queries @ features[start : start + 100_000].astype(np.float32).T
    return np.argsort(-scores, axis=1)[:, :K]


def measure(name: str, build: Callable[[], object], search: Callable[[object, np.ndarray], np.ndarray],
            queries: np.ndarray, truth: np.ndarray, size_of: Callable[[object], int]) -> None:  # fmt: skip
    started = time.perf_counter()
    index = build()
    built = time.perf_counter() - started
    times, found = [], []
    for q in queries:
        t = time.perf_counter()
        found.append(search(index, q))
        times.append(time.perf_counter() - t)
    recall = np.mean([len(set(f[:K]) & set(t)) / K for f, t in zip(found, truth)])
    print(f"  {name:34} build {built:7.1f} s, index {size_of(index) / 2**30:5.2f} GiB, query "
          f"{statistics.median(times) * 1000:6.2f} ms, recall@10 {recall:.3f}", flush=True)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=200_000)
    parser.add_argument("--only", default="exact,hnswlib,usearch,faiss")
    args = parser.parse_args()
    only = set(args.only.split(","))
    features = data(args.size)
    rng = np.random.default_rng(1)
    queries = features[rng.choice(args.size, QUERIES, replace=False)].astype(np.float32)
    started = time.perf_counter()
    truth = exact(features, queries)
    print(f"{args.size:,} x {WIDTH} float16 features; exact top 10 of {QUERIES} queries in "
          f"{time.perf_counter() - started:.1f} s", flush=True)  # fmt: skip
    ids = np.arange(args.size)
    if "exact" in only:
        from core.curation.similar import nearest

        measure("exact (core.curation.similar)", lambda: features, lambda f, q: nearest(q[None], f, K)[0],
                queries, truth, lambda f: f.nbytes)  # fmt: skip
    if "hnswlib" in only:
        import hnswlib

        def hnsw() -> object:
            index = hnswlib.Index(space="ip", dim=WIDTH)
            index.init_index(max_elements=args.size, M=16, ef_construction=100)
            index.set_num_threads(2)
            for start in range(0, args.size, 50_000):
                index.add_items(features[start : start + 50_000].astype(np.float32), ids[start : start + 50_000])
            index.set_ef(128)
            return index

        measure("hnswlib HNSW (M 16, ef 128)", hnsw, lambda i, q: i.knn_query(q, k=K, num_threads=1)[0][0],  # type: ignore[attr-defined]
                queries, truth, lambda i: args.size * (WIDTH * 4 + 16 * 2 * 8))  # fmt: skip
    if "usearch" in only:
        from usearch.index import Index

        def usearch_index() -> object:
            index = Index(ndim=WIDTH, metric="ip", dtype="f16", connectivity=16, expansion_add=128,
                          expansion_search=128)  # fmt: skip
            index.add(ids, features, threads=2)
            return index

        measure("usearch HNSW f16 (M 16, ef 128)", usearch_index,
                lambda i, q: i.search(q.astype(np.float16), K, threads=1).keys,  # type: ignore[attr-defined]
                queries, truth, lambda i: int(i.memory_usage))  # type: ignore[attr-defined]  # fmt: skip
    if "faiss" in only:
        import faiss

        faiss.omp_set_num_threads(2)

        def ivf() -> object:
            quantizer = faiss.IndexFlatIP(WIDTH)
            index = faiss.IndexIVFScalarQuantizer(quantizer, WIDTH, 1024, faiss.ScalarQuantizer.QT_fp16,
                                                  faiss.METRIC_INNER_PRODUCT)  # fmt: skip
            sample = features[np.random.default_rng(2).choice(args.size, min(args.size, 60_000), replace=False)]
            index.train(sample.astype(np.float32))
            for start in range(0, args.size, 50_000):
                index.add(features[start : start + 50_000].astype(np.float32))
            index.nprobe = 32
            return index

        measure("faiss IVF fp16 (1024 lists, probe 32)", ivf, lambda i, q: i.search(q[None], K)[1][0],  # type: ignore[attr-defined]
                queries, truth, lambda i: args.size * WIDTH * 2)  # fmt: skip


if __name__ == "__main__":
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    main()
