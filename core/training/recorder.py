"""One run's life in the catalog, shared by training, oversampling and every job that records a run.

A :class:`RunRecorder` owns what every run needs between "the job starts" and "the job ended": the open catalog it
writes to, the run row (created, or resumed), the run folder's lock (held until the run ends, so a later reader can
tell a live run from a killed one), the ``events.jsonl`` log, the choice of the best epoch, waiting for another
program's write lock, and the end: finished, failed with one line of advice, or cancelled with where it stopped.

A job is written as a generator of events that calls :meth:`RunRecorder.create` (or :meth:`RunRecorder.resume`)
once it knows its run, then :meth:`record_epoch` per epoch and :meth:`finish`; :meth:`RunRecorder.run` drives it and
turns every way out (return, exception, ``close()``, Ctrl+C) into the right record. torch-free.
"""

from __future__ import annotations

import errno
import json
import threading
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np

from core.base.errors import StorageError, TailorError
from core.base.files import open_append
from core.base.memory import keep_freed_memory
from core.catalog import run_lock
from core.catalog import runs as store
from core.catalog.records import RunStatus
from core.catalog.snapshot import Snapshot
from core.catalog.store import Catalog
from core.config import OversampleConfig, TrainConfig
from core.training.events import BatchProgress, Event, FeatureProgress, Note, RunCancelled, RunFailed

LOCK_WAIT_S = 600  # how long a run waits for another program's write lock on the catalog at an epoch's end
_DISK_ERRNOS = (errno.ENOSPC, errno.EROFS, errno.EDQUOT)


@dataclass
class Progress:
    """Where a run is: the epoch running, epochs recorded in the catalog, epochs saved in a checkpoint."""

    epoch: int = 0
    recorded: int = 0
    saved: int = 0

    def cancelled_message(self) -> str:
        """During an epoch, or after the last one it recorded (stopped while saving it)."""
        if self.recorded > self.epoch:
            return f"cancelled after epoch {self.recorded}"
        return f"cancelled during epoch {self.epoch + 1}"


@dataclass
class BestEpoch:
    """Model selection: the epoch with the highest ``key`` metric on the ``selected_on`` split."""

    selected_on: str  # "val" when the run has a validation split, else "test"
    key: str  # "acsa" (single-label) or "macro_ap" (multi-label)
    epoch: int | None = None
    value: float | None = None

    @classmethod
    def for_snapshot(cls, snapshot: Snapshot) -> BestEpoch:
        return cls("val" if snapshot.indices("val") else "test", "macro_ap" if snapshot.multi_label else "acsa")

    def offer(self, epoch: int, metrics: dict) -> None:
        value = metrics.get(self.key)
        if value is not None and (self.value is None or value > self.value):
            self.epoch, self.value = epoch, value

    def as_dict(self) -> dict | None:
        """What the run's metrics and its checkpoint record (None before an evaluated epoch)."""
        if self.epoch is None:
            return None
        return {"epoch": self.epoch, "value": self.value, "selected_on": self.selected_on, "key": self.key}

    def restore(self, saved: dict | None) -> None:
        if saved:
            self.epoch, self.value = int(saved["epoch"]), float(saved["value"])
            self.selected_on, self.key = saved["selected_on"], saved["key"]


