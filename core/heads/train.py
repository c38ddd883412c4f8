"""Head-only training: a linear classifier on stored features of a frozen backbone, recorded as a run.

``train_head(catalog, config)`` is a generator of :mod:`core.training.events` like ``core.training.loop.train``.
It takes the snapshot, makes sure the extractor's features of every snapshot image are in the feature store (the
pass computes only what is missing, see :mod:`core.features`), records the run, and trains the head: mini-batch
Adam (or SGD) with the run's batch size, learning rate and schedule over the stored features, no augmentation.
Every loss of the project applies; ``crt`` (classifier re-training, Kang et al. 2020) draws each batch with a
class-balanced sampler (a label uniformly, then one of its training images) and plain cross-entropy. Each epoch is
evaluated and recorded like a whole-network epoch; the final model saved in the run folder is the backbone with
the trained head (``model.pt``), so review, comparison and export treat the run like any other. A head trains in
seconds, so a head-only run keeps no resumable checkpoint: train it again instead.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Generator
from dataclasses import replace

import numpy as np
import torch
from torch import nn

from core.analysis.imbalance import assign_groups
from core.analysis.metrics import evaluate
from core.base.errors import TailorError
from core.catalog.snapshot import Snapshot, content_hashes, take_snapshot
from core.catalog.store import Catalog, open_catalog
from core.config import LDAM_SCALE, LOSS_SPECS, Loss, TrainConfig
from core.features.extract import extract
from core.features.extractor import Extractor, build_model
from core.heads.views import mean_logits, view_extractors
from core.training import checkpoints, weights
from core.training.backbones import Classifier
from core.training.events import BatchProgress, EpochFinished, Event, Note, RunCancelled, RunFinished, RunStarted
from core.training.loop import PROGRESS_INTERVAL_S, lr_factor
from core.training.losses import TailorLoss, make_loss
from core.training.recorder import BestEpoch, RunRecorder
from core.training.runtime import device_label, pick_device, seed_everything


def train_head(
    catalog: Catalog | str,
    config: TrainConfig,
    *,
    cancel: threading.Event | None = None,
    runs_dir: str | None = None,
) -> Generator[Event, None, int]:
    """Train a head-only run (the catalog open, or its location: opened once); yields events, returns the run id
    (0 when it stopped before the run was recorded: cancelled during the feature pass, or refused)."""
    with open_catalog(catalog) as opened:
        recorder = RunRecorder(opened, config, cancel)
        return (yield from recorder.run(lambda: _start(recorder, runs_dir)))


def stored_features(
    recorder: RunRecorder, extractor: Extractor, model: Classifier, snapshot: Snapshot, device: torch.device
) -> Generator[Event, None, torch.Tensor | None]:
    """The extractor's features of every snapshot image (N x D float16, snapshot order), computing what the store
    lacks; None when cancelled."""
    store = extractor.open_store(recorder.catalog, device)
    hashes = content_hashes(recorder.catalog, snapshot.image_ids)
    statistics = extractor.statistics()
    finished = yield from extract(
        store, model.backbone, statistics, hashes, snapshot.paths, extractor.image_size, device=device,
        cancel=recorder.cancel, run_id=recorder.run_id,
    )  # fmt: skip
    if not finished:
        return None
    return torch.from_numpy(store.gather(hashes))


def _start(recorder: RunRecorder, runs_dir: str | None) -> Generator[Event, None, None]:
    config = recorder.config
    config.validate()
    if not config.head_only:
        raise TailorError("train_head needs a head-only configuration (--head-only)")
    catalog = recorder.catalog
    snapshot = take_snapshot(catalog, config.attribute, seed=config.splitting_seed, test_fraction=config.test_fraction)
    config = config.resolved(snapshot.multi_label)
    extractor = Extractor.for_config(catalog, config)
    config = replace(config, normalization=extractor.own_normalization)  # what the features were computed with
    if config.features_of is not None:  # the run records the backbone it used (a head-only base's pretrained one)
        config = replace(config, backbone=extractor.backbone, image_size=extractor.image_size)
        config = replace(config, pretrained=extractor.pretrained, normalization=extractor.normalization)
    recorder.config = config
    criterion = make_loss(config.loss, snapshot.counts("train"), multi_label=snapshot.multi_label,
                          **config.loss_parameters())  # fmt: skip
    if extractor.pretrained == "imagenet":
        yield from weights.ensure(extractor.backbone, recorder.cancel)
    seed_everything(config.seed)
    model, message = build_model(catalog, extractor, len(snapshot.labels), config.cosine_head)
    assert isinstance(model, Classifier)
    device = pick_device(config.device)
    pass_started = time.perf_counter()
    views = []
    for view in view_extractors(extractor, config):  # the images, and their mirrored copies with mirrored_views
        features = yield from stored_features(recorder, view, model, snapshot, device)
        if features is None:
            yield Note(0, "feature pass cancelled; the finished chunks are kept and the next run continues from there")
            yield RunCancelled(0, 0)
            return
        views.append(features)
    passed = f"feature pass {time.perf_counter() - pass_started:.1f} s"
    started = time.perf_counter()  # the run's seconds are the head's: the feature pass is shared by later runs
    recorder.create(snapshot, runs_dir, device_label(device))
    trainer = HeadTrainer(config, snapshot, views, model, criterion.to(device), device)
    mirrored = " and their mirrored views" if config.mirrored_views else ""
    yield from trainer.run(recorder, [message, f"head-only on {extractor.describe()}{mirrored} ({passed})"], started)


FLOAT32_BUDGET = 512 * 2**20  # bytes: features this small are converted from float16 once, not batch by batch
CURVES_EVERY_S = 2.0  # the live plots' PR curves of a head-only run: the last epoch's, and at most this often


def as_float32(features: torch.Tensor) -> torch.Tensor:
    """``features`` (float16 from the store) as float32 when they fit :data:`FLOAT32_BUDGET`, else as they are
    (each batch converts its own rows)."""
    return features.float() if features.numel() * 4 <= FLOAT32_BUDGET else features


class HeadTrainer:
    """The epochs of one head on fixed features, reported through a :class:`RunRecorder`."""

    def __init__(
        self,
        config: TrainConfig,
        snapshot: Snapshot,
        views: list[torch.Tensor],
        model: Classifier,
        criterion: TailorLoss,
        device: torch.device,
    ) -> None:
        """``views``: the snapshot's features (N x D, snapshot order), then those of the mirrored images when the
        run has mirrored views: training draws from every view, evaluation averages the views' logits."""
        self.config, self.snapshot, self.views, self.model = config, snapshot, views, model
        self.criterion, self.device = criterion, device
        self.head: nn.Module = model.head.to(device)
        self.train_idx, self.val_idx, self.test_idx = (snapshot.indices(s) for s in ("train", "val", "test"))
        self.counts = snapshot.counts("train")
        self.groups = assign_groups(self.counts)
        self.best = BestEpoch.for_snapshot(snapshot)
        self.curves_at = time.perf_counter()  # when the last PR curves were computed (see _end_epoch)
        self._test_x: list[torch.Tensor] | None = None
        self.rng = torch.Generator().manual_seed(config.seed)
        self.targets = torch.cat([_targets(snapshot, self.train_idx)] * len(views))  # one row per view
        assert config.lr is not None and config.weight_decay is not None  # resolved() filled them
        params = self.head.parameters()
        if config.optimizer == "sgd":
            self.optimiser: torch.optim.Optimizer = torch.optim.SGD(
                params, lr=config.lr, momentum=0.9, weight_decay=config.weight_decay
            )
        else:
            self.optimiser = torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)

    def started(self, run_id: int, directory: str) -> RunStarted:
        s, c = self.snapshot, self.config
        return RunStarted(
            run_id, s.attribute, s.kind, c.loss, c.backbone, device_label(self.device), [x.name for x in s.labels],
            len(self.train_idx), len(self.test_idx), len(self.val_idx), c.epochs, 0, s.split_source, directory,
            [int(n) for n in self.counts],
        )  # fmt: skip

    def order(self) -> torch.Tensor:
        """One epoch's rows into the training features (every view's rows, view after view): a permutation, or
        cRT's class-balanced draws (an image, then one of its views)."""
        n, views = len(self.train_idx), len(self.views)
        if self.config.loss != Loss.CRT:
            return torch.randperm(n * views, generator=self.rng)
        by_label, counts = self._by_label
        offsets = torch.cumsum(counts, 0) - counts
        drawn = torch.randint(len(counts), (n * views,), generator=self.rng)
        within = (torch.rand(n * views, generator=self.rng) * counts[drawn]).long()
        return by_label[offsets[drawn] + within] + n * torch.randint(views, (n * views,), generator=self.rng)

    @functools.cached_property
    def _by_label(self) -> tuple[torch.Tensor, torch.Tensor]:
        """cRT's sampling table, built once: training rows grouped by label (a multi-label image under each of its
        labels) and the size of each group."""
        rows, labels = [], []
        for row, i in enumerate(self.train_idx):
            for label in self.snapshot.targets[i]:
                rows.append(row)
                labels.append(label)
        return torch.tensor(rows)[torch.argsort(torch.tensor(labels), stable=True)], torch.as_tensor(self.counts)

    def run(self, recorder: RunRecorder, notes: list[str | None], started: float) -> Generator[Event, None, None]:
        assert recorder.directory is not None
        yield self.started(recorder.run_id, str(recorder.directory))
        for note in notes:
            if note:
                yield Note(recorder.run_id, note)
        train_x = torch.cat([as_float32(view[self.train_idx]) for view in self.views])
        last_eval, seen, train_seconds = None, 0, 0.0
        for epoch in range(self.config.epochs):
            recorder.progress.epoch = epoch
            epoch_started = time.perf_counter()
            trained = yield from self._epoch(recorder, epoch, train_x, epoch_started)
            if trained is None:
                yield recorder.stop(f"cancelled during epoch {epoch + 1}", epoch)
                return
            train_seconds += time.perf_counter() - epoch_started
            seen += len(self.train_idx) * len(self.views)
            last_eval = yield from self._end_epoch(recorder, epoch, trained, epoch_started)
        self.model.head = self.head
        checkpoints.save({k: v.cpu() for k, v in self.model.state_dict().items()}, recorder.directory / "model.pt")
        seconds = time.perf_counter() - started
        rate = seen / train_seconds if train_seconds else 0.0
        summary = yield from recorder.finish(self.snapshot, self.test_idx, last_eval, self.best, seconds, rate)
        yield RunFinished(recorder.run_id, seconds, rate, summary)

    def _epoch(
        self, recorder: RunRecorder, epoch: int, train_x: torch.Tensor, epoch_started: float
    ) -> Generator[Event, None, float | None]:
        c = self.config
        for group in self.optimiser.param_groups:
            group["lr"] = (c.lr or 0.0) * lr_factor(c, epoch)
        self.criterion.set_epoch(epoch)
        self.head.train()
        order = self.order()
        batches = max(1, -(-len(order) // c.batch_size))
        total, last_report = 0.0, 0.0
        for b in range(batches):
            if recorder.cancelled():
                return None
            rows = order[b * c.batch_size : (b + 1) * c.batch_size]
            x = train_x[rows].to(self.device).float()
            loss = self.criterion(self.head(x), self.targets[rows].to(self.device))
            self.optimiser.zero_grad(set_to_none=True)
            loss.backward()
            self.optimiser.step()
            total += float(loss.detach()) * len(rows)
            now = time.perf_counter()
            if now - last_report >= PROGRESS_INTERVAL_S or b == batches - 1:
                last_report = now
                rate = (b + 1) * c.batch_size / max(now - epoch_started, 1e-9)
                left = (batches - b - 1 + (c.epochs - epoch - 1) * batches) * c.batch_size / rate
                yield BatchProgress(recorder.run_id, epoch, c.epochs, b + 1, batches, total / len(order), rate, left)
        return total / len(order)

    def _end_epoch(
        self, recorder: RunRecorder, epoch: int, train_loss: float, epoch_started: float
    ) -> Generator[Event, None, tuple[dict, np.ndarray]]:
        # PR curves, thresholds and pooled group curves on the last epoch, and for the live plots at most every
        # CURVES_EVERY_S; the other epochs record every summary metric and per-label AP and accuracy all the same
        now = time.perf_counter()
        curves = epoch == self.config.epochs - 1 or now - self.curves_at >= CURVES_EVERY_S
        if curves:
            self.curves_at = now
        test_eval, test_loss, test_scores = self.evaluate(self.test_idx, curves=curves)
        selection = self.evaluate(self.val_idx, curves=False)[0] if self.val_idx else test_eval
        seconds = time.perf_counter() - epoch_started
        yield from recorder.record_epoch(epoch, train_loss, test_loss, test_eval, seconds)
        self.best.offer(epoch, selection)
        lr = self.optimiser.param_groups[0]["lr"]
        yield EpochFinished(recorder.run_id, epoch, self.config.epochs, train_loss, test_loss, lr, seconds, test_eval)
        return test_eval, test_scores

    @torch.no_grad()
    def evaluate(self, indices: list[int], curves: bool = True) -> tuple[dict, float, np.ndarray]:
        self.head.eval()
        if indices is self.test_idx:  # every epoch: gathered and converted once
            if self._test_x is None:
                self._test_x = [as_float32(view[indices]) for view in self.views]
            x = self._test_x
        else:
            x = [view[indices] for view in self.views]
        logits = mean_logits(self.head, x, self.device)
        loss = float(self.criterion(logits, _targets(self.snapshot, indices).to(self.device))) if indices else 0.0
        scores = scores_of(logits, self.snapshot.multi_label, self.criterion)
        truth = _truth(self.snapshot, indices)
        result = evaluate(
            truth, scores, multi_label=self.snapshot.multi_label, target_precision=self.config.target_precision,
            groups=self.groups, curves=curves,
        )  # fmt: skip
        self.head.train()
        return result, loss, scores.astype(np.float32)


def scores_of(logits: torch.Tensor, multi_label: bool, criterion: TailorLoss) -> np.ndarray:
    """What a run stores: sigmoid (multi-label) or softmax probabilities (of the LDAM-scaled logits for LDAM)."""
    if multi_label:
        return torch.sigmoid(logits.float()).cpu().numpy().astype(np.float64)
    cosine = criterion.name in LOSS_SPECS and LOSS_SPECS[Loss(criterion.name)].cosine  # the loss's spec says
    scale = float(getattr(criterion, "s", LDAM_SCALE)) if cosine else 1.0
    return torch.softmax(logits.float() * scale, dim=1).cpu().numpy().astype(np.float64)


def _truth(snapshot: Snapshot, indices: list[int]) -> np.ndarray:
    return snapshot.target_matrix(indices) if snapshot.multi_label else snapshot.target_vector(indices)


def _targets(snapshot: Snapshot, indices: list[int]) -> torch.Tensor:
    return torch.from_numpy(_truth(snapshot, indices))
