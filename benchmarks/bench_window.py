"""Benchmark: the window on the 60,000-image CIFAR-10 catalog (targets: first page with thumbnails <= 1 s, worst
stall <= 16 ms scrolling; ``--profile`` prints where the GUI thread was during the stalls).

Builds ``.bench/cifar10-full.sqlite`` once (the whole CIFAR-10 JPEG tree, attribute ``object``), then in one
process (Qt offscreen unless a display is given):

1. times ``create_main_window(catalog)`` + ``show()`` until the window is painted, and until the grid's first
   page of rows and its thumbnails are on screen (from ``application()``, as before, and from the start of the
   process, which adds Python's and Qt's own start);
2. scrolls the grid page after page to the end (one page step every 25 ms) while a 5 ms heartbeat timer records
   the longest gap of the event loop, then the same with fast flings (ten pages per step);
3. reports memory (RSS) before and after scrolling, the thumbnail cache size and whether torch was imported.

    .venv/bin/python benchmarks/bench_window.py [--catalog PATH] [--json] [--profile]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

PROCESS_START = time.perf_counter()
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class Heartbeat:
    """A 5 ms timer; the longest interval between two ticks is the worst stall of the event loop."""

    def __init__(self) -> None:
        from PySide6.QtCore import QTimer

        self.gaps: list[float] = []
        self.ends: list[float] = []  # when each gap ended, seconds after start()
        self.last = self.began = time.perf_counter()
        self.timer = QTimer(interval=5)
        self.timer.timeout.connect(self.tick)

    def start(self) -> None:
        self.gaps.clear()
        self.ends.clear()
        self.last = self.began = time.perf_counter()
        self.timer.start()

    def tick(self) -> None:
        now = time.perf_counter()
        self.gaps.append(now - self.last)
        self.ends.append(now - self.began)
        self.last = now

    def stop(self) -> dict:
        self.timer.stop()
        gaps = sorted(self.gaps)
        worst = max(range(len(self.gaps)), key=self.gaps.__getitem__)
        return {
            "ticks": len(gaps),
            "worst_ms": round(gaps[-1] * 1000, 1),
            "p99_ms": round(gaps[int(len(gaps) * 0.99)] * 1000, 1),
            "worst_at_s": round(self.ends[worst] - self.gaps[worst], 2),
            "over_16ms": sum(gap > 0.016 for gap in gaps),
            "over_50ms": sum(gap > 0.05 for gap in gaps),
        }


def wait(app, condition, timeout: float) -> bool:
    end = time.perf_counter() + timeout
    while time.perf_counter() < end:
        app.processEvents()
        if condition():
            return True
        time.sleep(0.002)
    return False


def scroll(app, window, step_pages: int, interval_ms: int = 25, profile: bool = False) -> dict:
    from PySide6.QtCore import QTimer
    from stall_profiler import StallProfiler

    bar = window.view("browser").grid.verticalScrollBar()
    bar.setValue(0)
    done = {"flag": False, "steps": 0}
    timer = QTimer(interval=interval_ms)

    def step() -> None:
        if bar.value() >= bar.maximum():
            timer.stop()
            done["flag"] = True
            return
        bar.setValue(bar.value() + bar.pageStep() * step_pages)
        done["steps"] += 1

    timer.timeout.connect(step)
    beat = Heartbeat()
    profiler = StallProfiler() if profile else None
    if profiler is not None:
        profiler.start()
    beat.start()
    started = time.perf_counter()
    timer.start()
    wait(app, lambda: done["flag"], 600)
    seconds = time.perf_counter() - started
    gaps, ends = list(beat.gaps), list(beat.ends)
    result = beat.stop()
    if profiler is not None:
        profiler.stop()
        print(f"-- {step_pages} page(s) a step: " + profiler.report(gaps, ends, beat.began), file=sys.stderr)
    result.update(steps=done["steps"], seconds=round(seconds, 1), reached_end=bar.value() == bar.maximum())
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--catalog", help="catalog to open (default: build .bench/cifar10-full.sqlite)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--profile", action="store_true", help="print where the GUI thread was during stalls")
    args = parser.parse_args()
    if args.catalog:
        catalog = Path(args.catalog)
    else:
        import cifar_lt

        _, catalog = cifar_lt.build_full(ROOT / ".bench")
    cache = tempfile.mkdtemp(prefix="tailor-thumbs-")
    os.environ["TAILOR_CACHE_DIR"] = cache
    settings_dir = tempfile.mkdtemp(prefix="tailor-settings-")

    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, settings_dir)
    from workbench.app.application import application, create_main_window

    t0 = time.perf_counter()
    app = application()
    window = create_main_window(str(catalog))
    window.resize(1280, 800)
    window.show()
    painted = {"t": None}
    wait(app, lambda: window.isVisible(), 5)
    app.processEvents()
    painted["t"] = time.perf_counter() - t0
    model, thumbs = window.view("browser").model, window.thumbs
    wait(app, lambda: model.rowCount() > 0 and model.row_info(0) is not None and thumbs.cached_count >= 20, 30)
    populated = time.perf_counter() - t0
    wait(app, lambda: thumbs.pending() == 0 and window.catalog_label.text() != "", 30)
    settled = time.perf_counter() - t0
    rows = model.rowCount()
    torch_at_start = any(m == "torch" or m.startswith("torch.") for m in sys.modules)
    idle = Heartbeat()
    idle.start()
    wait(app, lambda: False, 1.0)
    idle_result = idle.stop()
    rss_before = rss_mb()
    pages = scroll(app, window, 1, profile=args.profile)
    wait(app, lambda: thumbs.pending() == 0, 30)
    rss_after_pages = rss_mb()
    flings = scroll(app, window, 10, profile=args.profile)
    wait(app, lambda: thumbs.pending() == 0, 30)
    rss_after = rss_mb()
    result = {
        "catalog": str(catalog),
        "images": rows,
        "platform": QApplication.platformName(),
        "window_shown_s": round(painted["t"], 3),
        "first_page_with_thumbnails_s": round(populated, 3),
        "first_page_from_process_start_s": round(populated + t0 - PROCESS_START, 3),
        "settled_s": round(settled, 3),
        "idle": idle_result,
        "scroll_page_by_page": pages,
        "scroll_ten_pages_a_step": flings,
        "rss_mb_before_scroll": round(rss_before, 1),
        "rss_mb_after_pages": round(rss_after_pages, 1),
        "rss_mb_after_flings": round(rss_after, 1),
        "thumbnail_cache_mb": round(thumbs.cached_bytes / 2**20, 1),
        "thumbnails_cached": thumbs.cached_count,
        "row_pages_loaded": model.loaded_pages(),
        "torch_imported_at_start": torch_at_start,
        "torch_imported_after_scroll": any(m == "torch" or m.startswith("torch.") for m in sys.modules),
    }
    window.close()
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(
            f"window on {rows:,} images ({result['platform']}): shown {result['window_shown_s']:.2f} s, first page "
            f"with thumbnails {result['first_page_with_thumbnails_s']:.2f} s "
            f"({result['first_page_from_process_start_s']:.2f} s from the process start), settled "
            f"{result['settled_s']:.2f} s"
        )
        for name in ("scroll_page_by_page", "scroll_ten_pages_a_step"):
            r = result[name]
            print(
                f"{name}: {r['steps']} steps in {r['seconds']} s, worst stall {r['worst_ms']} ms, "
                f"p99 {r['p99_ms']} ms, reached end: {r['reached_end']}"
            )
        print(
            f"memory: {result['rss_mb_before_scroll']} MB before scrolling, {result['rss_mb_after_pages']} MB after "
            f"page by page, {result['rss_mb_after_flings']} MB after flings; thumbnail cache "
            f"{result['thumbnail_cache_mb']} MB ({result['thumbnails_cached']:,}); {result['row_pages_loaded']} "
            f"row pages held"
        )
        print(f"torch imported: at start {torch_at_start}, after scrolling {result['torch_imported_after_scroll']}")
    return 0


if __name__ == "__main__":
    from workbench.app.application import finish

    finish(main())  # as `tailor gui` ends: no pool thread outlives the interpreter
