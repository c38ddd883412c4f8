"""The training queue: runs wait in line and train one at a time through ``core.training.loop.train`` in a worker.

Runs are :class:`Job` objects (plain data for the views). The queue starts the next job when the running one
ends, lets the user reorder or remove waiting jobs, and cancels the running one cooperatively (the core loop checks
the cancel event before every batch, so it stops within one batch). torch is never imported at start-up: it is
imported on the training thread when the Train tab is first shown (:meth:`TrainingQueue.prepare`; importing takes
seconds and holds the GIL in C code for up to tens of ms at a time, better done while the user fills in the form
than while a run starts), or by the first job.
"""

from __future__ import annotations

import functools
import os
import sys
import threading
from collections.abc import Generator
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from PySide6.QtCore import QObject, Signal
from shiboken6 import isValid

from core.catalog.runs import RunInfo
from core.config import OVERSAMPLERS, OversampleConfig, TrainConfig
from core.experiments.seeds import variant_configs
from core.training.events import (
    BatchProgress,
    Decoding,
    Event,
    FeatureProgress,
    RunCancelled,
    RunFailed,
    RunFinished,
    RunStarted,
)
from workbench.workers import torch_loading
from workbench.workers.tasks import TRAINING_POOL, run_function, run_generator
from workbench.workers.torch_loading import import_training


class JobStatus(StrEnum):
    """A queued job's state: waiting, torch loading for it, training, then how it ended."""

    QUEUED = "queued"
    STARTING = "starting"
    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"
    CANCELLED = "cancelled"


ACTIVE = (JobStatus.STARTING, JobStatus.RUNNING)


@dataclass
class Job:
    number: int
    config: TrainConfig
    status: JobStatus = JobStatus.QUEUED
    run_id: int | None = None
    resume: int | None = None  # continue this run from its checkpoint (its stored configuration applies)
    oversampler: OversampleConfig | None = None  # the convex-GAN's Phase 2 settings (None: its defaults)
    seeded: bool = False  # one of a seed group: its title names the seed
    adjust: tuple[int, float] | None = None  # keep a post-hoc logit adjustment (run, tau) as a derived run
    message: str = ""
    progress: BatchProgress | Decoding | FeatureProgress | None = field(default=None, repr=False)

    @property
    def title(self) -> str:
        c = self.config
        if self.adjust is not None:
            return f"run {self.adjust[0]} + LA τ={self.adjust[1]:g} · {c.attribute}"
        variant = f"{c.loss} + {c.oversample}" if c.oversample else c.loss
        variant += " head" if c.head_only else ""
        resumed = f"resume run {self.resume}: " if self.resume is not None else ""
        seed = f" · seed {c.seed}" if self.seeded else ""
        return f"{resumed}{variant} · {c.backbone} · {c.attribute} · {c.epochs} epochs{seed}"


BACKGROUND_NICENESS = int(os.environ.get("TAILOR_TRAINING_NICENESS", "10"))


def lower_priority(niceness: int = BACKGROUND_NICENESS) -> bool:
    """Lower this thread's scheduling priority (Linux: per thread; threads it starts, such as the image decoders
    and torch's OpenMP workers, inherit it). Training then takes the CPU the window leaves, and the window stays
    responsive on a machine whose every core trains. Not undoable without privileges, hence a dedicated pool."""
    if not hasattr(os, "setpriority") or not sys.platform.startswith("linux"):
        return False
    try:
        current = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        if current < niceness:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), niceness)
        return True
    except OSError:
        return False


def training_threads(cores: int | None = None) -> int:
    """torch's intra-op threads for training in the window (``TAILOR_TRAINING_THREADS`` overrides it).

    All cores, as the CLI uses, at nice 10: measured with benchmarks/bench_training_scroll.py while the grid is
    scrolled (docs/benchmarks.md), this keeps 72-80% of the CLI's images/s; one thread kept 64%, and nice 0 kept 78% but
    stalled the window seven times as often (453 gaps over 16 ms against 64)."""
    override = os.environ.get("TAILOR_TRAINING_THREADS", "")
    if override.isdigit() and int(override) > 0:
        return int(override)
    return max(1, cores if cores is not None else (os.cpu_count() or 1))


