"""Training: a generator of events that trains one variant on one attribute and records the run in the catalog.

``train(catalog, config)`` yields :mod:`core.events` and returns the run id. The CLI iterates it and draws a
progress bar; the window runs the same generator in a worker thread. Cancel cooperatively with a
``threading.Event`` (checked before every batch) or by closing the generator; either way the run is recorded as
``cancelled`` and its last epoch checkpoint can be resumed (``resume=RUN``).

Optimisation: Adam, or SGD with momentum 0.9 and weight decay; learning rate per epoch with an optional linear
warm-up and a ``step`` schedule (x0.01 at 80% and x0.0001 at 90% of the epochs: the CIFAR-LT protocol's 160/180
of 200) or ``cosine``. On CUDA: automatic mixed precision and channels_last.

Model selection: the metrics shown for a run are the **last** epoch's (its final model, whose test scores are
stored). The **best** epoch is reported beside them, selected on the validation split when the catalog has one,
otherwise on the test set and labelled ``"selected_on": "test"`` (what the literature reports; optimistic).
"""

from __future__ import annotations

import errno
import json
import math
import random
import threading
import time
from collections.abc import Generator
from pathlib import Path

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler

from core import checkpoints, run_lock
from core import distributed as parallel
from core import runs as store
from core.backbones import build_classifier
from core.catalog import Catalog
from core.config import TrainConfig
from core.data import (IMAGENET_MEAN, IMAGENET_STD, Snapshot, SnapshotDataset, augmentation, fits_in_memory,
                       load_cache, take_snapshot)
from core.errors import StorageError, TailorError
from core.events import (BatchProgress, CheckpointSaved, Decoding, EpochFinished, Event, FeatureProgress, Note,
                         RunCancelled,
                         RunFailed, RunFinished, RunStarted)
from core.imbalance import assign_groups
from core.losses import make_loss
from core.metrics import evaluate

PROGRESS_INTERVAL_S = 0.25


def pick_device(name: str) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise TailorError("--device cuda: no CUDA GPU is available here (use --device auto or cpu)")
    if name.startswith("cuda:") and int(name.split(":", 1)[1]) >= torch.cuda.device_count():
        raise TailorError(f"--device {name}: this machine has {torch.cuda.device_count()} CUDA GPU(s), numbered "
                          "from 0")
    if name == "mps" and not (getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()):
        raise TailorError("--device mps: no Apple GPU (MPS) is available here (use --device auto or cpu)")
    return torch.device(name)


def device_label(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return device.type


def lr_factor(config: TrainConfig, epoch: int) -> float:
    """Learning-rate multiplier of a (0-based) epoch: warm-up, then the schedule."""
    if epoch < config.warmup_epochs:
        return (epoch + 1) / config.warmup_epochs
    if config.schedule == "step":  # int(), like LDAM-DRW's deferred re-weighting epoch: 160/180 of 200
        if epoch >= int(0.9 * config.epochs):
            return 1e-4
        if epoch >= int(0.8 * config.epochs):
            return 1e-2
        return 1.0
    if config.schedule == "cosine":
        span = max(1, config.epochs - config.warmup_epochs)
        return 0.5 * (1 + math.cos(math.pi * (epoch - config.warmup_epochs) / span))
    return 1.0


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2 ** 32)
    torch.manual_seed(seed)


class Normaliser:
    """Scales uint8 batches to float and normalises with the ImageNet statistics, on the training device."""

    def __init__(self, device: torch.device, channels_last: bool) -> None:
        self.mean = torch.tensor(IMAGENET_MEAN, device=device).view(1, 3, 1, 1) * 255
        self.std = torch.tensor(IMAGENET_STD, device=device).view(1, 3, 1, 1) * 255
        self.device, self.channels_last = device, channels_last

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        batch = batch.to(self.device, non_blocking=True).float().sub_(self.mean).div_(self.std)
        return batch.contiguous(memory_format=torch.channels_last) if self.channels_last else batch


def _loader(dataset, batch_size: int, *, shuffle: bool, generator, workers: int, pin: bool,
            sampler=None) -> DataLoader:
    extra = {}
    if workers > 0:  # never fork: the window runs Qt threads
        extra = {"num_workers": workers, "multiprocessing_context": "forkserver", "persistent_workers": True}
    # BatchNorm cannot train on a batch of one: drop a trailing single image (it is seen in other epochs)
    n = len(sampler) if sampler is not None else len(dataset)
    drop_last = shuffle and n > batch_size and n % batch_size == 1
    if sampler is not None:  # a DistributedSampler shuffles this process's shard itself
        return DataLoader(dataset, batch_size=batch_size, sampler=sampler, pin_memory=pin, drop_last=drop_last,
                          **extra)
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, generator=generator, pin_memory=pin,
                      drop_last=drop_last, **extra)


