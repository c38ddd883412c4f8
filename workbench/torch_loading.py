"""Importing torch in a worker thread without freezing the window.

``import torch`` from a worker still stalls the GUI thread, because the import holds the GIL in long C calls:
measured here, 4-5 s of import with pauses of 100-360 ms in the event loop. Two causes, two remedies:

* the garbage collector's full passes over the hundreds of thousands of objects the import creates: collection
  is switched off during the import and the imported objects are then frozen (moved out of the collector's sight;
  modules, classes and functions live for the whole session anyway);
* ``dlopen`` of libtorch (hundreds of MB, run under the GIL by the import machinery): the libraries are opened
  first through libc's ``dlopen`` called via ctypes, which releases the GIL during a foreign call, so the import
  later finds them loaded. Linux only; elsewhere the import simply runs.

With both the worst event-loop pause during the import is about 40 ms (benchmarks/bench_training_window.py).
"""

from __future__ import annotations

import ctypes
import gc
import importlib.util
import sys
import threading
from pathlib import Path

_LOCK = threading.Lock()
# dependency order: each library's own dependencies come first
_LIBRARIES = ("libtorch_global_deps.so", "libc10.so", "libtorch_cpu.so", "libc10_cuda.so", "libtorch_cuda.so",
              "libtorch.so", "libtorch_python.so")
_RTLD_NOW, _RTLD_GLOBAL = 2, 0x100


def _preload_libraries() -> None:
    if not sys.platform.startswith("linux"):
        return
    spec = importlib.util.find_spec("torch")
    if spec is None or spec.origin is None:
        return
    folder = Path(spec.origin).parent / "lib"
    try:
        libc = ctypes.CDLL(None)
        dlopen = libc.dlopen
    except (OSError, AttributeError):
        return
    dlopen.restype, dlopen.argtypes = ctypes.c_void_p, [ctypes.c_char_p, ctypes.c_int]
    for name in _LIBRARIES:
        path = folder / name
        if path.is_file():  # as torch does: only the global-deps library is opened RTLD_GLOBAL
            dlopen(str(path).encode(), _RTLD_NOW | (_RTLD_GLOBAL if name == "libtorch_global_deps.so" else 0))


def import_training():
    """``core.training`` (and torch), imported so that other threads keep running; returns the module."""
    with _LOCK:
        if "core.training" in sys.modules:
            return sys.modules["core.training"]
        _preload_libraries()
        enabled = gc.isenabled()
        gc.disable()
        try:
            import core.training as training
        finally:
            gc.freeze()
            if enabled:
                gc.enable()
        return training
