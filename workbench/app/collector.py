"""Python's cyclic garbage collector in the window process: full passes kept short.

A full pass of the collector walks every container object the process holds and keeps the GIL while it does,
so the event loop waits for it whichever thread triggered it. Libraries imported after the window opened (SciPy
and scikit-learn for a comparison's bootstrap, say) leave several hundred thousand long-lived objects, and a full
pass then holds the GUI thread for 100-350 ms. After any full pass slower than ``SLOW_FULL_PASS_S`` the survivors
are frozen (``gc.freeze``): they were just found reachable, so nothing collectable is frozen with them, and later
passes walk only what came after. The cost: an object frozen alive that later dies in a reference cycle is not
reclaimed (objects freed by reference counting, nearly all of them, still are).
"""

from __future__ import annotations

import gc
import time

SLOW_FULL_PASS_S = 0.02
_started = [0.0]


def _after_pass(phase: str, info: dict) -> None:
    if phase == "start":
        _started[0] = time.perf_counter()
    elif info["generation"] == 2 and time.perf_counter() - _started[0] > SLOW_FULL_PASS_S:
        gc.freeze()


def keep_full_passes_short() -> None:
    """Freeze the survivors of every slow full pass from now on (once per process)."""
    if _after_pass not in gc.callbacks:
        gc.callbacks.append(_after_pass)
