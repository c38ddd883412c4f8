"""Running ``core`` work off the GUI thread: superqt workers on Tailor's own thread pool, and a serial writer.

* :func:`run_function` / :func:`run_generator` start a superqt worker on :data:`POOL` and connect callbacks (which
  run on the GUI thread). A cancelled generator is closed *in its worker thread*, so its ``finally`` blocks and
  transaction rollbacks never run on the GUI thread.
* :class:`Latest` drops stale results: each request gets a generation number and only the newest one's result is
  delivered (napari's histogram does the same).
* :class:`SerialWriter` runs catalog writes one after another on one thread, in the order they were asked for,
  which is what an undo stack needs.
"""

from __future__ import annotations

import functools
import queue
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from PySide6.QtCore import QObject, QThreadPool, Signal
from shiboken6 import isValid

if TYPE_CHECKING:
    from superqt.utils import FunctionWorker, GeneratorWorker

    from core.catalog.store import Catalog


def _pool() -> QThreadPool:
    pool = QThreadPool()
    pool.setMaxThreadCount(4)  # queries, detail images, imports; thumbnails have their own threads
    return pool


POOL = _pool()
TRAINING_POOL = _pool()  # training runs on threads of their own (lowered priority: see training_queue)
TRAINING_POOL.setMaxThreadCount(1)
W = TypeVar("W", "FunctionWorker[Any]", "GeneratorWorker[Any, Any, Any]")
_LIVE: set = set()  # workers are kept alive here until they finish


@functools.cache
def _closing_generator_worker() -> type[GeneratorWorker[Any, Any, Any]]:
    """A GeneratorWorker that closes its generator in the worker thread when it is aborted.

    superqt is imported on the first worker, not with this module: its import (all of qtpy's Qt wrappers) is a
    quarter of a second the window's first paint does not wait for.
    """
    from superqt.utils import GeneratorWorker

    class ClosingGeneratorWorker(GeneratorWorker):
        def work(self) -> Any:
            try:
                return super().work()
            finally:
                if self.abort_requested:
                    self._gen.close()

    return ClosingGeneratorWorker


def busy() -> bool:
    """Whether a worker is running or its results are still on their way to the GUI thread (a worker leaves
    ``_LIVE`` in its ``finished`` slot, which Qt delivers after its ``returned``)."""
    return bool(_LIVE)


def wait_for_workers(timeout_s: float = 5.0) -> None:
    """Before the process ends (the window closed: edits flushed, a training run cancelled and recorded, an import
    cancelled): give the pools' threads still running ``timeout_s`` to finish, polling with ``time.sleep`` (which
    gives the GIL away, unlike ``QThreadPool.waitForDone``). A pool thread still running when the interpreter is
    torn down dies with a traceback or aborts the process."""
    import time

    deadline = time.monotonic() + timeout_s
    while (POOL.activeThreadCount() or TRAINING_POOL.activeThreadCount()) and time.monotonic() < deadline:
        time.sleep(0.02)


def _while_alive(owner: QObject | None, callback: Callable[..., Any]) -> Callable[..., Any]:
    """``callback``, skipped once Qt has deleted ``owner`` (a closed window's model: its results go nowhere)."""
    if owner is None:
        return callback

    def call(*args: Any) -> None:
        if isValid(owner):
            callback(*args)

    return call


def _start(
    worker: W,
    on_return: Callable[..., Any] | None,
    on_error: Callable[..., Any] | None,
    on_finish: Callable[[], Any] | None,
    pool: QThreadPool | None = None,
    owner: QObject | None = None,
) -> W:
    if on_return is not None:
        worker.returned.connect(_while_alive(owner, on_return))
    # always connected: an unconnected error would be re-raised on the GUI thread
    worker.errored.connect(_while_alive(owner, on_error) if on_error is not None else (lambda exc: None))
    _LIVE.add(worker)
    on_finish = _while_alive(owner, on_finish) if on_finish is not None else None

    def finished(*_: object) -> None:
        _LIVE.discard(worker)
        if on_finish is not None:
            on_finish()

    worker.finished.connect(finished)
    (pool or POOL).start(worker)
    return worker


