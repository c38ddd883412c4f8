"""Benchmark: the window's event loop while the Runs tab compares runs (bootstrap intervals on a worker thread).

Opens the window (Qt offscreen) on a catalog with finished runs that share their test images (default: the
``make bench-heads`` catalog, 10,000 CIFAR-10-LT test images), selects the newest ``--runs`` finished runs of one
attribute on the Runs tab and records, with a 5 ms heartbeat timer, the longest gap of the event loop until the
comparison is shown; then the same with another baseline (every run's resampled metrics cached, only the paired
differences computed again). The first comparison includes loading scikit-learn and SciPy on the worker.

    .venv/bin/python benchmarks/bench_compare_window.py [--catalog CATALOG] [--runs 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

DEFAULT_CATALOG = ROOT / ".bench" / "heads" / "cifar10-lt-100.sqlite"


def timed_comparison(app, view, select) -> dict:
    """Run ``select()`` (which starts a comparison) and wait for its table: seconds and the heartbeat's gaps."""
    from bench_window import Heartbeat, wait

    view.table_data = None
    beat = Heartbeat()
    beat.start()
    started = time.perf_counter()
    select()
    if not wait(app, lambda: view.table_data is not None, 600):
        raise SystemExit(f"no comparison after 600 s: {view.compare_caption.text()}")
    seconds = time.perf_counter() - started
    stall = beat.stop()
    return {"seconds": round(seconds, 2), **stall}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--catalog", type=Path, default=DEFAULT_CATALOG)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not args.catalog.is_file():
        raise SystemExit(f"benchmark skipped: {args.catalog} not found (make bench-heads builds it)")
    from bench_training_window import open_window
    from bench_window import wait

    from core.catalog.records import RunStatus

    app, window = open_window(args.catalog)
    view = window.view("runs")
    window.tabs.setCurrentWidget(view)
    wait(app, lambda: view.row_count() > 0, 60)
    finished = [run for run in view.runs if run.status == RunStatus.FINISHED]
    attribute = finished[-1].attribute
    ids = [run.id for run in finished if run.attribute == attribute][-args.runs :]
    if len(ids) < 2:
        raise SystemExit(f"benchmark skipped: {args.catalog} has fewer than two finished runs of '{attribute}'")
    first = timed_comparison(app, view, lambda: view.select_runs(ids))
    again = timed_comparison(app, view, lambda: view.baseline.setCurrentIndex((view.baseline.currentIndex() + 1) % 2))
    window.close()
    result = {"catalog": str(args.catalog), "runs": ids, "first": first, "another_baseline": again}
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    for name, r in (("first comparison", first), ("another baseline", again)):
        print(
            f"{name} of runs {', '.join(map(str, ids))}: {r['seconds']} s; worst event-loop stall {r['worst_ms']} ms "
            f"(p99 {r['p99_ms']} ms, {r['over_16ms']} over 16 ms, {r['over_50ms']} over 50 ms)"
        )
    return 0


if __name__ == "__main__":
    from workbench.app.application import finish

    finish(main())  # as `tailor gui` ends: no pool thread outlives the interpreter
