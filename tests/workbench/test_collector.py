"""The window keeps the garbage collector's full passes short: libraries loaded by workers are frozen."""

from __future__ import annotations

import gc
import subprocess
import sys

from workbench.app import collector


def test_a_slow_full_pass_freezes_its_survivors_and_a_young_pass_does_not(monkeypatch):
    monkeypatch.setattr(collector, "SLOW_FULL_PASS_S", 0.0)  # every full pass counts as slow
    installed = collector._after_pass in gc.callbacks
    frozen = gc.get_freeze_count()
    try:
        collector.keep_full_passes_short()
        collector.keep_full_passes_short()
        assert gc.callbacks.count(collector._after_pass) == 1  # once per process
        survivors = [[index] for index in range(1000)]
        gc.collect(0)
        assert gc.get_freeze_count() == frozen
        gc.collect()
        assert gc.get_freeze_count() >= frozen + len(survivors)
    finally:
        if not installed:
            gc.callbacks.remove(collector._after_pass)


def test_the_analysis_libraries_load_with_the_collector_paused_then_frozen():
    code = (
        "import gc, sys\n"
        "from workbench.workers.torch_loading import import_analysis\n"
        "before = gc.get_freeze_count()\n"
        "import_analysis()\n"
        "import_analysis()\n"
        "assert 'sklearn.metrics' in sys.modules and 'scipy.sparse' in sys.modules, 'not imported'\n"
        "assert gc.isenabled(), 'the collector was left off'\n"
        "assert gc.get_freeze_count() > before + 50_000, (before, gc.get_freeze_count())\n"
    )
    done = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
