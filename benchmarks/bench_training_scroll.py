"""Benchmark: training throughput in the window while the grid is scrolled, against the CLI on the same run
(targets: >= 70% of the CLI's images/s, worst event-loop stall <= 50 ms; ``--profile`` prints where the GUI thread
was during the stalls).

On the demo catalog (``.bench/demo``, built once) with the Train tab's CPU settings (``nw``, ResNet-18 at 64 px,
batch 32; ``--epochs`` of them):

1. ``tailor train`` in a subprocess (nothing else running): its recorded images/s;
2. the window (Qt offscreen) trains the same run from its Train tab while the Browse grid is scrolled without a
   pause (a page every 25 ms, back to the top at the end) and a 5 ms heartbeat timer records the longest gap of
   the event loop; the run's recorded images/s.

``TAILOR_TRAINING_THREADS`` and ``TAILOR_TRAINING_NICENESS`` set the training thread's torch threads and nice
value (defaults: :func:`workbench.workers.training_queue.training_threads`, ``BACKGROUND_NICENESS``), which is how
the defaults were chosen (docs/benchmarks.md).

    .venv/bin/python benchmarks/bench_training_scroll.py [--epochs 3] [--json] [--profile]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

FLAGS = ("--loss", "nw", "--backbone", "resnet18", "--image-size", "64", "--batch-size", "32", "--device", "cpu")


def cli_run(catalog: Path, epochs: int) -> dict:
    command = [sys.executable, "-I", "-m", "core.cli", "train", str(catalog), "-a", "sleeve", *FLAGS]
    done = subprocess.run(
        [*command, "--epochs", str(epochs), "--json"], capture_output=True, text=True, cwd=ROOT, check=True
    )
    return json.loads(done.stdout)


def window_run(catalog: Path, epochs: int, profile: bool = False) -> dict:
    from bench_training_window import open_window
    from bench_window import Heartbeat, wait
    from PySide6.QtCore import QTimer

    app, window = open_window(catalog)
    window.tabs.setCurrentWidget(window.view("training"))
    wait(app, window.workspace.queue.engine_ready, 120)
    panel = window.view("training")
    panel.attribute.setCurrentText("sleeve")
    panel.set_variants(["nw"])
    panel.epochs.setValue(epochs)
    ended: list = []
    window.workspace.queue.jobEnded.connect(ended.append)
    wait(app, panel.train_button.isEnabled, 60)  # Train waits for the device probe
    panel.train_button.click()
    window.tabs.setCurrentWidget(window.view("browser"))
    bar = window.view("browser").grid.verticalScrollBar()

    def step() -> None:
        bar.setValue(0 if bar.value() >= bar.maximum() else bar.value() + bar.pageStep())

    scroller = QTimer(interval=25)
    scroller.timeout.connect(step)
    from stall_profiler import StallProfiler

    beat = Heartbeat()
    profiler = StallProfiler() if profile else None
    if profiler is not None:
        profiler.start()
    beat.start()
    scroller.start()
    wait(app, lambda: bool(ended), 1800)
    scroller.stop()
    gaps, ends = list(beat.gaps), list(beat.ends)
    stall = beat.stop()
    if profiler is not None:
        profiler.stop()
        print(profiler.report(gaps, ends, beat.began), file=sys.stderr)
    job = ended[0]
    window.close()
    return {"status": job.status, "run_id": job.run_id, "stall": stall}


def images_per_second(catalog: Path, run_id: int) -> float:
    listed = subprocess.run(
        [sys.executable, "-I", "-m", "core.cli", "runs", str(catalog), "--json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    return next(r["images_per_second"] for r in json.loads(listed.stdout) if r["run_id"] == run_id)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--profile", action="store_true", help="print where the GUI thread was during stalls")
    args = parser.parse_args()
    from bench_training_window import demo_catalog

    catalog = demo_catalog()
    started = time.perf_counter()
    cli = cli_run(catalog, args.epochs)
    cli_seconds = time.perf_counter() - started
    window = window_run(catalog, args.epochs, args.profile)
    window_rate = images_per_second(catalog, window["run_id"])
    from workbench.workers.training_queue import BACKGROUND_NICENESS, training_threads

    result = {
        "epochs": args.epochs,
        "training_threads": training_threads(),
        "training_niceness": BACKGROUND_NICENESS,
        "cli_images_per_second": round(cli["images_per_second"], 1),
        "cli_seconds": round(cli_seconds, 1),
        "window_status": window["status"],
        "window_images_per_second": round(window_rate, 1),
        "ratio": round(window_rate / cli["images_per_second"], 3),
        "worst_stall_ms": window["stall"]["worst_ms"],
        "p99_ms": window["stall"]["p99_ms"],
        "stalls_over_16ms": window["stall"]["over_16ms"],
        "stalls_over_50ms": window["stall"]["over_50ms"],
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(
            f"CLI {result['cli_images_per_second']} images/s; window while scrolling "
            f"{result['window_images_per_second']} images/s ({result['ratio']:.0%} of the CLI; "
            f"{result['training_threads']} torch threads at nice {result['training_niceness']}); worst event-loop "
            f"stall {result['worst_stall_ms']} ms (p99 {result['p99_ms']} ms, {result['stalls_over_16ms']} over 16 ms)"
        )
    return 0


if __name__ == "__main__":
    from workbench.app.application import finish

    finish(main())  # as `tailor gui` ends: no pool thread outlives the interpreter
