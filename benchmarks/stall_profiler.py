"""Where the GUI thread spends a stall: a sampler thread records the GUI thread's Python stack every millisecond
(``sys._current_frames``); after a run, the samples that fall inside the heartbeat's long gaps are counted by the
innermost frame of ours (``core`` / ``workbench``) and by the innermost frame of any code, so a benchmark says what
to remove instead of leaving it to guesses.

    profiler = StallProfiler(); profiler.start(); ...; profiler.stop()
    print(profiler.report(beat.gaps, beat.ends, threshold_ms=16))

A sample needs the GIL: one taken late (the GUI thread held the GIL in C code) still names the frame the GUI thread
was in, since Python frames do not change while C code runs.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[1])


def _where(frame, ours_only: bool) -> str:  # type: ignore[no-untyped-def]
    while frame is not None:
        path = frame.f_code.co_filename
        if not ours_only or (path.startswith(ROOT) and "/benchmarks/" not in path and "/.venv/" not in path):
            return f"{Path(path).name}:{frame.f_code.co_name}:{frame.f_lineno}"
        frame = frame.f_back
    return "(outside Python)"


class StallProfiler:
    def __init__(self, interval_s: float = 0.001) -> None:
        self.interval = interval_s
        self.thread_id = threading.get_ident()  # made on the GUI thread
        self.samples: list[tuple[float, str, str]] = []  # (time, innermost frame of ours, innermost frame)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="stall-profiler", daemon=True)
        self.began = 0.0

    def start(self) -> None:
        self.began = time.perf_counter()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            frame = sys._current_frames().get(self.thread_id)
            if frame is not None:
                self.samples.append((time.perf_counter() - self.began, _where(frame, True), _where(frame, False)))
            time.sleep(self.interval)

    def report(
        self, gaps: list[float], ends: list[float], began: float, threshold_ms: float = 16, top: int = 12
    ) -> str:
        """The frames sampled during the gaps longer than ``threshold_ms`` (``ends``: when each gap ended, seconds
        after ``began``, the heartbeat's start in ``time.perf_counter`` terms)."""
        offset = began - self.began
        windows = [(end + offset - gap, end + offset) for gap, end in zip(gaps, ends) if gap * 1000 > threshold_ms]
        ours: Counter[str] = Counter()
        anywhere: Counter[str] = Counter()
        for t, mine, inner in self.samples:
            if any(low <= t <= high for low, high in windows):
                ours[mine] += 1
                anywhere[inner] += 1
        lines = [f"{len(windows)} gaps over {threshold_ms:g} ms; samples in them by our innermost frame:"]
        lines += [f"  {n:5d}  {where}" for where, n in ours.most_common(top)]
        lines += ["by the innermost frame:"] + [f"  {n:5d}  {where}" for where, n in anywhere.most_common(top)]
        return "\n".join(lines)