def _failure_message(exc: Exception, config: TrainConfig, run_id: int = 0, state: dict | None = None) -> str:
    """One line for a failed run: the user's error as is, a full or read-only disk with what was kept and how to
    go on, out-of-memory with advice, anything else by type."""
    kept = ""
    if run_id and state is not None:
        done, saved = state.get("recorded", 0), state.get("saved", 0)
        if saved:
            kept = (f"; run {run_id} is kept up to epoch {done} and resumes after epoch {saved} (tailor train "
                    f"CATALOG --resume {run_id})")
        elif done:
            kept = f"; run {run_id} is kept up to epoch {done} but has no checkpoint to resume from"
        else:
            kept = f"; run {run_id} is recorded without a finished epoch"
    if isinstance(exc, StorageError):
        return exc.message + kept
    if isinstance(exc, TailorError):
        return exc.message
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EROFS, errno.EDQUOT):
        what = "read-only" if exc.errno == errno.EROFS else "full"
        return f"the disk is {what} writing {exc.filename or 'the run folder'}; free space" + (kept or \
            ", then --resume the run")
    if isinstance(exc, torch.cuda.OutOfMemoryError) or "out of memory" in str(exc).lower():
        return (f"out of GPU memory with batch size {config.batch_size} and image size {config.image_size}; "
                f"try --batch-size {max(1, config.batch_size // 2)} or a smaller --image-size")
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"


def logged(directory: Path, events: Generator[Event, None, None]) -> Generator[Event, None, None]:
    """Pass a run's events on, appending each (but progress) to its ``events.jsonl``."""
    with (directory / "events.jsonl").open("a", encoding="utf-8") as log:
        for event in events:
            if not isinstance(event, (BatchProgress, FeatureProgress)):
                log.write(json.dumps(event.as_dict()) + "\n")
                log.flush()
            yield event


LOCK_WAIT_S = 600  # how long a run waits for another program's write lock on the catalog at an epoch's end


def cancelled_message(state: dict) -> str:
    """Where a run stopped: during an epoch, or after the last one it recorded (stopped while saving it)."""
    epoch, recorded = state["epoch"], state.get("recorded", 0)
    return f"cancelled after epoch {recorded}" if recorded > epoch else f"cancelled during epoch {epoch + 1}"


def record_cancelled(catalog: Catalog, run_id: int, state: dict) -> None:
    """The run's generator was closed or interrupted (Ctrl+C, SIGTERM, the window's Cancel): recorded as
    cancelled with the epoch it reached (best effort: a catalog that cannot be written leaves it to be marked
    interrupted)."""
    if run_id:
        try:
            store.set_status(catalog, run_id, "cancelled", cancelled_message(state))
        except StorageError:
            pass


def record_failed(catalog: Catalog, run_id: int, message: str) -> RunFailed:
    """The failure recorded with the run; when the catalog itself cannot be written (full, read-only, locked) the
    message says so, and the run is marked interrupted the next time the catalog is opened."""
    if run_id:
        try:
            store.set_status(catalog, run_id, "failed", message)
        except StorageError:
            message += "; the catalog could not record this, so the run shows as interrupted once this ends"
    return RunFailed(run_id, message)


def persist(write, run_id: int, what: str, cancel: threading.Event | None) -> Generator[Event, None, None]:
    """``write()`` to the catalog; while another program holds the catalog's write lock, wait and try again (up to
    :data:`LOCK_WAIT_S`), saying so, instead of failing the run. Cancel stops the waiting."""
    started, tries = time.monotonic(), 0
    while True:
        try:
            write()
        except StorageError as exc:
            waited = time.monotonic() - started
            if exc.reason != "locked" or waited > LOCK_WAIT_S or (cancel is not None and cancel.is_set()):
                raise
            if tries % 60 == 0:
                yield Note(run_id, f"another program holds the catalog's write lock; waiting to record {what}")
            tries += 1
            time.sleep(1.0)
            continue
        if tries:
            yield Note(run_id, f"{what} recorded after waiting {time.monotonic() - started:.0f} s for the catalog")
        return


