"""The convex-GAN oversampler as a run: Phase 1 (features of a trained run) and Phase 2 (core.oversampling).

``oversample(catalog, base_run_id, config)`` is a generator of :mod:`core.events` like ``core.training.train``:
it records a new run (loss ``convex-gan``, ``base_run_id`` set, same images and split as the base) whose final
model is the base run's backbone with the fine-tuned head, so metrics, comparison, review and export treat it like
any other run. ``train_and_oversample`` trains the base run first (``tailor train --oversample convex-gan``).

Phase 1 passes every image of the base run's snapshot once through its frozen backbone (no augmentation) and
caches the features in the base run's folder (``features.pt``, float16, keyed by the model file's size and time
and the image size), so Phase 2 can be re-run cheaply. The oversampled run keeps G, D, Q and the dictionaries in
``oversampler.pt``; :func:`synthetic` regenerates samples of a label with their convex weights over real images.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Generator
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from core import checkpoints, run_lock
from core import runs as store
from core.catalog import Catalog
from core.config import OversampleConfig, TrainConfig
from core.data import Snapshot, SnapshotDataset, load_cache
from core.errors import TailorError
from core.events import (BatchProgress, EpochFinished, Event, FeatureProgress, GanEpoch, Note, RunCancelled,
                         RunFinished, RunStarted)
from core.export import load_run_model
from core.imbalance import assign_groups
from core.metrics import evaluate
from core.oversampling import FeatureBank, Phase2
from core.training import (Normaliser, _failure_message, device_label, logged, pick_device, record_cancelled,
                           record_failed, train)

FEATURES_FILE, STATE_FILE = "features.pt", "oversampler.pt"


# -- Phase 1 ------------------------------------------------------------------------------------------------------

def _stamp(path: Path) -> list[int]:
    stat = path.stat()
    return [stat.st_size, stat.st_mtime_ns]


def _result(generator: Generator):
    """Run a generator to its end, dropping what it yields; its return value."""
    while True:
        try:
            next(generator)
        except StopIteration as stop:
            return stop.value


def features(model, config: TrainConfig, run, snapshot: Snapshot, device: torch.device, *, run_id: int = 0,
             batch_size: int = 256) -> Generator[Event, None, torch.Tensor]:
    """Features (N x D, float32, in snapshot order) of every image of a finished run (``model``, ``config`` and
    ``run`` as ``load_run_model`` gives them, ``snapshot`` its images), cached in its folder."""
    cache_file = Path(run.directory) / FEATURES_FILE
    key = {"stamp": _stamp(Path(run.directory) / "model.pt"), "image_size": config.image_size,
           "images": len(snapshot.image_ids)}
    if cache_file.is_file():
        saved = checkpoints.load(cache_file)
        if json.loads(saved["key"]) == key:
            yield FeatureProgress(run_id, len(snapshot.image_ids), len(snapshot.image_ids), cached=True)
            return saved["features"].float()
    everything = list(range(len(snapshot.image_ids)))
    pixels = _result(load_cache(snapshot.paths, config.image_size))
    data = SnapshotDataset(snapshot, everything, config.image_size, None, pixels, everything)
    normalise = Normaliser(device, channels_last=False)
    model.to(device).eval()
    chunks, done = [], 0
    with torch.inference_mode():
        for images, _targets in DataLoader(data, batch_size=batch_size, shuffle=False):
            chunks.append(model.features(normalise(images)).float().cpu())
            done += len(images)
            yield FeatureProgress(run_id, done, len(everything))
    result = torch.cat(chunks)
    checkpoints.save({"key": json.dumps(key), "features": result.half()}, cache_file)
    return result


# -- Phase 2 as a run ---------------------------------------------------------------------------------------------

def oversample(catalog_location: str, base_run_id: int, config: OversampleConfig, *,
               cancel: threading.Event | None = None, runs_dir: str | None = None) -> Generator[Event, None, int]:
    """Record and run Phase 2 on a finished run; yields events, returns the new run's id."""
    catalog = Catalog(catalog_location)
    run_id, state, run_config = 0, {"epoch": 0}, None
    try:
        config.validate()
        base = store.get_run(catalog, base_run_id)
        if base.status != "finished":
            raise TailorError(f"run {base_run_id} is {base.status}; the oversampler needs a finished run")
        base_config = TrainConfig.from_json(base.config)
        snapshot = store.load_snapshot(catalog, base_run_id)
        device = pick_device(config.device)
        run_config = replace(base_config, loss="convex-gan", oversample=None,
                             base_loss=base_config.base_loss or base_config.loss, epochs=config.epochs,
                             batch_size=config.batch_size, lr=config.lr, seed=config.seed)
        base_dir = Path(runs_dir) if runs_dir else store.default_runs_dir(catalog_location)
        run_id, directory = store.create_run(catalog, run_config, snapshot, base_dir, device_label(device),
                                             base_run_id=base_run_id, extra={"oversampler": asdict(config)})
        yield from logged(directory, _oversample(catalog, catalog_location, run_id, base, run_config, config,
                                                 snapshot, device, directory, cancel, state))
        return run_id
    except (GeneratorExit, KeyboardInterrupt):  # closed (Cancel), or Ctrl+C / SIGTERM inside a step
        record_cancelled(catalog, run_id, state)
        raise
    except Exception as exc:  # noqa: BLE001 - a failed run is recorded, never a crash
        yield record_failed(catalog, run_id, _failure_message(exc, run_config or TrainConfig(attribute=""), run_id,
                                                              state))
        return run_id
    finally:
        if run_id:
            run_lock.release(directory)
        catalog.close()


