"""The convex-GAN oversampler as a run: Phase 1 (features of a trained run) and Phase 2 (core.oversampling.gan).

``oversample(catalog, base_run_id, config)`` is a generator of :mod:`core.training.events` like
``core.training.loop.train``: it records a new run (loss ``convex-gan``, ``base_run_id`` set, same images and split
as the base) whose final model is the base run's backbone with the fine-tuned head, so metrics, comparison, review
and export treat it like any other run. ``train_and_oversample`` trains the base run first (``tailor train
--oversample convex-gan``).

Phase 1 passes every image of the base run's snapshot once through its frozen backbone (no augmentation) into the
feature store (:mod:`core.features`, float16, keyed by the model file's hash and the images' contents), so Phase 2
can be re-run cheaply, and every Phase 2 run of a base reads the same features. The oversampled run keeps G, D,
Q and the dictionaries in ``oversampler.pt``; :func:`synthetic` regenerates samples of a label with their convex
weights over real images.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Generator
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from core.analysis.imbalance import assign_groups
from core.analysis.metrics import evaluate
from core.base.errors import TailorError
from core.base.iteration import drain
from core.catalog import runs as store
from core.catalog.records import RunStatus
from core.catalog.snapshot import Snapshot, content_hashes
from core.catalog.store import Catalog, open_catalog
from core.config import OversampleConfig, Oversampler, TrainConfig
from core.features.extract import extract
from core.features.extractor import Extractor
from core.heads.train import train_head
from core.oversampling.gan import FeatureBank, Phase2, Phase2Step
from core.training import checkpoints
from core.training.backbones import Classifier
from core.training.events import (
    BatchProgress,
    EpochFinished,
    Event,
    GanEpoch,
    Note,
    RunFinished,
    RunStarted,
)
from core.training.export import load_run_model
from core.training.loop import train
from core.training.recorder import BestEpoch, RunRecorder
from core.training.runtime import device_label, pick_device

STATE_FILE = "oversampler.pt"


# -- Phase 1 ------------------------------------------------------------------------------------------------------


def features(
    catalog: Catalog,
    model: Classifier,
    run: store.RunInfo,
    snapshot: Snapshot,
    device: torch.device,
    *,
    cancel: threading.Event | None = None,
    run_id: int = 0,
) -> Generator[Event, None, torch.Tensor | None]:
    """Features (N x D, float32, in snapshot order) of every image of a finished run (``model`` and ``run`` as
    ``load_run_model`` gives them, ``snapshot`` its images) from the feature store (computing what it lacks);
    None when cancelled. Every Phase 2 run reads the same stored (float16) features."""
    c = run.config
    extractor = Extractor(c.backbone, None, c.pixels, c.normalization, run_id=run.id)
    feature_store = extractor.open_store(catalog, device)
    hashes = content_hashes(catalog, snapshot.image_ids)
    done = yield from extract(
        feature_store, model.backbone, extractor.statistics(), hashes, snapshot.paths,
        c.pixels, device=device, cancel=cancel, run_id=run_id,
    )  # fmt: skip
    return torch.from_numpy(feature_store.gather(hashes)).float() if done else None


# -- Phase 2 as a run ---------------------------------------------------------------------------------------------


def oversample(
    catalog: Catalog | str,
    base_run_id: int,
    config: OversampleConfig,
    *,
    cancel: threading.Event | None = None,
    runs_dir: str | None = None,
    batch: str | None = None,
) -> Generator[Event, None, int]:
    """Record and run Phase 2 on a finished run (the catalog open, or its location: opened once); yields events,
    returns the new run's id. ``batch``: the request's, when Phase 2 is part of one (a matrix, variants, seeds);
    a run oversampled on its own is not in its base run's batch."""
    with open_catalog(catalog) as opened:
        recorder = RunRecorder(opened, TrainConfig(attribute=""), cancel)
        return (yield from recorder.run(lambda: _start(recorder, base_run_id, config, runs_dir, batch)))