def train(catalog_location: str, config: TrainConfig, *, cancel: threading.Event | None = None,
          resume: int | None = None, runs_dir: str | None = None,
          distributed: bool = False) -> Generator[Event, None, int]:
    """Train ``config`` on the catalog; yields events, returns the run id (see the module docstring).
    ``distributed``: one process of a torchrun group (see core.distributed); rank 0 alone writes."""
    group = parallel.start(config.device) if distributed else None
    if group is not None and not group.main:
        run_id = yield from _follow(catalog_location, group, cancel)
        return run_id
    catalog = Catalog(catalog_location)
    run_id = 0
    state = {"epoch": 0}
    shared = group is None
    try:
        config.validate()
        if resume is not None:
            run = store.get_run(catalog, resume)
            if run.status == "finished":
                raise TailorError(f"run {resume} has finished; nothing to resume")
            config = TrainConfig.from_json(run.config)
            snapshot = store.load_snapshot(catalog, resume)
            directory = store.check_writable_folder(catalog_location, run)
            if not (directory / "checkpoint.pt").is_file():
                raise TailorError(f"run {resume} has no checkpoint in {directory} to resume from")
            run_lock.hold(directory)  # refuses a run another live process is training
            run_id = resume  # from here on a failure is the run's
        else:
            snapshot = take_snapshot(catalog, config.attribute, seed=config.seed,
                                     test_fraction=config.test_fraction)
            config = config.resolved(snapshot.multi_label)
        device = pick_device(config.device)
        if group is not None:
            device = parallel.device_of(group, device)
        seed_everything(config.seed)  # then the model's initial weights, as in _train
        built = build_classifier(config.backbone, len(snapshot.labels), cosine=config.cosine_head,
                                 pretrained=config.pretrained)  # a bad weights file is refused before the run exists
        if resume is None:
            base = Path(runs_dir) if runs_dir else store.default_runs_dir(catalog_location)
            run_id, directory = store.create_run(catalog, config, snapshot, base, device_label(device))
        else:
            store.set_status(catalog, run_id, "running", None)
        if group is not None:
            shared = True
            parallel.share_int(run_id, group)  # the other ranks read the run from the catalog
        yield from logged(directory, _train(catalog, run_id, config, snapshot, device, directory, cancel,
                                            resume is not None, state, group, built))
        return run_id
    except (GeneratorExit, KeyboardInterrupt):  # closed (Cancel), or Ctrl+C / SIGTERM inside a step
        record_cancelled(catalog, run_id, state)
        raise
    except Exception as exc:  # noqa: BLE001 - a failed run is recorded, never a crash
        yield record_failed(catalog, run_id, _failure_message(exc, config, run_id, state))
        return run_id
    finally:
        if not shared:  # failed before the run existed: the other ranks learn it from run id 0
            parallel.share_int(0, group)
        if run_id:
            run_lock.release(directory)
        catalog.close()
        if group is not None:
            parallel.stop()


def _follow(catalog_location: str, group: parallel.Group,
            cancel: threading.Event | None) -> Generator[Event, None, int]:
    """A rank other than 0: train the run rank 0 created (or resumed), writing nothing."""
    try:
        run_id = parallel.share_int(0, group)
        if not run_id:
            raise TailorError("rank 0 could not start the run (its error is on its output)")
        with Catalog(catalog_location) as catalog:
            run = store.get_run(catalog, run_id)
            snapshot = store.load_snapshot(catalog, run_id)
            config = TrainConfig.from_json(run.config)
            device = parallel.device_of(group, pick_device(config.device))
            resuming = run.epochs_done > 0 or (Path(run.directory) / "checkpoint.pt").is_file()
            yield from _train(catalog, run_id, config, snapshot, device, Path(run.directory), cancel, resuming,
                              {"epoch": 0}, group)
        return run_id
    finally:
        parallel.stop()