def _oversample(catalog: Catalog, location: str, run_id: int, base, run_config: TrainConfig,
                config: OversampleConfig, snapshot: Snapshot, device: torch.device, directory: Path,
                cancel: threading.Event | None, state: dict) -> Generator[Event, None, None]:
    started = time.perf_counter()
    multi = snapshot.multi_label
    train_idx, val_idx, test_idx = (snapshot.indices(s) for s in ("train", "val", "test"))
    counts = snapshot.counts("train")
    yield RunStarted(run_id, snapshot.attribute, snapshot.kind, "convex-gan", run_config.backbone,
                     device_label(device), [label.name for label in snapshot.labels], len(train_idx), len(test_idx),
                     len(val_idx), config.epochs, 0, snapshot.split_source, str(directory), [int(n) for n in counts])
    yield Note(run_id, f"Phase 1: features of run {base.id} ({base.loss} · {base.backbone})")
    model, base_config, base = load_run_model(location, base.id)
    all_features = yield from features(model, base_config, base, snapshot, device, run_id=run_id)
    if cancel is not None and cancel.is_set():
        store.set_status(catalog, run_id, "cancelled", "cancelled while extracting features")
        yield RunCancelled(run_id, 0)
        return
    bank = FeatureBank(all_features[train_idx], [snapshot.targets[i] for i in train_idx], len(snapshot.labels),
                       dictionary_size=config.dictionary_size, seed=config.seed, multi_label=multi)
    phase = Phase2(bank, model.head, config, cosine=run_config.cosine_head, device=device)
    yield Note(run_id, f"Phase 2: N_s = {phase.samples} features per synthetic sample ({config.weights} weights), "
                       f"{phase.iterations} iterations per epoch of batch {config.batch_size}")
    groups = assign_groups(counts)
    test_x, val_x = all_features[test_idx].to(device), all_features[val_idx].to(device)
    truth = {"test": _truth(snapshot, test_idx), "val": _truth(snapshot, val_idx)}
    selection_split, selection_key = ("val" if val_idx else "test"), ("macro_ap" if multi else "acsa")
    best, last_eval, epoch_started, iterations_done = None, None, time.perf_counter(), 0
    stop = (lambda: cancel is not None and cancel.is_set())
    for step in phase.run(should_stop=stop):
        state["epoch"] = step.epoch
        elapsed = time.perf_counter() - epoch_started
        rate = step.iteration * config.batch_size / elapsed if elapsed > 0 else 0.0
        left = (phase.iterations - step.iteration + (config.epochs - step.epoch - 1) * phase.iterations)
        yield BatchProgress(run_id, step.epoch, config.epochs, step.iteration, step.iterations, step.q_loss, rate,
                            left * config.batch_size / rate if rate else float("nan"))
        if not step.epoch_done:
            continue
        iterations_done += step.iterations
        test_eval, test_loss, test_scores = _evaluate(phase, test_x, truth["test"], multi, run_config, groups)
        selection = test_eval
        if val_idx:
            selection, _, _ = _evaluate(phase, val_x, truth["val"], multi, run_config, groups)
        seconds = time.perf_counter() - epoch_started
        store.record_epoch(catalog, run_id, step.epoch, step.q_loss, test_loss, test_eval, seconds)
        value = selection.get(selection_key)
        if value is not None and (best is None or value > best["value"]):
            best = {"epoch": step.epoch, "value": value, "selected_on": selection_split, "key": selection_key}
        yield GanEpoch(run_id, step.epoch, step.q_loss, step.d_loss, step.g_loss, phase.generated.tolist())
        yield EpochFinished(run_id, step.epoch, config.epochs, step.q_loss, test_loss,
                            phase.optimisers["q"].param_groups[0]["lr"], seconds, test_eval)
        last_eval = (test_eval, test_scores)
        epoch_started = time.perf_counter()
    if stop():
        store.set_status(catalog, run_id, "cancelled", f"cancelled during epoch {state['epoch'] + 1}")
        yield RunCancelled(run_id, state["epoch"])
        return
    seconds = time.perf_counter() - started
    rate = iterations_done * config.batch_size / seconds if seconds else 0.0
    summary = store.finish_run(catalog, run_id, snapshot, test_idx, last_eval, best, seconds, rate, config.epochs)
    model.head = phase.head
    checkpoints.save({k: v.cpu() for k, v in model.state_dict().items()}, directory / "model.pt")
    checkpoints.save({**phase.state(), "train_image_ids": torch.tensor([snapshot.image_ids[i] for i in train_idx]),
                      "base_run_id": base.id}, directory / STATE_FILE)
    yield RunFinished(run_id, seconds, rate, summary)