def _start(
    recorder: RunRecorder, base_run_id: int, config: OversampleConfig, runs_dir: str | None, batch: str | None
) -> Generator[Event, None, None]:
    config.validate()
    base = store.get_run(recorder.catalog, base_run_id)
    if base.status != RunStatus.FINISHED:
        raise TailorError(f"run {base_run_id} is {base.status}; the oversampler needs a finished run")
    if base.config.mirrored_views:
        raise TailorError(f"run {base_run_id} has mirrored views: the convex-GAN oversamples one view; train its base "
                          "without --mirrored-views")  # fmt: skip
    snapshot = store.load_snapshot(recorder.catalog, base_run_id)
    device = pick_device(config.device)
    recorder.config = replace(
        base.config,
        loss=Oversampler.CONVEX_GAN,
        oversample=None,
        base_loss=base.config.base_loss or base.config.loss,
        epochs=config.epochs,
        batch_size=config.batch_size,
        lr=config.lr,
        seed=config.seed,
        batch=batch,
    )
    recorder.create(snapshot, runs_dir, device_label(device), base_run_id=base_run_id, oversampler=config)
    yield from _PhaseTwo(recorder, base, config, snapshot, device).run()


class _PhaseTwo:
    """Phase 2 on the base run's features, recorded epoch by epoch like a training run."""

    def __init__(
        self,
        recorder: RunRecorder,
        base: store.RunInfo,
        config: OversampleConfig,
        snapshot: Snapshot,
        device: torch.device,
    ) -> None:
        self.recorder, self.base, self.config, self.snapshot, self.device = recorder, base, config, snapshot, device
        self.run_id = recorder.run_id
        self.train_idx, self.val_idx, self.test_idx = (snapshot.indices(s) for s in ("train", "val", "test"))
        self.counts = snapshot.counts("train")
        self.groups = assign_groups(self.counts)
        self.best = BestEpoch.for_snapshot(snapshot)

    def started(self) -> RunStarted:
        s, r = self.snapshot, self.recorder
        assert r.directory is not None
        return RunStarted(
            self.run_id,
            s.attribute,
            s.kind,
            Oversampler.CONVEX_GAN,
            r.config.backbone,
            device_label(self.device),
            [label.name for label in s.labels],
            len(self.train_idx),
            len(self.test_idx),
            len(self.val_idx),
            self.config.epochs,
            0,
            s.split_source,
            str(r.directory),
            [int(n) for n in self.counts],
        )

    def run(self) -> Generator[Event, None, None]:
        started = time.perf_counter()
        yield self.started()
        yield Note(self.run_id, f"Phase 1: features of run {self.base.id} ({self.base.loss} · {self.base.backbone})")
        model, _base_config, base = load_run_model(self.recorder.catalog, self.base.id)
        all_features = yield from features(
            self.recorder.catalog, model, base, self.snapshot, self.device, cancel=self.recorder.cancel,
            run_id=self.run_id,
        )  # fmt: skip
        if all_features is None or self.recorder.cancelled():
            yield self.recorder.stop("cancelled while extracting features", 0)
            return
        phase = self._phase(all_features, model)
        last_eval, iterations = yield from self._epochs(phase, all_features)
        if self.recorder.cancelled():
            yield self.recorder.stop(
                f"cancelled during epoch {self.recorder.progress.epoch + 1}", self.recorder.progress.epoch
            )
            return
        seconds = time.perf_counter() - started
        rate = iterations * self.config.batch_size / seconds if seconds else 0.0
        summary = yield from self.recorder.finish(self.snapshot, self.test_idx, last_eval, self.best, seconds, rate)
        self._save(model, phase)
        yield RunFinished(self.run_id, seconds, rate, summary)

    def _phase(self, all_features: torch.Tensor, model: Classifier) -> Phase2:
        s, config = self.snapshot, self.config
        bank = FeatureBank(
            all_features[self.train_idx],
            [s.targets[i] for i in self.train_idx],
            len(s.labels),
            dictionary_size=config.dictionary_size,
            seed=config.seed,
            multi_label=s.multi_label,
        )
        return Phase2(bank, model.head, config, cosine=self.recorder.config.cosine_head, device=self.device)

    def _epochs(
        self, phase: Phase2, all_features: torch.Tensor
    ) -> Generator[Event, None, tuple[tuple[dict, np.ndarray] | None, int]]:
        config, run_id = self.config, self.run_id
        yield Note(
            run_id,
            f"Phase 2: N_s = {phase.samples} features per synthetic sample ({config.weights} "
            f"weights), {phase.iterations} iterations per epoch of batch {config.batch_size}",
        )
        test_x, val_x = all_features[self.test_idx].to(self.device), all_features[self.val_idx].to(self.device)
        last_eval, epoch_started, iterations_done = None, time.perf_counter(), 0
        for step in phase.run(should_stop=self.recorder.cancelled):
            self.recorder.progress.epoch = step.epoch
            elapsed = time.perf_counter() - epoch_started
            rate = step.iteration * config.batch_size / elapsed if elapsed > 0 else 0.0
            left = phase.iterations - step.iteration + (config.epochs - step.epoch - 1) * phase.iterations
            yield BatchProgress(
                run_id,
                step.epoch,
                config.epochs,
                step.iteration,
                step.iterations,
                step.q_loss,
                rate,
                left * config.batch_size / rate if rate else float("nan"),
            )
            if not step.epoch_done:
                continue
            iterations_done += step.iterations
            last_eval = yield from self._end_epoch(phase, step, test_x, val_x, time.perf_counter() - epoch_started)
            epoch_started = time.perf_counter()
        return last_eval, iterations_done

    def _end_epoch(
        self, phase: Phase2, step: Phase2Step, test_x: torch.Tensor, val_x: torch.Tensor, seconds: float
    ) -> Generator[Event, None, tuple[dict, np.ndarray]]:
        test_eval, test_loss, test_scores = self._evaluate(phase, test_x, self.test_idx)
        selection = self._evaluate(phase, val_x, self.val_idx)[0] if self.val_idx else test_eval
        yield from self.recorder.record_epoch(step.epoch, step.q_loss, test_loss, test_eval, seconds)
        self.best.offer(step.epoch, selection)
        yield GanEpoch(self.run_id, step.epoch, step.q_loss, step.d_loss, step.g_loss, phase.generated.tolist())
        yield EpochFinished(
            self.run_id,
            step.epoch,
            self.config.epochs,
            step.q_loss,
            test_loss,
            phase.optimisers["q"].param_groups[0]["lr"],
            seconds,
            test_eval,
        )
        return test_eval, test_scores

    def _save(self, model: torch.nn.Module, phase: Phase2) -> None:
        directory = self.recorder.directory
        assert directory is not None
        model.head = phase.head
        checkpoints.save({k: v.cpu() for k, v in model.state_dict().items()}, directory / "model.pt")
        train_ids = torch.tensor([self.snapshot.image_ids[i] for i in self.train_idx])
        checkpoints.save(
            {**phase.state(), "train_image_ids": train_ids, "base_run_id": self.base.id}, directory / STATE_FILE
        )

    def _evaluate(self, phase: Phase2, x: torch.Tensor, indices: list[int]) -> tuple[dict, float, np.ndarray]:
        return _evaluate(
            phase, x, _truth(self.snapshot, indices), self.snapshot.multi_label, self.recorder.config, self.groups
        )