def run_function(
    func: Callable[..., Any],
    *args: Any,
    on_return: Callable[..., Any] | None = None,
    on_error: Callable[..., Any] | None = None,
    on_finish: Callable[[], Any] | None = None,
    pool: QThreadPool | None = None,
    owner: QObject | None = None,
    **kwargs: Any,
) -> FunctionWorker[Any]:
    """``func(*args, **kwargs)`` on a worker; the callbacks run on the GUI thread (never after Qt deleted
    ``owner``)."""
    from superqt.utils import create_worker

    worker = create_worker(func, *args, _start_thread=False, **kwargs)
    return _start(worker, on_return, on_error, on_finish, pool, owner)


def run_generator(
    func: Callable[..., Any],
    *args: Any,
    on_yield: Callable[..., Any] | None = None,
    on_return: Callable[..., Any] | None = None,
    on_error: Callable[..., Any] | None = None,
    on_abort: Callable[[], Any] | None = None,
    on_finish: Callable[[], Any] | None = None,
    pool: QThreadPool | None = None,
    owner: QObject | None = None,
    **kwargs: Any,
) -> GeneratorWorker[Any, Any, Any]:
    """The generator ``func(*args, **kwargs)`` on a worker; the callbacks run on the GUI thread (never after Qt
    deleted ``owner``)."""
    from superqt.utils import create_worker

    worker = create_worker(func, *args, _start_thread=False, _worker_class=_closing_generator_worker(), **kwargs)
    if on_yield is not None:
        worker.yielded.connect(_while_alive(owner, on_yield))
    if on_abort is not None:
        worker.aborted.connect(_while_alive(owner, on_abort))
    return _start(worker, on_return, on_error, on_finish, pool, owner)


class Latest:
    """Deliver only the newest request's result, and never queue stale work: ``latest.run(func, *args, ...)``.

    One request runs at a time. Requests made meanwhile replace each other as the single pending one, which
    starts when the running one ends (whose result is then dropped), so a burst of thousands of edits costs two
    queries, not thousands waiting in the thread pool.
    """

    def __init__(self, owner: QObject | None = None) -> None:
        self.generation = 0
        self._owner = owner  # results for an owner Qt has deleted (a closed window's view) are dropped
        self._running = False
        self._pending: tuple | None = None

    def _wanted(self, mine: int) -> bool:
        return mine == self.generation and (self._owner is None or isValid(self._owner))

    def run(
        self,
        func: Callable[..., Any],
        *args: Any,
        on_return: Callable[[Any], Any],
        on_error: Callable[[BaseException], Any] | None = None,
    ) -> None:
        self.generation += 1
        request = (self.generation, func, args, on_return, on_error)
        if self._running:
            self._pending = request
        else:
            self._start(request)

    def _start(self, request: tuple) -> None:
        mine, func, args, on_return, on_error = request
        self._running = True

        def deliver(result: Any) -> None:
            if self._wanted(mine):
                on_return(result)

        def fail(exc: BaseException) -> None:
            if self._wanted(mine) and on_error is not None:
                on_error(exc)

        def finished() -> None:
            self._running = False
            pending, self._pending = self._pending, None
            if pending is not None:
                self._start(pending)

        run_function(func, *args, on_return=deliver, on_error=fail, on_finish=finished)


class SerialWriter(QObject):
    """One thread that runs ``job(catalog)`` callables in order with its own :class:`Catalog`.

    ``done`` carries ``(tag, result)`` and ``failed`` ``(tag, message)`` back to the GUI thread.
    """

    done = Signal(object, object)
    failed = Signal(object, str)

    def __init__(self, catalog_location: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._location = catalog_location
        self._jobs: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name="tailor-writer", daemon=True)
        self._thread.start()

    def submit(self, job: Callable[[Catalog], object], tag: object = None) -> None:
        self._jobs.put((job, tag))

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every submitted job has run (tests and closing the window only)."""
        done = threading.Event()
        self._jobs.put((lambda _catalog: done.set(), "__flush__"))
        return done.wait(timeout)

    def close(self) -> None:
        self._jobs.put(None)
        self._thread.join(timeout=30)

    def _loop(self) -> None:
        catalog = None
        try:
            while True:
                item = self._jobs.get()
                if item is None:
                    return
                job, tag = item
                try:
                    if catalog is None:
                        from core.catalog.store import Catalog

                        catalog = Catalog(self._location)
                    result = job(catalog)
                except Exception as exc:  # reported on the window, never raised into Qt
                    if tag != "__flush__":
                        self.failed.emit(tag, str(exc) or type(exc).__name__)
                else:
                    if tag != "__flush__":
                        self.done.emit(tag, result)
        finally:
            if catalog is not None:
                catalog.close()
