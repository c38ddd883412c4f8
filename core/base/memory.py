"""Keeping freed memory in the process (glibc): on by default for training, feature passes and adjustments.

glibc's malloc serves blocks above a threshold (at most 32 MB by default) with fresh ``mmap`` pages and gives
them back on ``free``; a network's activations are such blocks, allocated and freed on every batch, so each batch
page-faults its activations in again: on 2 CPU cores half the time of an EfficientNet-Lite0 forward pass at 128 px
went to the kernel (46.7 images/s; 101 with the thresholds raised, ``benchmarks/bench_heads.py``). Raising the mmap
and trim thresholds to 1 GiB keeps those pages for reuse. The cost is a resident size that stays at its peak
until the process ends. A no-op off glibc (macOS, Windows, musl) or when ``TAILOR_KEEP_FREED_MEMORY=0``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
THRESHOLD = 1 << 30
_done = False


def keep_freed_memory() -> bool:
    """Raise glibc's trim and mmap thresholds (once per process); True when they were raised."""
    global _done
    if _done or os.environ.get("TAILOR_KEEP_FREED_MEMORY", "1") == "0":
        return _done
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    _done = bool(mallopt(M_TRIM_THRESHOLD, THRESHOLD)) and bool(mallopt(M_MMAP_THRESHOLD, THRESHOLD))
    return _done