def _truth(snapshot: Snapshot, indices: list[int]) -> np.ndarray:
    return snapshot.target_matrix(indices) if snapshot.multi_label else snapshot.target_vector(indices)


@torch.no_grad()
def _evaluate(
    phase: Phase2, x: torch.Tensor, truth: np.ndarray, multi: bool, config: TrainConfig, groups: list[str]
) -> tuple[dict, float, np.ndarray]:
    phase.head.eval()
    logits = phase.head(x)
    target = torch.as_tensor(truth, device=x.device)
    loss = float(phase.loss(logits, target.float() if multi else target.long())) if len(x) else 0.0
    scores = phase.loss.scores(logits).cpu().numpy().astype(np.float64)
    phase.head.train()
    result = evaluate(truth, scores, multi_label=multi, target_precision=config.target_precision, groups=groups)
    return result, loss, scores.astype(np.float32)


def train_and_oversample(
    catalog: Catalog | str,
    config: TrainConfig,
    oversampler: OversampleConfig | None = None,
    *,
    cancel: threading.Event | None = None,
    resume: int | None = None,
    runs_dir: str | None = None,
) -> Generator[Event, None, int]:
    """Train the base run, then (when it finished and ``config.oversample`` asks for it) Phase 2 on it; the
    catalog is opened once for both."""
    with open_catalog(catalog) as opened:
        if config.head_only:
            base_id = yield from train_head(opened, config, cancel=cancel, runs_dir=runs_dir)
        else:
            base_id = yield from train(opened, config, cancel=cancel, resume=resume, runs_dir=runs_dir)
        if config.oversample != Oversampler.CONVEX_GAN or not base_id:
            return base_id
        finished = store.get_run(opened, base_id).status == RunStatus.FINISHED
        if not finished or (cancel is not None and cancel.is_set()):
            return base_id
        settings = oversampler or OversampleConfig(device=config.device, seed=config.seed)
        return (yield from oversample(opened, base_id, settings, cancel=cancel, runs_dir=runs_dir, batch=config.batch))