def _truth(snapshot: Snapshot, indices: list[int]) -> np.ndarray:
    return snapshot.target_matrix(indices) if snapshot.multi_label else snapshot.target_vector(indices)


@torch.no_grad()
def _evaluate(phase: Phase2, x: torch.Tensor, truth: np.ndarray, multi: bool, config: TrainConfig,
              groups: list[str]) -> tuple[dict, float, np.ndarray]:
    phase.head.eval()
    logits = phase.head(x)
    target = torch.as_tensor(truth, device=x.device)
    loss = float(phase.loss(logits, target.float() if multi else target.long())) if len(x) else 0.0
    scores = phase.loss.scores(logits).cpu().numpy().astype(np.float64)
    phase.head.train()
    result = evaluate(truth, scores, multi_label=multi, target_precision=config.target_precision, groups=groups)
    return result, loss, scores.astype(np.float32)


def train_and_oversample(catalog_location: str, config: TrainConfig, oversampler: OversampleConfig | None = None,
                         *, cancel: threading.Event | None = None, resume: int | None = None,
                         runs_dir: str | None = None) -> Generator[Event, None, int]:
    """Train the base run, then (when it finished and ``config.oversample`` asks for it) Phase 2 on it."""
    base_id = yield from train(catalog_location, config, cancel=cancel, resume=resume, runs_dir=runs_dir)
    if config.oversample != "convex-gan" or not base_id:
        return base_id
    with Catalog(catalog_location) as catalog:
        finished = store.get_run(catalog, base_id).status == "finished"
    if not finished or (cancel is not None and cancel.is_set()):
        return base_id
    settings = oversampler or OversampleConfig(device=config.device, seed=config.seed)
    return (yield from oversample(catalog_location, base_id, settings, cancel=cancel, runs_dir=runs_dir))


# -- inspection ---------------------------------------------------------------------------------------------------

def synthetic(catalog_location: str, run_id: int, label: str, *, count: int = 5, top: int = 5,
              seed: int = 0) -> dict:
    """Synthetic samples of ``label`` regenerated by an oversampled run's generator: for each, the real images it
    mixes (image ids) with their convex weights, largest first (``top`` of them); and per-label counts of the
    synthetic features the classifier was trained on."""
    with Catalog(catalog_location) as catalog:
        run = store.get_run(catalog, run_id)
    path = Path(run.directory) / STATE_FILE
    if run.loss != "convex-gan" or not path.is_file():
        raise TailorError(f"run {run_id} is not a finished convex-gan run (no {STATE_FILE} in {run.directory})")
    names = [item["name"] for item in run.labels]
    if label not in names:
        raise TailorError(f"run {run_id} has no label '{label}' (labels: {', '.join(names)})")
    saved = checkpoints.load(path)
    settings = OversampleConfig(**json.loads(run.config)["oversampler"])
    device = torch.device("cpu")
    base_model, base_config, base = load_run_model(catalog_location, int(saved["base_run_id"]))
    with Catalog(catalog_location) as catalog:
        snapshot = store.load_snapshot(catalog, base.id)  # the oversampled run's images are its base's
    all_features = _result(features(base_model, base_config, base, snapshot, device))
    train_idx = snapshot.indices("train")
    bank = FeatureBank(all_features[train_idx], [snapshot.targets[i] for i in train_idx], len(names),
                       dictionary_size=settings.dictionary_size, seed=settings.seed, multi_label=snapshot.multi_label)
    if not torch.equal(bank.dictionary, saved["dictionary"]):
        raise TailorError(f"the dictionaries of run {run_id} no longer match its base run's features")
    model, config, _ = load_run_model(catalog_location, run_id)
    phase = Phase2(bank, model.head, replace(settings, samples=int(saved["samples"])),
                   cosine=config.cosine_head, device=device)
    phase.generator.load_state_dict(saved["generator"])
    _mixed, weights, rows = phase.synthesise(names.index(label), count, seed)
    image_ids = saved["train_image_ids"]
    samples = []
    for w, r in zip(weights, rows):
        order = torch.argsort(w, descending=True)[:top]
        samples.append({"mixes": [{"image_id": int(image_ids[r[k]]), "weight": round(float(w[k]), 4)}
                                  for k in order], "weight_sum": round(float(w.sum()), 4)})
    return {"run_id": run_id, "label": label, "samples_per_synthetic": int(saved["samples"]),
            "weights": settings.weights, "synthetic": samples,
            "generated_per_label": dict(zip(names, saved["generated"].tolist())),
            "generator_draws_per_label": dict(zip(names, saved["generator_draws"].tolist()))}