@dataclass
class RunRecorder:
    catalog: Catalog
    config: TrainConfig
    cancel: threading.Event | None = None
    run_id: int = 0
    directory: Path | None = None
    progress: Progress = field(default_factory=Progress)
    _log: IO[str] | None = None

    # -- the run row and its folder ---------------------------------------------------------------------------

    def create(
        self,
        snapshot: Snapshot,
        runs_dir: str | None,
        device: str,
        *,
        base_run_id: int | None = None,
        oversampler: OversampleConfig | None = None,
    ) -> Path:
        """Record a new run (status running) of ``self.config`` on ``snapshot``; hold its folder's lock."""
        base = Path(runs_dir) if runs_dir else store.default_runs_dir(self.catalog.location)
        self.run_id, self.directory = store.create_run(
            self.catalog, self.config, snapshot, base, device, base_run_id=base_run_id, oversampler=oversampler
        )
        self._open_log()
        return self.directory

    def resume(self, run_id: int) -> tuple[store.RunInfo, Path]:
        """Take over an interrupted, cancelled or failed run: refused while another live process trains it."""
        run = store.get_run(self.catalog, run_id)
        if run.status == RunStatus.FINISHED:
            raise TailorError(f"run {run_id} has finished; nothing to resume")
        directory = store.check_writable_folder(self.catalog.location, run)
        if not (directory / "checkpoint.pt").is_file():
            raise TailorError(f"run {run_id} has no checkpoint in {directory} to resume from")
        run_lock.hold(directory)  # refuses a run another live process is training
        self.run_id, self.directory, self.config = run_id, directory, run.config  # from here a failure is the run's
        return run, directory

    def mark_running(self) -> None:
        store.set_status(self.catalog, self.run_id, RunStatus.RUNNING, None)
        self._open_log()

    def _open_log(self) -> None:
        assert self.directory is not None
        self._log = open_append(self.directory / "events.jsonl")  # never through a planted link

    # -- during the run ---------------------------------------------------------------------------------------

    def cancelled(self) -> bool:
        return self.cancel is not None and self.cancel.is_set()

    def stop(self, message: str, epoch: int) -> RunCancelled:
        """The job noticed Cancel between two steps: recorded as cancelled with ``message``."""
        store.set_status(self.catalog, self.run_id, RunStatus.CANCELLED, message)
        return RunCancelled(self.run_id, epoch)

    def record_epoch(
        self, epoch: int, train_loss: float, test_loss: float, metrics: dict, seconds: float
    ) -> Generator[Event, None, None]:
        yield from self.persist(
            lambda: store.record_epoch(self.catalog, self.run_id, epoch, train_loss, test_loss, metrics, seconds),
            f"epoch {epoch + 1}",
        )
        self.progress.recorded = epoch + 1

    def finish(
        self,
        snapshot: Snapshot,
        test_idx: list[int],
        last: tuple[dict, np.ndarray] | None,
        best: BestEpoch,
        seconds: float,
        rate: float,
    ) -> Generator[Event, None, dict]:
        """Store the final metrics and test scores; returns the run's summary."""
        finished: dict = {}
        yield from self.persist(
            lambda: finished.update(
                store.finish_run(
                    self.catalog,
                    self.run_id,
                    snapshot,
                    test_idx,
                    last,
                    best.as_dict(),
                    seconds,
                    rate,
                    self.config.epochs,
                )
            ),
            "the run's results",
        )
        return finished

    def persist(self, write: Callable[[], object], what: str) -> Generator[Event, None, None]:
        """``write()`` to the catalog; while another program holds the catalog's write lock, wait and try again (up
        to :data:`LOCK_WAIT_S`), saying so, instead of failing the run. Cancel stops the waiting."""
        started, tries = time.monotonic(), 0
        while True:
            try:
                write()
            except StorageError as exc:
                if exc.reason != "locked" or time.monotonic() - started > LOCK_WAIT_S or self.cancelled():
                    raise
                if tries % 60 == 0:
                    yield Note(self.run_id, f"another program holds the catalog's write lock; waiting to record {what}")
                tries += 1
                time.sleep(1.0)
                continue
            if tries:
                yield Note(
                    self.run_id, f"{what} recorded after waiting {time.monotonic() - started:.0f} s for the catalog"
                )
            return

    # -- the whole run ----------------------------------------------------------------------------------------

    def run(self, job: Callable[[], Generator[Event, None, Any]]) -> Generator[Event, None, int]:
        """Drive ``job()``: pass its events on (logging each, but progress, once the run exists) and record how it
        ended. Returns the run id (0 when it failed before the run was recorded)."""
        keep_freed_memory()  # about twice the CPU throughput (see core.base.memory)
        try:
            yield from self._logged(job())
            return self.run_id
        except (GeneratorExit, KeyboardInterrupt):  # closed (Cancel), or Ctrl+C / SIGTERM inside a step
            self._record_cancelled()
            raise
        except Exception as exc:
            yield self._record_failed(failure_message(exc, self.config, self.run_id, self.progress))
            return self.run_id
        finally:
            self.release()

    def release(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None
        if self.run_id and self.directory is not None:
            run_lock.release(self.directory)

    def _logged(self, events: Iterator[Event]) -> Generator[Event, None, None]:
        for event in events:
            yield self._log_event(event)

    def _log_event(self, event: Event) -> Event:
        if self._log is not None and not isinstance(event, BatchProgress | FeatureProgress):
            self._log.write(json.dumps(event.as_dict()) + "\n")
            self._log.flush()
        return event

    def _record_cancelled(self) -> None:
        """Recorded as cancelled with the epoch it reached (best effort: a catalog that cannot be written leaves it
        to be marked interrupted)."""
        if self.run_id:
            try:
                store.set_status(self.catalog, self.run_id, RunStatus.CANCELLED, self.progress.cancelled_message())
            except StorageError:
                pass

    def _record_failed(self, message: str) -> RunFailed:
        """When the catalog itself cannot be written (full, read-only, locked) the message says so, and the run is
        marked interrupted the next time a catalog is recovered."""
        if self.run_id:
            try:
                store.set_status(self.catalog, self.run_id, RunStatus.FAILED, message)
            except StorageError:
                message += "; the catalog could not record this, so the run shows as interrupted once this ends"
        return RunFailed(self.run_id, message)


def failure_message(exc: BaseException, config: TrainConfig, run_id: int = 0, progress: Progress | None = None) -> str:
    """One line for a failed run: the user's error as is, a full or read-only disk with what was kept and how to
    go on, out-of-memory with advice, anything else by type."""
    kept = _kept(run_id, progress)
    if isinstance(exc, StorageError):
        return exc.message + kept
    if isinstance(exc, TailorError) and not isinstance(exc, OSError):  # DiskFull is both: as a full disk below
        return exc.message
    if isinstance(exc, OSError) and exc.errno in _DISK_ERRNOS:
        what = "read-only" if exc.errno == errno.EROFS else "full"
        return f"the disk is {what} writing {exc.filename or 'the run folder'}; free space" + (
            kept or ", then resume the run (Runs tab ▸ Resume, or tailor train --resume)"
        )
    if type(exc).__name__ == "OutOfMemoryError" or "out of memory" in str(exc).lower():  # torch.cuda's, or CUDA's
        return (
            f"out of GPU memory with batch size {config.batch_size} and image size {config.image_size}; "
            f"try batch size {max(1, config.batch_size // 2)} or a smaller image size"
        )
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"


def _kept(run_id: int, progress: Progress | None) -> str:
    if not run_id or progress is None:
        return ""
    if progress.saved:
        return (
            f"; run {run_id} is kept up to epoch {progress.recorded} and resumes after epoch {progress.saved} "
            f"(Runs tab ▸ Resume, or tailor train CATALOG --resume {run_id})"
        )
    if progress.recorded:
        return f"; run {run_id} is kept up to epoch {progress.recorded} but has no checkpoint to resume from"
    return f"; run {run_id} is recorded without a finished epoch"