# -- inspection ---------------------------------------------------------------------------------------------------


def synthetic(catalog: Catalog, run_id: int, label: str, *, count: int = 5, top: int = 5, seed: int = 0) -> dict:
    """Synthetic samples of ``label`` regenerated by an oversampled run's generator: for each, the real images it
    mixes (image ids) with their convex weights, largest first (``top`` of them); and per-label counts of the
    synthetic features the classifier was trained on."""
    run = store.get_run(catalog, run_id)
    path = Path(run.directory) / STATE_FILE
    if run.loss != Oversampler.CONVEX_GAN or run.oversampler is None or not path.is_file():
        raise TailorError(f"run {run_id} is not a finished convex-gan run (no {STATE_FILE} in {run.directory})")
    names = [item.name for item in run.labels]
    if label not in names:
        raise TailorError(f"run {run_id} has no label '{label}' (labels: {', '.join(names)})")
    saved = checkpoints.load(path)
    settings = run.oversampler
    device = torch.device("cpu")
    base_model, _base_config, base = load_run_model(catalog, int(saved["base_run_id"]))
    snapshot = store.load_snapshot(catalog, base.id)  # the oversampled run's images are its base's
    all_features = drain(features(catalog, base_model, base, snapshot, device))
    assert all_features is not None  # nothing cancels it
    train_idx = snapshot.indices("train")
    bank = FeatureBank(
        all_features[train_idx],
        [snapshot.targets[i] for i in train_idx],
        len(names),
        dictionary_size=settings.dictionary_size,
        seed=settings.seed,
        multi_label=snapshot.multi_label,
    )
    if not torch.equal(bank.dictionary, saved["dictionary"]):
        raise TailorError(f"the dictionaries of run {run_id} no longer match its base run's features")
    model, config, _ = load_run_model(catalog, run_id)
    phase = Phase2(
        bank, model.head, replace(settings, samples=int(saved["samples"])), cosine=config.cosine_head, device=device
    )
    phase.generator.load_state_dict(saved["generator"])
    _mixed, weights, rows = phase.synthesise(names.index(label), count, seed)
    image_ids = saved["train_image_ids"]
    samples = []
    mixed_per_sample = min(int(saved["samples"]), int(bank.dictionary_counts[names.index(label)]))
    for w, r in zip(weights, rows):  # a label with fewer features than N_s: its unfilled slots have weight 0
        order = torch.argsort(w[:mixed_per_sample], descending=True)[:top]
        samples.append(
            {
                "mixes": [{"image_id": int(image_ids[r[k]]), "weight": round(float(w[k]), 4)} for k in order],
                "weight_sum": round(float(w.sum()), 4),
            }
        )
    return {
        "run_id": run_id,
        "label": label,
        "samples_per_synthetic": mixed_per_sample,
        "weights": settings.weights,
        "synthetic": samples,
        "generated_per_label": dict(zip(names, saved["generated"].tolist())),
        "generator_draws_per_label": dict(zip(names, saved["generator_draws"].tolist())),
    }
