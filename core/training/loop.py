"""Training: a generator of events that trains one variant on one attribute and records the run in the catalog.

``train(catalog, config)`` yields :mod:`core.training.events` and returns the run id. The CLI iterates it and draws a
progress bar; the window runs the same generator in a worker thread. Cancel cooperatively with a
``threading.Event`` (checked before every batch) or by closing the generator; either way the run is recorded as
``cancelled`` and its last epoch checkpoint can be resumed (``resume=RUN``). The run's record (lock, log, best
epoch, how it ended) is :class:`core.training.recorder.RunRecorder`'s.

Optimisation: Adam, or SGD with momentum 0.9 and weight decay; learning rate per epoch with an optional linear
warm-up and a ``step`` schedule (x0.01 at 80% and x0.0001 at 90% of the epochs: the CIFAR-LT protocol's 160/180
of 200) or ``cosine``. On CUDA: automatic mixed precision and channels_last; on a CPU: float32 unless
TAILOR_PRECISION=bf16 asks for bfloat16 autocast (core.training.precision).

Model selection: the metrics shown for a run are the **last** epoch's (its final model, whose test scores are
stored). The **best** epoch is reported beside them, selected on the validation split when the catalog has one,
otherwise on the test set and labelled ``"selected_on": "test"`` (what the literature reports; optimistic).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Generator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler

from core.analysis.imbalance import assign_groups
from core.analysis.metrics import evaluate
from core.base.errors import TailorError
from core.catalog import runs as store
from core.catalog.snapshot import Snapshot, take_snapshot
from core.catalog.store import Catalog, open_catalog
from core.config import TrainConfig
from core.training import checkpoints, weights
from core.training import distributed as parallel
from core.training.backbones import build_classifier
from core.training.dataset import SnapshotDataset, augmentation, fits_in_memory, load_cache
from core.training.events import (
    BatchProgress,
    CheckpointSaved,
    Decoding,
    EpochFinished,
    Event,
    Note,
    RunFinished,
    RunStarted,
)
from core.training.losses import make_loss
from core.training.precision import choose
from core.training.pretrained import input_statistics, resolved_normalization
from core.training.recorder import BestEpoch, RunRecorder
from core.training.runtime import Normaliser, device_label, pick_device, seed_everything

__all__ = ["TrainConfig", "lr_factor", "train"]

PROGRESS_INTERVAL_S = 0.25
Built = tuple[torch.nn.Module, str | None]  # build_classifier's model and its note


def lr_factor(config: TrainConfig, epoch: int) -> float:
    """Learning-rate multiplier of a (0-based) epoch: warm-up, then the schedule."""
    warmup = config.warmup_epochs or 0
    if epoch < warmup:
        return (epoch + 1) / warmup
    if config.schedule == "step":  # int(), like LDAM-DRW's deferred re-weighting epoch: 160/180 of 200
        if epoch >= int(0.9 * config.epochs):
            return 1e-4
        if epoch >= int(0.8 * config.epochs):
            return 1e-2
        return 1.0
    if config.schedule == "cosine":
        span = max(1, config.epochs - warmup)
        return 0.5 * (1 + math.cos(math.pi * (epoch - warmup) / span))
    return 1.0


def train(
    catalog: Catalog | str,
    config: TrainConfig,
    *,
    cancel: threading.Event | None = None,
    resume: int | None = None,
    runs_dir: str | None = None,
    distributed: bool = False,
) -> Generator[Event, None, int]:
    """Train ``config`` on the catalog (open, or its location: opened once for the run); yields events, returns
    the run id (see the module docstring). ``distributed``: one process of a torchrun group (see
    core.training.distributed); rank 0 alone writes."""
    group = parallel.start(config.device) if distributed else None
    if group is not None and not group.main:
        return (yield from _follow(catalog, group, cancel))
    shared = [group is None]  # the other ranks learn the run id (0: failed before it existed)
    try:
        with open_catalog(catalog) as opened:
            recorder = RunRecorder(opened, config, cancel)
            return (yield from recorder.run(lambda: _start(recorder, resume, runs_dir, group, shared)))
    finally:
        if group is not None and not shared[0]:
            parallel.share_int(0, group)
        if group is not None:
            parallel.stop()


def _start(
    recorder: RunRecorder, resume: int | None, runs_dir: str | None, group: parallel.Group | None, shared: list[bool]
) -> Generator[Event, None, None]:
    """Check, take the snapshot (or read the resumed run's), build the model, record the run, train it."""
    recorder.config.validate()
    if resume is not None:
        recorder.resume(resume)
        snapshot = store.load_snapshot(recorder.catalog, resume)
    else:
        config = recorder.config
        snapshot = take_snapshot(
            recorder.catalog, config.attribute, seed=config.splitting_seed, test_fraction=config.test_fraction
        )
        config = config.resolved(snapshot.multi_label)
        normalization = resolved_normalization(config.backbone, config.normalization, config.pretrained)
        recorder.config = replace(config, normalization=normalization)
        check_splits(snapshot, config.attribute)  # before the run is recorded
    config = recorder.config
    device = pick_device(config.device)
    if group is not None:
        device = parallel.device_of(group, device)
    if config.pretrained == "imagenet":
        yield from weights.ensure(config.backbone, recorder.cancel)  # before the run exists
    built = _build(config, snapshot)  # a bad weights file is refused before the run exists
    if resume is None:
        recorder.create(snapshot, runs_dir, device_label(device))
    else:
        recorder.mark_running()
    if group is not None:
        shared[0] = True
        parallel.share_int(recorder.run_id, group)  # the other ranks read the run from the catalog
    assert recorder.directory is not None
    trainer = _Trainer(config, snapshot, device, recorder.directory, group, built, resuming=resume is not None)
    yield from trainer.run(recorder)


def check_splits(snapshot: Snapshot, attribute: str) -> None:
    """A run needs images to train on and images to test on: one line before anything is recorded."""
    train, test = len(snapshot.indices("train")), len(snapshot.indices("test"))
    if not train or not test:
        raise TailorError(
            f"'{attribute}' has {len(snapshot.image_ids)} labelled images: {train} to train on and {test} to test "
            "on; a run needs both (label more images, or put some in the test split)"
        )


def _build(config: TrainConfig, snapshot: Snapshot) -> Built:
    seed_everything(config.seed)  # then the model's initial weights
    return build_classifier(
        config.backbone, len(snapshot.labels), cosine=config.cosine_head, pretrained=config.pretrained
    )


def _follow(
    catalog: Catalog | str, group: parallel.Group, cancel: threading.Event | None
) -> Generator[Event, None, int]:
    """A rank other than 0: train the run rank 0 created (or resumed), writing nothing."""
    try:
        run_id = parallel.share_int(0, group)
        if not run_id:
            raise TailorError("rank 0 could not start the run (its error is on its output)")
        with open_catalog(catalog) as opened:
            run = store.get_run(opened, run_id)
            snapshot = store.load_snapshot(opened, run_id)
            device = parallel.device_of(group, pick_device(run.config.device))
            directory = Path(run.directory)
            resuming = run.epochs_done > 0 or (directory / "checkpoint.pt").is_file()
            recorder = RunRecorder(opened, run.config, cancel, run_id=run_id, directory=directory)
            trainer = _Trainer(run.config, snapshot, device, directory, group, _build(run.config, snapshot), resuming)
            yield from trainer.run(recorder)
        return run_id
    finally:
        parallel.stop()


def _loader(
    dataset: SnapshotDataset,
    batch_size: int,
    *,
    shuffle: bool,
    generator: torch.Generator | None,
    workers: int,
    pin: bool,
    sampler: DistributedSampler | None = None,
) -> DataLoader:
    extra: dict[str, Any] = {}
    if workers > 0:  # never fork: the window runs Qt threads
        extra = {"num_workers": workers, "multiprocessing_context": "forkserver", "persistent_workers": True}
    # BatchNorm cannot train on a batch of one: drop a trailing single image (it is seen in other epochs)
    n = len(sampler) if sampler is not None else len(dataset)
    drop_last = shuffle and n > batch_size and n % batch_size == 1
    if sampler is not None:  # a DistributedSampler shuffles this process's shard itself
        return DataLoader(dataset, batch_size=batch_size, sampler=sampler, pin_memory=pin, drop_last=drop_last, **extra)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        generator=generator,
        pin_memory=pin,
        drop_last=drop_last,
        **extra,
    )


