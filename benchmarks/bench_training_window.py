"""Benchmark: the window trains one run on the demo catalog with the CPU defaults (target: worst stall <= 50 ms).

Builds the demo catalog in ``.bench/demo`` once, opens the window (Qt offscreen), checks ``nw`` in the Train tab
and clicks **Train** with the panel's CPU defaults, while a 5 ms heartbeat timer records the longest gap of the
event loop, from the click (torch is imported by the worker) to the end of the run. Prints the run's duration,
the worst stall and whether ``tailor runs`` lists the run.

    .venv/bin/python benchmarks/bench_training_window.py [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    out = ROOT / ".bench" / "demo"
    catalog = out / "catalog.sqlite"
    if not catalog.exists():
        subprocess.run([sys.executable, "-m", "workbench.launcher", "demo", "--out", str(out), "--no-gui"],
                       check=True, capture_output=True, cwd=ROOT)
    os.environ["TAILOR_CACHE_DIR"] = tempfile.mkdtemp(prefix="tailor-thumbs-")
    from PySide6.QtCore import QSettings

    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, tempfile.mkdtemp())
    from bench_window import Heartbeat, wait

    from workbench.app import application, create_main_window

    app = application()
    window = create_main_window(str(catalog))
    window.resize(1280, 800)
    window.show()
    wait(app, lambda: window.queue is not None and window.training.attribute.count() > 0, 30)
    window.tabs.setCurrentWidget(window.training)
    panel = window.training
    panel.attribute.setCurrentText("sleeve")
    panel.set_variants(["nw"])
    ended = []
    window.queue.jobEnded.connect(ended.append)
    beat = Heartbeat()
    beat.start()
    started = time.perf_counter()
    panel.train_button.click()
    wait(app, lambda: bool(ended), 900)
    seconds = time.perf_counter() - started
    stall = beat.stop()
    job = ended[0]
    listed = subprocess.run([sys.executable, "-m", "workbench.launcher", "runs", str(catalog), "--json"],
                            capture_output=True, text=True, cwd=ROOT)
    runs = json.loads(listed.stdout) if listed.returncode == 0 else []
    result = {"status": job.status, "run_id": job.run_id, "seconds": round(seconds, 1),
              "config": {k: getattr(job.config, k) for k in ("backbone", "epochs", "batch_size", "image_size")},
              "worst_stall_ms": stall["worst_ms"], "p99_ms": stall["p99_ms"],
              "listed_by_tailor_runs": any(r["run_id"] == job.run_id for r in runs)}
    window.close()
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"run {job.run_id} {job.status} in {result['seconds']} s ({result['config']}); worst event-loop stall "
              f"{stall['worst_ms']} ms (p99 {stall['p99_ms']} ms); listed by tailor runs: "
              f"{result['listed_by_tailor_runs']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
