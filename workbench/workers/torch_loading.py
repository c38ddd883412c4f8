"""Importing torch (and the analysis libraries) in a worker thread without freezing the window.

``import torch`` from a worker still stalls the GUI thread, because the import holds the GIL in long C calls:
measured here, 4-5 s of import with pauses of 100-360 ms in the event loop. Two causes, two remedies:

* the garbage collector's full passes over the hundreds of thousands of objects the import creates: collection
  is switched off during the import and the imported objects are then frozen (moved out of the collector's sight;
  modules, classes and functions live for the whole session anyway);
* ``dlopen`` of libtorch and of every extension module the import loads (hundreds of MB, run under the GIL by
  the import machinery; triton's alone takes 30 ms): the libraries are opened first through libc's ``dlopen``
  called via ctypes, which releases the GIL during a foreign call, so the import later finds them loaded. The
  extension modules are pre-opened by a finder that is on ``sys.meta_path`` during this import only. Linux only;
  elsewhere the import simply runs.

What is left are extension modules' own initialisation (Cython module bodies: up to about 25 ms each), which
cannot give the GIL away. The worst event-loop pause while training starts is about 30-45 ms
(benchmarks/bench_training_window.py).
"""

from __future__ import annotations

import ctypes
import gc
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import threading
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import ModuleType
from typing import Any

_LOCK = threading.Lock()
_LOADED = threading.Event()
# dependency order: each library's own dependencies come first
_LIBRARIES = (
    "libtorch_global_deps.so",
    "libc10.so",
    "libtorch_cpu.so",
    "libc10_cuda.so",
    "libtorch_cuda.so",
    "libtorch.so",
    "libtorch_python.so",
)
_RTLD_NOW, _RTLD_GLOBAL = 2, 0x100


def _preload_libraries() -> None:
    if not sys.platform.startswith("linux"):
        return
    spec = importlib.util.find_spec("torch")
    if spec is None or spec.origin is None:
        return
    folder = Path(spec.origin).parent / "lib"
    dlopen = _dlopen()
    if dlopen is None:
        return
    for name in _LIBRARIES:
        path = folder / name
        if path.is_file():  # as torch does: only the global-deps library is opened RTLD_GLOBAL
            dlopen(str(path).encode(), _RTLD_NOW | (_RTLD_GLOBAL if name == "libtorch_global_deps.so" else 0))


def _dlopen() -> Any:  # a ctypes foreign function
    if not sys.platform.startswith("linux"):
        return None
    try:
        dlopen = ctypes.CDLL(None).dlopen
    except (OSError, AttributeError):
        return None
    dlopen.restype, dlopen.argtypes = ctypes.c_void_p, [ctypes.c_char_p, ctypes.c_int]
    return dlopen


class _PreopeningLoader(importlib.machinery.ExtensionFileLoader):
    """An extension-module loader that first opens the shared object with the GIL released."""

    def create_module(self, spec: ModuleSpec) -> ModuleType:
        dlopen = _dlopen()
        if dlopen is not None:
            dlopen(self.path.encode(), sys.getdlopenflags())  # the import's own dlopen then finds it loaded
        return super().create_module(spec)


class _PreopeningFinder(importlib.abc.MetaPathFinder):
    """Finds modules as the path finder does, handing extension modules to :class:`_PreopeningLoader`."""

    def find_spec(
        self, name: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        spec = importlib.machinery.PathFinder.find_spec(name, path, target)
        if spec is not None and type(spec.loader) is importlib.machinery.ExtensionFileLoader:
            spec.loader = _PreopeningLoader(spec.loader.name, spec.loader.path)
        return spec


def loaded() -> bool:
    """Whether :func:`import_training` has completed (``sys.modules`` holds a module from the start of its
    import, so it cannot tell)."""
    return _LOADED.is_set()


def _import_quietly(name: str) -> ModuleType:
    """Import module ``name`` with the collector paused and extension modules pre-opened; freeze what it made."""
    enabled = gc.isenabled()
    gc.disable()
    finder = _PreopeningFinder()
    sys.meta_path.insert(0, finder)
    try:
        return importlib.import_module(name)
    finally:
        sys.meta_path.remove(finder)
        gc.freeze()
        if enabled:
            gc.enable()


def import_training() -> ModuleType:
    """``core.training.loop`` (and torch), imported so that other threads keep running; returns the module."""
    with _LOCK:
        if _LOADED.is_set():
            return sys.modules["core.training.loop"]
        _preload_libraries()
        training = _import_quietly("core.training.loop")
        _LOADED.set()
        return training


# SciPy and scikit-learn, which comparisons, operating points, reviews and label issues compute with
ANALYSIS_MODULES = ("core.analysis.metrics", "core.analysis.bootstrap", "scipy.sparse")
_ANALYSIS_LOADED = threading.Event()


def import_analysis() -> None:
    """Import the analysis libraries the same way (about 1 s and 200,000 objects, which would otherwise stall the
    event loop by up to 350 ms in the collector's full passes); call it on a worker before computing."""
    with _LOCK:  # torch's too: two quiet imports at once would turn the collector back on under each other
        if _ANALYSIS_LOADED.is_set():
            return
        for name in ANALYSIS_MODULES:
            _import_quietly(name)
        _ANALYSIS_LOADED.set()
