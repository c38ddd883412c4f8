"""Training configuration without torch: what the CLI's argument parser and the window's training panel need.

``TrainConfig`` (every option of a run, recorded as JSON with the run), the variant and backbone names, and the
defaults for a device: on a CPU small enough to finish a first run on the demo catalog in about two minutes, on a
GPU the source paper's setting (DenseNet-121, 224 px, ImageNet weights when present). Nothing here imports torch,
so the window can show the panel without it.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields

from core.errors import TailorError

LOSSES = ("nw", "ifw", "isw", "iew", "focal", "cb-focal", "ldam", "ldam-drw")
SINGLE_LABEL_ONLY = ("ldam", "ldam-drw")
OVERSAMPLERS = ("convex-gan",)
HEAD_LOSSES = ("mse", "focal", "ldam")
BACKBONES = ("densenet121", "resnet18", "resnet50", "vgg16", "mobilenet_v3_small", "efficientnet_b0",
             "resnet32-cifar")


@dataclass
class TrainConfig:
    attribute: str
    loss: str = "nw"
    backbone: str = "resnet18"
    pretrained: str | None = None  # None, "imagenet" or a state-dict file
    epochs: int = 10
    batch_size: int = 64
    lr: float | None = None  # None: Adam 1e-3 (pretrained: 1e-4 multi-label, 1e-5 single-label); SGD 0.1
    optimizer: str = "adam"  # "adam" | "sgd"
    weight_decay: float | None = None  # None: SGD 2e-4, Adam 0
    schedule: str | None = None  # "constant" | "step" | "cosine"; None: step for SGD, constant for Adam
    warmup_epochs: int | None = None  # None: 5 for SGD when epochs >= 20, else 0
    image_size: int = 32
    beta: float = 0.99  # iew / cb-focal
    gamma: float = 2.0  # focal / cb-focal
    device: str = "auto"
    seed: int = 0
    workers: int = 0  # DataLoader worker processes when images are not cached (forkserver)
    cache: bool = True  # decode once into memory when the images fit (4 GB)
    test_fraction: float = 0.1
    target_precision: float = 0.6
    oversample: str | None = None  # "convex-gan": after training, Phase 2 of the GAN oversampler (a second run)
    base_loss: str | None = None  # an oversampled run's record: the loss its base run was trained with

    @property
    def cosine_head(self) -> bool:
        """LDAM and LDAM-DRW runs (and runs oversampled from them) have a cosine head."""
        return (self.base_loss or self.loss).startswith("ldam")

    @classmethod
    def from_json(cls, text: str) -> TrainConfig:
        data = json.loads(text)
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})

    def resolved(self, multi_label: bool) -> TrainConfig:
        """The configuration with every default made explicit (what the run records)."""
        c = TrainConfig(**asdict(self))
        if c.lr is None:
            c.lr = 0.1 if c.optimizer == "sgd" else (1e-3 if not c.pretrained else 1e-4 if multi_label else 1e-5)
        if c.weight_decay is None:
            c.weight_decay = 2e-4 if c.optimizer == "sgd" else 0.0
        if c.schedule is None:
            c.schedule = "step" if c.optimizer == "sgd" else "constant"
        if c.warmup_epochs is None:
            c.warmup_epochs = 5 if c.optimizer == "sgd" and c.epochs >= 20 else 0
        return c

    def validate(self) -> None:
        """Every option checked before a run is recorded: one line naming the option when one is wrong."""
        checks = [
            (self.loss in LOSSES, f"unknown loss '{self.loss}' (expected one of {', '.join(LOSSES)})"),
            (self.backbone in BACKBONES, f"unknown backbone '{self.backbone}' (expected one of {', '.join(BACKBONES)})"),
            (self.optimizer in ("adam", "sgd"), f"unknown optimizer '{self.optimizer}' (adam or sgd)"),
            (self.schedule in (None, "constant", "step", "cosine"), f"unknown schedule '{self.schedule}'"),
            (1 <= self.epochs <= 100_000, "epochs must be at least 1 (and at most 100,000)"),
            (2 <= self.batch_size <= 1_000_000, "batch size must be at least 2 (BatchNorm cannot train on one image "
                                                "at a time)"),
            (16 <= self.image_size <= 1024, "image size must be between 16 and 1024"),
            (self.lr is None or (math.isfinite(self.lr) and 0 < self.lr <= 100), "--lr must be a positive number "
                                                                                 "(at most 100)"),
            (self.weight_decay is None or (math.isfinite(self.weight_decay) and self.weight_decay >= 0),
             "--weight-decay must be a number >= 0"),
            (self.warmup_epochs is None or 0 <= self.warmup_epochs <= self.epochs,
             "--warmup-epochs must be between 0 and --epochs"),
            (math.isfinite(self.beta) and 0 <= self.beta < 1, "--beta must be in [0, 1)"),
            (math.isfinite(self.gamma) and 0 <= self.gamma <= 100, "--gamma must be a number in [0, 100]"),
            (0 <= self.seed < 2 ** 63, "--seed must be between 0 and 2^63 - 1"),
            (0 <= self.workers <= 256, "--workers must be between 0 and 256"),
            (self.device in ("auto", "cpu", "cuda", "mps") or (self.device.startswith("cuda:")
                                                               and self.device[5:].isdigit()),
             f"unknown device '{self.device}' (auto, cpu, cuda, cuda:N or mps)"),
            (0 < self.test_fraction < 1, "test fraction must be between 0 and 1"),
            (math.isfinite(self.target_precision) and 0 < self.target_precision <= 1,
             "target precision must be in (0, 1]"),
            (self.oversample in (None,) + OVERSAMPLERS,
             f"unknown oversampler '{self.oversample}' (expected {', '.join(OVERSAMPLERS)})"),
        ]
        for ok, message in checks:
            if not ok:
                raise TailorError(message)


def defaults_for(device: str, attribute: str = "") -> TrainConfig:
    """Panel defaults: ``device`` is ``"cpu"`` or a GPU kind (``"cuda"``, ``"mps"``)."""
    if device == "cpu":
        # well inside two minutes for the 351-image demo catalog on 2 cores (benchmarks/bench_training_window.py)
        return TrainConfig(attribute=attribute, backbone="resnet18", epochs=10, batch_size=32, image_size=64,
                           device="cpu")
    return TrainConfig(attribute=attribute, backbone="densenet121", pretrained="imagenet", epochs=30,
                       batch_size=32, image_size=224, device="auto")


@dataclass
class OversampleConfig:
    """Phase 2 of the convex-GAN oversampler (see core.oversampling); defaults are the source paper's."""

    dictionary_size: int = 2000  # features per class kept in its dictionary (all when fewer)
    samples: int | None = None  # N_s, features mixed per synthetic one; None: min(100, smallest class - 1)
    noise: int = 256  # size of z
    weights: str = "per-feature"  # or "per-dimension" (one weight per sampled feature and feature dimension)
    lam: float = 1e3  # weight of the discriminator term in G's loss
    head_loss: str = "mse"  # loss of the classifier Q: mse (the paper's baseline), focal or ldam
    epochs: int = 10
    iterations: int | None = None  # per epoch; None: enough for C x N_max samples (one balanced pass)
    batch_size: int = 256
    lr: float = 5e-5
    lr_late: float = 1e-5  # after decay_after epochs
    head_lr: float | None = 1e-3  # Q's rate (decayed alike); None: lr, the paper's (see core.oversampling)
    decay_after: int = 3
    d_every: int = 5  # D is updated every d_every-th iteration
    second_run: int | None = None  # two streams: this run's backbone features are concatenated to the base's
    seed: int = 0
    device: str = "auto"

    def validate(self) -> None:
        checks = [
            (self.dictionary_size >= 2, "dictionary size must be at least 2"),
            (self.samples is None or self.samples >= 1, "samples per synthetic feature must be at least 1"),
            (self.weights in ("per-feature", "per-dimension"), f"unknown weights '{self.weights}' "
                                                               "(per-feature or per-dimension)"),
            (self.head_loss in HEAD_LOSSES, f"unknown head loss '{self.head_loss}' (expected "
                                            f"{', '.join(HEAD_LOSSES)})"),
            (self.epochs >= 1, "epochs must be at least 1"),
            (self.iterations is None or self.iterations >= 1, "iterations must be at least 1"),
            (self.batch_size >= 2, "batch size must be at least 2"),
            (all(math.isfinite(v) and v > 0 for v in (self.lr, self.lr_late, self.head_lr or 1.0)),
             "learning rates must be positive numbers"),
            (math.isfinite(self.lam) and self.lam >= 0, "--lam must be a number >= 0"),
            (0 <= self.seed < 2 ** 63, "--seed must be between 0 and 2^63 - 1"),
            (self.d_every >= 1, "d-every must be at least 1"),
            (self.noise >= 1, "noise size must be at least 1"),
        ]
        for ok, message in checks:
            if not ok:
                raise TailorError(message)
