"""Structured events of a training run, yielded by :func:`core.training.loop.train`.

The CLI draws a progress bar from them, the window plots them, and each (but batch progress) is appended to the
run's ``events.jsonl``. Every event is a frozen dataclass with ``as_dict()`` (JSON-ready, with ``"event"`` naming
its kind).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields


@dataclass(frozen=True)
class Event:
    run_id: int

    @property
    def kind(self) -> str:
        return _KINDS[type(self)]

    def as_dict(self) -> dict:
        """The fields as they are (plain values, lists and dicts: JSON-ready without ``asdict``'s deep copy, which
        cost a head-only run a second copying every epoch's PR curves)."""
        return {"event": self.kind, **{f.name: getattr(self, f.name) for f in fields(self)}}


@dataclass(frozen=True)
class RunStarted(Event):
    attribute: str
    kind_of_attribute: str
    loss: str
    backbone: str
    device: str
    labels: list[str]
    train_images: int
    test_images: int
    val_images: int
    epochs: int
    start_epoch: int
    split_source: str
    directory: str
    train_counts: list[int] = field(default_factory=list)  # training images per label, in label order


@dataclass(frozen=True)
class Note(Event):
    message: str


@dataclass(frozen=True)
class Decoding(Event):
    done: int
    total: int


@dataclass(frozen=True)
class BatchProgress(Event):
    epoch: int
    epochs: int
    batch: int
    batches: int
    loss: float
    images_per_second: float
    eta_seconds: float


@dataclass(frozen=True)
class EpochFinished(Event):
    epoch: int
    epochs: int
    train_loss: float
    test_loss: float
    lr: float
    seconds: float
    metrics: dict = field(repr=False)  # core.analysis.metrics.evaluate() on the test set, PR points included
    trained: bool = True  # False for a post-hoc run: no losses, learning rate or speed were measured


@dataclass(frozen=True)
class CheckpointSaved(Event):
    epoch: int
    path: str


@dataclass(frozen=True)
class RunFinished(Event):
    seconds: float
    images_per_second: float
    summary: dict


@dataclass(frozen=True)
class RunFailed(Event):
    message: str


@dataclass(frozen=True)
class RunCancelled(Event):
    epoch: int


@dataclass(frozen=True)
class FeatureProgress(Event):
    """A feature pass (core.features): images of ``total`` done so far; ``cached`` of them were already stored."""

    done: int
    total: int
    cached: int = 0


@dataclass(frozen=True)
class WeightsDownload(Event):
    """Pretrained weights being downloaded (core.training.weights): bytes done of ``total`` (0: unknown)."""

    done: int
    total: int
    url: str
    path: str


@dataclass(frozen=True)
class GanEpoch(Event):
    """Phase 2 of the GAN oversampler: the epoch's mean losses of the classifier Q, discriminator D, generator G."""

    epoch: int
    q_loss: float
    d_loss: float
    g_loss: float
    generated: list[int] = field(default_factory=list)  # synthetic features Q was trained on so far, per label


_KINDS = {
    RunStarted: "started",
    Note: "note",
    Decoding: "decoding",
    BatchProgress: "batch",
    EpochFinished: "epoch",
    CheckpointSaved: "checkpoint",
    RunFinished: "finished",
    RunFailed: "failed",
    RunCancelled: "cancelled",
    FeatureProgress: "features",
    WeightsDownload: "download",
    GanEpoch: "gan-epoch",
}