def _prepare() -> None:
    lower_priority()
    import_training()


def _train_job(
    location: str,
    config: TrainConfig,
    cancel: threading.Event,
    resume: int | None = None,
    oversampler: OversampleConfig | None = None,
    adjust: tuple[int, float] | None = None,
) -> Generator[Event, None, Any]:
    lower_priority()
    training = import_training()  # torch: first imported here, in the worker thread, without freezing the window
    import torch

    torch.set_num_threads(training_threads())
    if resume is not None:
        return (yield from training.train(location, config, cancel=cancel, resume=resume))
    if adjust is not None:
        from core.heads.adjust import adjust as adjusted

        return (yield from adjusted(location, adjust[0], tau=adjust[1], cancel=cancel))
    if config.head_only:
        from core.oversampling.job import train_and_oversample

        return (yield from train_and_oversample(location, config, oversampler=oversampler, cancel=cancel))
    if config.oversample:  # the base run, then Phase 2 of the GAN oversampler on it (a second run)
        from core.oversampling.job import train_and_oversample

        return (yield from train_and_oversample(location, config, oversampler=oversampler, cancel=cancel))
    return (yield from training.train(location, config, cancel=cancel))


class TrainingQueue(QObject):
    """``changed`` when jobs or their states change; ``event(Event)`` for every core event of the running job;
    ``jobEnded(Job)`` when a job finished, failed or was cancelled; ``idle`` when nothing runs or waits."""

    changed = Signal()
    runEvent = Signal(object)  # a training event of the running job (core.training.events); not QObject.event
    jobEnded = Signal(object)
    idle = Signal()
    prepared = Signal(str)  # "" when the training engine is imported, else why it could not be

    def __init__(self, catalog_location: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.location = catalog_location
        self.jobs: list[Job] = []
        self._numbers = 0
        self._running: Job | None = None
        self._cancel: threading.Event | None = None
        self._preparing = False

    def prepare(self) -> bool:
        """Import the training engine (torch) on the training thread ahead of the first run; ``prepared`` tells
        when it is done. False when it is already imported or being imported."""
        if self._preparing or torch_loading.loaded():
            return False
        self._preparing = True
        run_function(
            _prepare,
            on_return=lambda _r: self._tell_prepared(""),
            on_error=lambda exc: self._tell_prepared(f"{type(exc).__name__}: {exc}"),
            pool=TRAINING_POOL,
        )
        return True

    def _tell_prepared(self, problem: str) -> None:
        """``prepared``, unless this queue went with its catalog while torch was importing (the window was closed
        or another catalog opened): then there is no one to tell."""
        if isValid(self):
            self.prepared.emit(problem)

    @staticmethod
    def engine_ready() -> bool:
        return torch_loading.loaded()

    # -- what the views read ----------------------------------------------------------------------------------

    @property
    def running(self) -> Job | None:
        return self._running

    def waiting(self) -> list[Job]:
        return [job for job in self.jobs if job.status == JobStatus.QUEUED]

    def busy(self) -> bool:
        return self._running is not None or bool(self.waiting())

    # -- what the user does -----------------------------------------------------------------------------------

    def enqueue(
        self,
        base: TrainConfig,
        losses: list[str],
        oversampler: OversampleConfig | None = None,
        seeds: list[int] | None = None,
    ) -> list[Job]:
        """One job per seed and variant, all on the same split (``seeds``: a seed group on the first seed's split;
        ``oversampler``: the convex-GAN's Phase 2, seeded like its run)."""
        added = []
        for variant, config in variant_configs(base, losses, seeds):
            self._numbers += 1
            phase2 = oversampler or OversampleConfig(device=config.device)
            over = replace(phase2, seed=config.seed) if variant in OVERSAMPLERS else None
            added.append(Job(self._numbers, config, oversampler=over, seeded=bool(seeds and len(seeds) > 1)))
        self.jobs.extend(added)
        self.changed.emit()
        self._start_next()
        return added

    def keep_adjusted(self, run: RunInfo, tau: float) -> Job:
        """Queue the recording of a post-hoc logit adjustment of a finished run (core.heads.adjust)."""
        self._numbers += 1
        job = Job(self._numbers, run.config, adjust=(run.id, tau))
        self.jobs.append(job)
        self.changed.emit()
        self._start_next()
        return job

    def resume(self, run: RunInfo) -> Job:
        """Queue the continuation of an interrupted, cancelled or failed run (its recorded configuration)."""
        self._numbers += 1
        job = Job(self._numbers, run.config, resume=run.id)
        self.jobs.append(job)
        self.changed.emit()
        self._start_next()
        return job

    def move(self, job: Job, offset: int) -> None:
        """Move a waiting job up (-1) or down (+1) among the waiting jobs."""
        waiting = self.waiting()
        if job not in waiting:
            return
        i = waiting.index(job)
        j = max(0, min(len(waiting) - 1, i + offset))
        if i == j:
            return
        other = waiting[j]
        a, b = self.jobs.index(job), self.jobs.index(other)
        self.jobs[a], self.jobs[b] = other, job
        self.changed.emit()

    def remove(self, job: Job) -> None:
        if job.status not in ACTIVE:  # the running job is cancelled, not removed
            self.jobs.remove(job)
            self.changed.emit()

    def cancel(self) -> None:
        """Ask the running job to stop (it is recorded as cancelled)."""
        if self._cancel is not None:
            self._cancel.set()
            if self._running is not None:
                self._running.message = "cancelling…"
                self.changed.emit()

    def cancel_all(self) -> None:
        for job in self.waiting():
            self.jobs.remove(job)
        self.cancel()
        self.changed.emit()

    # -- running ----------------------------------------------------------------------------------------------

    def _start_next(self) -> None:
        if self._running is not None:
            return
        waiting = self.waiting()
        if not waiting:
            self.idle.emit()
            return
        job = self._running = waiting[0]
        job.status, job.message = JobStatus.STARTING, "loading torch and decoding images…"
        self._cancel = threading.Event()
        self.changed.emit()
        run_generator(
            _train_job,
            self.location,
            job.config,
            self._cancel,
            job.resume,
            job.oversampler,
            job.adjust,
            on_yield=lambda e, j=job: self._on_event(j, e),
            on_error=lambda exc, j=job: self._on_error(j, exc),
            on_finish=functools.partial(self._on_finish, job),
            pool=TRAINING_POOL,
        )

    def _on_event(self, job: Job, event: Event) -> None:
        if isinstance(event, RunStarted):
            job.run_id, job.status, job.message = event.run_id, JobStatus.RUNNING, f"on {event.device}"
            self.changed.emit()
        elif isinstance(event, (BatchProgress, Decoding, FeatureProgress)):
            job.progress = event
        elif isinstance(event, RunFinished):
            job.status, job.message = JobStatus.FINISHED, f"{event.seconds:.0f} s"
        elif isinstance(event, RunFailed):
            job.status, job.message = JobStatus.FAILED, event.message
            job.run_id = job.run_id or event.run_id or None
        elif isinstance(event, RunCancelled):
            job.status = JobStatus.CANCELLED
            job.message = (
                f"cancelled in epoch {event.epoch + 1}"
                if event.run_id
                else "cancelled during the feature pass (finished chunks are kept for the next run)"
            )
        self.runEvent.emit(event)

    def _on_error(self, job: Job, exc: BaseException) -> None:
        job.status, job.message = JobStatus.FAILED, f"{type(exc).__name__}: {exc}"

    def _on_finish(self, job: Job) -> None:
        if job.status in ACTIVE:  # the generator ended without a final event
            job.status = JobStatus.CANCELLED if self._cancel is not None and self._cancel.is_set() else JobStatus.FAILED
            job.message = job.message if job.status == JobStatus.FAILED else "cancelled"
        self._running, self._cancel = None, None
        self.changed.emit()
        self.jobEnded.emit(job)
        self._start_next()