class _Trainer:
    """One run's training state (model, optimiser, scaler, loss, data) and its epochs, reported through a
    :class:`RunRecorder`. Rank 0 (or the only process) evaluates and writes; other ranks only train."""

    def __init__(
        self,
        config: TrainConfig,
        snapshot: Snapshot,
        device: torch.device,
        directory: Path,
        group: parallel.Group | None,
        built: Built,
        resuming: bool,
    ) -> None:
        self.created_at = time.perf_counter()  # the run's seconds count set-up and decoding, as they always did
        self.config, self.snapshot, self.device, self.directory, self.group = config, snapshot, device, directory, group
        self.net, self.message = built  # the plain module: evaluation, checkpoints, the saved model
        self.train_idx, self.val_idx, self.test_idx = (snapshot.indices(s) for s in ("train", "val", "test"))
        self.counts = snapshot.counts("train")
        self.criterion = make_loss(
            config.loss, self.counts, multi_label=snapshot.multi_label, **config.loss_parameters()
        ).to(device)
        self.cuda = device.type == "cuda"
        self.precision = choose(device, training=True)
        self.main = group is None or group.main
        self.model = self._placed()
        self.optimiser = self._optimiser()
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.precision.name == "fp16")
        self.loader_rng = torch.Generator().manual_seed(config.seed)
        self.checkpoint = directory / "checkpoint.pt"
        self.best = BestEpoch.for_snapshot(snapshot)
        self.start_epoch = self._restore() if resuming else 0
        statistics = input_statistics(config.backbone, config.normalization, config.pretrained)
        self.normalise = Normaliser(device, self.precision.channels_last, *statistics)
        self.groups = assign_groups(self.counts)

    def _placed(self) -> torch.nn.Module:
        self.net.to(self.device)
        if self.precision.channels_last:
            self.net.to(memory_format=torch.channels_last)
        if self.group is None:
            return self.net
        return DistributedDataParallel(self.net, device_ids=[self.device.index] if self.cuda else None)

    def _optimiser(self) -> torch.optim.Optimizer:
        c = self.config
        assert c.lr is not None and c.weight_decay is not None  # resolved() filled them
        if c.optimizer == "sgd":
            return torch.optim.SGD(self.model.parameters(), lr=c.lr, momentum=0.9, weight_decay=c.weight_decay)
        return torch.optim.Adam(self.model.parameters(), lr=c.lr, weight_decay=c.weight_decay)

    def _restore(self) -> int:
        """Continue from the checkpoint: weights, optimiser, scaler, both generators and model selection."""
        saved = checkpoints.load(self.checkpoint)
        self.net.load_state_dict(saved["model"])
        self.optimiser.load_state_dict(saved["optimizer"])
        self.scaler.load_state_dict(saved["scaler"])
        torch.set_rng_state(saved["rng"])
        self.loader_rng.set_state(saved["loader_rng"])
        self.best.restore(saved.get("best"))  # on the same split as before the interruption
        return int(saved["epoch"]) + 1

    def _save_checkpoint(self, epoch: int) -> None:
        """Written atomically (see core.training.checkpoints); ``best`` (plain numbers and strings, fine for
        ``weights_only``) carries model selection across a resume."""
        checkpoints.save(
            {
                "model": self.net.state_dict(),
                "optimizer": self.optimiser.state_dict(),
                "scaler": self.scaler.state_dict(),
                "rng": torch.get_rng_state(),
                "loader_rng": self.loader_rng.get_state(),
                "epoch": epoch,
                "best": self.best.as_dict(),
            },
            self.checkpoint,
        )

    def started(self, run_id: int) -> RunStarted:
        s, c = self.snapshot, self.config
        return RunStarted(
            run_id,
            s.attribute,
            s.kind,
            c.loss,
            c.backbone,
            device_label(self.device),
            [label.name for label in s.labels],
            len(self.train_idx),
            len(self.test_idx),
            len(self.val_idx),
            c.epochs,
            self.start_epoch,
            s.split_source,
            str(self.directory),
            [int(n) for n in self.counts],
        )

    # -- the run --------------------------------------------------------------------------------------------

    def run(self, recorder: RunRecorder) -> Generator[Event, None, None]:
        recorder.progress.recorded = recorder.progress.saved = self.start_epoch
        yield self.started(recorder.run_id)
        if self.message:
            yield Note(recorder.run_id, self.message)
        everything = self.train_idx + self.val_idx + self.test_idx
        cache = None
        if self.config.cache and fits_in_memory(len(everything), self.config.pixels):
            cache = yield from self._decode(recorder, everything)
            if cache is None:
                return
        self._data(cache, everything)
        last_eval, images_seen, train_seconds = None, 0, 0.0
        for epoch in range(self.start_epoch, self.config.epochs):
            recorder.progress.epoch = epoch
            epoch_started = time.perf_counter()
            trained = yield from self._train_epoch(recorder, epoch, epoch_started)
            if trained is None:
                return
            total_loss, seen = trained
            train_seconds += time.perf_counter() - epoch_started
            images_seen += seen
            if self.group is not None and not self.main:
                parallel.barrier(self.group)  # wait while rank 0 evaluates and writes the epoch
                continue
            last_eval = yield from self._end_epoch(recorder, epoch, total_loss / seen, epoch_started)
            if self.group is not None:
                parallel.barrier(self.group)
        if self.main and last_eval is None and self.start_epoch >= self.config.epochs:
            # every epoch was trained and checkpointed before the run stopped (killed while model.pt was
            # written): the last checkpoint is the trained model; its test scores finish the run
            test_eval, _, test_scores = self._evaluate(self.test_idx, self.test_data)
            last_eval = (test_eval, test_scores)
        if self.main:
            yield from self._finish(
                recorder,
                last_eval,
                time.perf_counter() - self.created_at,
                images_seen / train_seconds if train_seconds else 0.0,
            )

    def _decode(self, recorder: RunRecorder, everything: list[int]) -> Generator[Event, None, torch.Tensor | None]:
        """Every image decoded once into memory; None when cancelled (recorded)."""
        decoding = load_cache([self.snapshot.paths[i] for i in everything], self.config.pixels)
        while True:
            try:
                done = next(decoding)
            except StopIteration as stop:
                cache: torch.Tensor = stop.value
                return cache
            yield Decoding(recorder.run_id, done, len(everything))
            if recorder.cancelled():
                yield recorder.stop("cancelled while decoding images", self.start_epoch)
                return None

    def _data(self, cache: torch.Tensor | None, everything: list[int]) -> None:
        row = {i: r for r, i in enumerate(everything)}

        def dataset(indices: list[int], transform: Any = None) -> SnapshotDataset:
            return SnapshotDataset(
                self.snapshot,
                indices,
                self.config.pixels,
                transform,
                cache,
                [row[i] for i in indices] if cache is not None else None,
            )

        training_data = dataset(self.train_idx, augmentation(self.config.pixels))
        g = self.group
        self.sampler: DistributedSampler[Any] | None = (
            None
            if g is None
            else DistributedSampler(training_data, g.world, g.rank, shuffle=True, seed=self.config.seed)
        )
        self.train_loader = _loader(
            training_data,
            self.config.batch_size,
            shuffle=True,
            generator=self.loader_rng,
            workers=0 if cache is not None else self.config.workers,
            pin=self.cuda,
            sampler=self.sampler,
        )
        self.shard = len(self.sampler) if self.sampler is not None else len(self.train_idx)
        self.test_data, self.val_data = dataset(self.test_idx), dataset(self.val_idx)

    def _train_epoch(
        self, recorder: RunRecorder, epoch: int, epoch_started: float
    ) -> Generator[Event, None, tuple[float, int] | None]:
        """One pass over the training images; (summed loss, images) of the whole group, None when cancelled."""
        c = self.config
        lr = (c.lr or 0.0) * lr_factor(c, epoch)
        for param_group in self.optimiser.param_groups:
            param_group["lr"] = lr
        self.criterion.set_epoch(epoch)
        if self.sampler is not None:
            self.sampler.set_epoch(epoch)
        self.model.train()
        total_loss, seen, last_report = 0.0, 0, 0.0
        batches = len(self.train_loader)
        for batch, (images, targets) in enumerate(self.train_loader):
            if recorder.cancelled():
                yield recorder.stop(f"cancelled during epoch {epoch + 1}", epoch)
                return None
            total_loss += self._step(images, targets) * len(images)
            seen += len(images)
            now = time.perf_counter()
            if now - last_report >= PROGRESS_INTERVAL_S or batch == batches - 1:
                last_report = now
                rate = seen / (now - epoch_started) if now > epoch_started else 0.0
                remaining = (self.shard - seen) + (c.epochs - epoch - 1) * self.shard
                yield BatchProgress(
                    recorder.run_id,
                    epoch,
                    c.epochs,
                    batch + 1,
                    batches,
                    total_loss / seen,
                    rate,
                    remaining / rate if rate else float("nan"),
                )
        if self.group is not None:  # the whole group's loss and images
            total, images = parallel.sum_floats([total_loss, float(seen)], self.group)
            return total, int(images)
        return total_loss, seen

    def _step(self, images: torch.Tensor, targets: torch.Tensor) -> float:
        images, targets = self.normalise(images), targets.to(self.device, non_blocking=True)
        with self.precision.autocast():
            loss = self.criterion(self.model(images), targets)
        self.optimiser.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimiser)
        self.scaler.update()
        return float(loss.detach())

    def _end_epoch(
        self, recorder: RunRecorder, epoch: int, train_loss: float, epoch_started: float
    ) -> Generator[Event, None, tuple[dict, np.ndarray]]:
        """Evaluate, record the epoch, choose the best, save the checkpoint; the test metrics and scores."""
        test_eval, test_loss, test_scores = self._evaluate(self.test_idx, self.test_data)
        selection = self._evaluate(self.val_idx, self.val_data)[0] if self.val_idx else test_eval
        seconds = time.perf_counter() - epoch_started
        yield from recorder.record_epoch(epoch, train_loss, test_loss, test_eval, seconds)
        self.best.offer(epoch, selection)
        lr = self.optimiser.param_groups[0]["lr"]
        yield EpochFinished(recorder.run_id, epoch, self.config.epochs, train_loss, test_loss, lr, seconds, test_eval)
        self._save_checkpoint(epoch)
        recorder.progress.saved = epoch + 1
        yield CheckpointSaved(recorder.run_id, epoch, str(self.checkpoint))
        return test_eval, test_scores

    def _finish(
        self, recorder: RunRecorder, last_eval: tuple[dict, np.ndarray] | None, seconds: float, rate: float
    ) -> Generator[Event, None, None]:
        checkpoints.save({k: v.cpu() for k, v in self.net.state_dict().items()}, self.directory / "model.pt")
        summary = yield from recorder.finish(self.snapshot, self.test_idx, last_eval, self.best, seconds, rate)
        yield RunFinished(recorder.run_id, seconds, rate, summary)

    @torch.inference_mode()
    def _evaluate(self, indices: list[int], data: SnapshotDataset) -> tuple[dict, float, np.ndarray]:
        model, snapshot, config = self.net, self.snapshot, self.config
        model.eval()
        loader = DataLoader(data, batch_size=max(256, config.batch_size), shuffle=False)
        scores, losses = [], 0.0
        for images, targets in loader:
            with self.precision.autocast():
                logits = model(self.normalise(images)).float()
            losses += float(self.criterion(logits, targets.to(self.device))) * len(images)
            probabilities = (
                torch.sigmoid(logits) if snapshot.multi_label else torch.softmax(logits * config.score_scale, dim=1)
            )
            scores.append(probabilities.cpu().numpy())
        result_scores = np.concatenate(scores).astype(np.float64)
        truth = snapshot.target_matrix(indices) if snapshot.multi_label else snapshot.target_vector(indices)
        result = evaluate(
            truth,
            result_scores,
            multi_label=snapshot.multi_label,
            target_precision=config.target_precision,
            groups=self.groups,
        )
        return result, losses / max(1, len(indices)), result_scores.astype(np.float32)