def _train(catalog: Catalog, run_id: int, config: TrainConfig, snapshot: Snapshot, device: torch.device,
           directory: Path, cancel: threading.Event | None, resuming: bool,
           state: dict, group: parallel.Group | None = None, built=None) -> Generator[Event, None, None]:
    started = time.perf_counter()
    if built is None:  # train() seeds and builds before the run is recorded; the other ranks do it here
        seed_everything(config.seed)
        built = build_classifier(config.backbone, len(snapshot.labels), cosine=config.cosine_head,
                                 pretrained=config.pretrained)
    model, message = built
    multi = snapshot.multi_label
    train_idx, val_idx, test_idx = (snapshot.indices(s) for s in ("train", "val", "test"))
    counts = snapshot.counts("train")
    loss_params = {"iew": {"beta": config.beta}, "focal": {"gamma": config.gamma},
                   "cb-focal": {"gamma": config.gamma, "beta": config.beta},
                   "ldam-drw": {"epochs": config.epochs}}.get(config.loss, {})
    criterion = make_loss(config.loss, counts, multi_label=multi, **loss_params).to(device)
    cuda = device.type == "cuda"
    main = group is None or group.main  # rank 0 alone evaluates and writes
    model.to(device)
    if cuda:
        model.to(memory_format=torch.channels_last)
    net = model  # the plain module: evaluation, checkpoints, the saved model
    if group is not None:
        model = DistributedDataParallel(model, device_ids=[device.index] if cuda else None)
    if config.optimizer == "sgd":
        optimiser = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=0.9,
                                    weight_decay=config.weight_decay)
    else:
        optimiser = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    scaler = torch.amp.GradScaler("cuda", enabled=cuda)
    loader_rng = torch.Generator().manual_seed(config.seed)
    start_epoch, best = 0, None
    checkpoint = directory / "checkpoint.pt"
    if resuming:
        saved = checkpoints.load(checkpoint)
        net.load_state_dict(saved["model"])
        optimiser.load_state_dict(saved["optimizer"])
        scaler.load_state_dict(saved["scaler"])
        torch.set_rng_state(saved["rng"])
        loader_rng.set_state(saved["loader_rng"])
        start_epoch = int(saved["epoch"]) + 1
        best = saved.get("best")  # the model-selection state, on the same split as before the interruption
    state["recorded"] = state["saved"] = start_epoch
    yield RunStarted(run_id, snapshot.attribute, snapshot.kind, config.loss, config.backbone, device_label(device),
                     [label.name for label in snapshot.labels], len(train_idx), len(test_idx), len(val_idx),
                     config.epochs, start_epoch, snapshot.split_source, str(directory),
                     [int(n) for n in counts])
    if message:
        yield Note(run_id, message)

    everything = train_idx + val_idx + test_idx
    cache = None
    if config.cache and fits_in_memory(len(everything), config.image_size):
        decoding = load_cache([snapshot.paths[i] for i in everything], config.image_size)
        while True:
            try:
                done = next(decoding)
            except StopIteration as stop:
                cache = stop.value
                break
            yield Decoding(run_id, done, len(everything))
            if cancel is not None and cancel.is_set():
                store.set_status(catalog, run_id, "cancelled", "cancelled while decoding images")
                yield RunCancelled(run_id, start_epoch)
                return
    row = {i: r for r, i in enumerate(everything)}

    def dataset(indices, transform=None):
        return SnapshotDataset(snapshot, indices, config.image_size, transform, cache,
                               [row[i] for i in indices] if cache is not None else None)

    training_data = dataset(train_idx, augmentation(config.image_size))
    sampler = None if group is None else DistributedSampler(training_data, group.world, group.rank, shuffle=True,
                                                            seed=config.seed)
    train_loader = _loader(training_data, config.batch_size, shuffle=True, generator=loader_rng,
                           workers=0 if cache is not None else config.workers, pin=cuda, sampler=sampler)
    shard = len(sampler) if sampler is not None else len(train_idx)
    test_data, val_data = dataset(test_idx), dataset(val_idx)
    normalise = Normaliser(device, channels_last=cuda)
    groups = assign_groups(counts)
    selection_split = "val" if val_idx else "test"
    selection_key = "macro_ap" if multi else "acsa"
    images_seen, train_seconds = 0, 0.0
    last_eval = None
    for epoch in range(start_epoch, config.epochs):
        state["epoch"] = epoch
        epoch_started = time.perf_counter()
        lr = config.lr * lr_factor(config, epoch)
        for param_group in optimiser.param_groups:
            param_group["lr"] = lr
        criterion.set_epoch(epoch)
        if sampler is not None:
            sampler.set_epoch(epoch)
        model.train()
        total_loss, seen, last_report = 0.0, 0, 0.0
        batches = len(train_loader)
        for batch, (images, targets) in enumerate(train_loader):
            if cancel is not None and cancel.is_set():
                store.set_status(catalog, run_id, "cancelled", f"cancelled during epoch {epoch + 1}")
                yield RunCancelled(run_id, epoch)
                return
            images, targets = normalise(images), targets.to(device, non_blocking=True)
            with torch.autocast(device.type, enabled=cuda):
                loss = criterion(model(images), targets)
            optimiser.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimiser)
            scaler.update()
            total_loss += float(loss.detach()) * len(images)
            seen += len(images)
            now = time.perf_counter()
            if now - last_report >= PROGRESS_INTERVAL_S or batch == batches - 1:
                last_report = now
                elapsed = now - epoch_started
                rate = seen / elapsed if elapsed > 0 else 0.0
                remaining = (shard - seen) + (config.epochs - epoch - 1) * shard
                yield BatchProgress(run_id, epoch, config.epochs, batch + 1, batches, total_loss / seen, rate,
                                    remaining / rate if rate else float("nan"))
        train_seconds += time.perf_counter() - epoch_started
        if group is not None:  # the whole group's loss and images
            total_loss, seen = parallel.sum_floats([total_loss, float(seen)], group)
        images_seen += seen
        if not main:
            parallel.barrier(group)  # wait while rank 0 evaluates and writes the epoch
            continue
        test_eval, test_loss, test_scores = _evaluate(net, criterion, snapshot, test_idx, test_data, config,
                                                      normalise, device, groups)
        selection = test_eval
        if val_idx:
            selection, _, _ = _evaluate(net, criterion, snapshot, val_idx, val_data, config, normalise, device,
                                        groups)
        seconds = time.perf_counter() - epoch_started
        yield from persist(lambda: store.record_epoch(catalog, run_id, epoch, total_loss / seen, test_loss, test_eval,
                                                      seconds), run_id, f"epoch {epoch + 1}", cancel)
        state["recorded"] = epoch + 1
        value = selection.get(selection_key)
        if value is not None and (best is None or value > best["value"]):
            best = {"epoch": epoch, "value": value, "selected_on": selection_split, "key": selection_key}
        yield EpochFinished(run_id, epoch, config.epochs, total_loss / seen, test_loss, lr, seconds, test_eval)
        _save_checkpoint(checkpoint, net, optimiser, scaler, loader_rng, epoch, best)
        state["saved"] = epoch + 1
        yield CheckpointSaved(run_id, epoch, str(checkpoint))
        last_eval = (test_eval, test_scores)
        if group is not None:
            parallel.barrier(group)
    if not main:
        return
    seconds = time.perf_counter() - started
    rate = images_seen / train_seconds if train_seconds else 0.0
    checkpoints.save({k: v.cpu() for k, v in net.state_dict().items()}, directory / "model.pt")
    finished: dict = {}
    yield from persist(lambda: finished.update(store.finish_run(catalog, run_id, snapshot, test_idx, last_eval, best,
                                                                seconds, rate, config.epochs)),
                       run_id, "the run's results", cancel)
    yield RunFinished(run_id, seconds, rate, finished)


