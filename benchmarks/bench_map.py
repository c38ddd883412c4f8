"""Benchmark: the map of the catalog — which projection (openTSNE or umap-learn), and the Map tab at 1,000,000 points.

``methods``: the stored EfficientNet-Lite0 features (128 px, bundled weights) of CIFAR-10's images from
``make bench-label-next``'s catalog (``.bench/label-next/base.sqlite``; the first ``--images`` of them), projected by
``core.features.projection.project`` with each method; printed: seconds, and how well the labels separate on the
map: the share of each image's 10 nearest map neighbours with its label, and the accuracy of a 10-nearest-neighbour
vote on the map against the same vote in the 1,280-wide feature space (leave-one-out).

``window``: the Map tab with ``--points`` synthetic points (clustered, 10 labels) panned and zoomed by timers while
a stall probe measures the event loop (the worst gap between two 1 ms timer ticks).

    .venv/bin/python benchmarks/bench_map.py methods [--images 20000]
    .venv/bin/python benchmarks/bench_map.py window [--points 1000000]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
BASE = ROOT / ".bench" / "label-next" / "base.sqlite"


def stored_features(limit: int) -> tuple[np.ndarray, np.ndarray]:
    from core.catalog import browse, predictions
    from core.catalog.store import Catalog
    from core.curation.label_issues import FeatureChoice, choose_extractor
    from core.training.runtime import pick_device

    if not BASE.exists():
        raise SystemExit(f"benchmark skipped: {BASE} not found (make bench-label-next builds it)")
    with Catalog(str(BASE)) as cat:
        ids = browse.all_ids(cat)
        rows = np.random.default_rng(0).permutation(len(ids))[:limit]
        chosen = [ids[r] for r in sorted(rows)]
        paths, hashes = predictions.image_paths(cat, chosen)
        choice = FeatureChoice(backbone="timm:efficientnet_lite0", pretrained="imagenet", image_size=128)
        store = choose_extractor(cat, "object", choice).open_store(cat, pick_device("cpu"))
        if store.missing(hashes):
            raise SystemExit("benchmark skipped: the features are not stored (run make bench-label-next first)")
        features = store.gather(hashes)
    labels = np.array([Path(p).parent.name for p in paths])
    return features, labels


def knn_vote(points: np.ndarray, labels: np.ndarray, k: int = 10) -> tuple[float, float]:
    """(share of same-label neighbours, leave-one-out accuracy of a k-NN vote)."""
    from sklearn.neighbors import NearestNeighbors

    _, found = NearestNeighbors(n_neighbors=k + 1).fit(points).kneighbors(points)
    neighbours = labels[found[:, 1:]]
    share = float((neighbours == labels[:, None]).mean())
    names, codes = np.unique(neighbours, return_inverse=True)
    votes = np.apply_along_axis(np.bincount, 1, codes.reshape(neighbours.shape), minlength=len(names))
    return share, float((names[votes.argmax(axis=1)] == labels).mean())


def methods(images: int) -> None:
    from core.base.iteration import drain
    from core.features.projection import project

    features, labels = stored_features(images)
    unit = features.astype(np.float32)
    unit /= np.linalg.norm(unit, axis=1, keepdims=True)
    share, accuracy = knn_vote(unit, labels)
    print(f"{len(features):,} images; feature space: {share:.3f} same-label neighbours, 10-NN vote {accuracy:.3f}")
    for method in ("tsne", "umap"):
        started = time.perf_counter()
        points = drain(project(features, method))
        seconds = time.perf_counter() - started
        share, accuracy = knn_vote(points, labels)
        print(f"{method}: {seconds:.1f} s; map: {share:.3f} same-label neighbours, 10-NN vote {accuracy:.3f}",
              flush=True)  # fmt: skip


def synthetic_map(n: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points in 10 clusters of very different sizes (a long tail), and their cluster."""
    rng = np.random.default_rng(0)
    sizes = np.array([0.4, 0.2, 0.12, 0.08, 0.06, 0.05, 0.04, 0.03, 0.015, 0.005])
    labels = rng.choice(10, size=n, p=sizes / sizes.sum())
    centres = rng.uniform(-60, 60, (10, 2))
    spread = rng.uniform(3, 9, 10)
    points = centres[labels] + rng.normal(0, 1, (n, 2)) * spread[labels, None]
    return points.astype(np.float32), labels


def window(n: int) -> None:
    """Pan and zoom the Map tab over ``n`` synthetic points; print the worst event-loop stall of each phase."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from bench_window import Heartbeat, wait
    from PySide6.QtCore import QRectF, QTimer

    from core.curation.catalog_map import CatalogMap, Colouring
    from core.curation.map_image import colours
    from workbench.app.application import application, create_main_window
    from workbench.viewmodels.map_points import density_image

    app = application()
    main_window = create_main_window(None)
    main_window.resize(1280, 800)
    main_window.show()
    view = main_window.view("map")
    main_window.tabs.setCurrentWidget(view)
    points, labels = synthetic_map(n)
    order = np.argsort(-np.bincount(labels)[labels], kind="stable")  # the smallest clusters last: on top
    colouring = Colouring("label", tuple(f"label {i}" for i in range(10)), labels.astype(np.int64), order)
    started = time.perf_counter()
    rgb = colours(colouring)
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    image = density_image(points, rgb, order)
    print(f"{n:,} points: colours and density image {time.perf_counter() - started:.2f} s (a worker's, not the GUI's)")
    made = CatalogMap(np.arange(n, dtype=np.int64), points, "synthetic", "tsne", 0, True, 0.0)
    view.show_map(made)
    view._coloured((colouring, rgb, rank, image))
    wait(app, lambda: False, 1.0)
    (left, right), _ = view.box.viewRange()
    centre_x, centre_y = float(np.median(points[:, 0])), float(np.median(points[:, 1]))
    phases = {
        "zoom in (to 1/300 of the width)": [(centre_x, centre_y, (right - left) * 0.985**k) for k in range(380)],
        "pan while zoomed in": [(centre_x + 0.05 * k, centre_y + 0.03 * k, (right - left) / 300) for k in range(200)],
        "zoom out": [(centre_x, centre_y, (right - left) / 300 / 0.985**k) for k in range(380)],
        "pan at full view": [(centre_x + 0.4 * k, centre_y, right - left) for k in range(200)],
    }
    for name, steps in phases.items():
        beat, queue = Heartbeat(), list(steps)
        timer = QTimer(interval=16)

        def step() -> None:
            if not queue:
                timer.stop()
                return
            x, y, width = queue.pop(0)
            view.box.setRange(QRectF(x - width / 2, y - width / 2, width, width), padding=0)

        timer.timeout.connect(step)
        beat.start()
        timer.start()
        wait(app, lambda: not queue and not timer.isActive(), 600)
        wait(app, lambda: False, 0.5)  # the last view's points arrive
        result = beat.stop()
        print(
            f"{name}: {len(steps)} steps, worst stall {result['worst_ms']} ms, p99 {result['p99_ms']} ms, "
            f"{result['over_16ms']} over 16 ms; points drawn at the end {len(view.shown_rows):,}",
            flush=True,
        )
    main_window.close()
    from workbench.app.application import finish

    finish(0)  # as `tailor gui` ends: no pool thread outlives the interpreter


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("part", choices=("methods", "window"))
    parser.add_argument("--images", type=int, default=20_000)
    parser.add_argument("--points", type=int, default=1_000_000)
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "2")
    if args.part == "methods":
        methods(args.images)
    else:
        window(args.points)


if __name__ == "__main__":
    main()