@torch.inference_mode()
def _evaluate(model, criterion, snapshot: Snapshot, indices: list[int], data, config: TrainConfig, normalise,
              device: torch.device, groups: list[str]) -> tuple[dict, float, np.ndarray]:
    model.eval()
    loader = DataLoader(data, batch_size=max(256, config.batch_size), shuffle=False)
    scores, losses = [], 0.0
    for images, targets in loader:
        with torch.autocast(device.type, enabled=device.type == "cuda"):
            logits = model(normalise(images)).float()
        losses += float(criterion(logits, targets.to(device))) * len(images)
        probabilities = torch.sigmoid(logits) if snapshot.multi_label else torch.softmax(
            logits * (criterion.s if config.loss.startswith("ldam") else 1.0), dim=1)
        scores.append(probabilities.cpu().numpy())
    scores = np.concatenate(scores).astype(np.float64)
    truth = snapshot.target_matrix(indices) if snapshot.multi_label else snapshot.target_vector(indices)
    result = evaluate(truth, scores, multi_label=snapshot.multi_label, target_precision=config.target_precision,
                      groups=groups)
    return result, losses / max(1, len(indices)), scores.astype(np.float32)


def _save_checkpoint(path: Path, model, optimiser, scaler, loader_rng: torch.Generator, epoch: int,
                     best: dict | None) -> None:
    """Written atomically (see core.checkpoints). ``best`` (plain numbers and strings, fine for ``weights_only``)
    carries model selection across a resume."""
    checkpoints.save({"model": model.state_dict(), "optimizer": optimiser.state_dict(),
                      "scaler": scaler.state_dict(), "rng": torch.get_rng_state(),
                      "loader_rng": loader_rng.get_state(), "epoch": epoch, "best": best}, path)
