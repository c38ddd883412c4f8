"""Training configuration without torch: what the CLI's argument parser and the window's training panel need.

``TrainConfig`` (every option of a run, recorded as JSON with the run), the variant and backbone names, and the
defaults for a device: on a CPU small enough to finish a first run on the demo catalog in about two minutes, on a
GPU the source paper's setting (DenseNet-121, 224 px, ImageNet weights when present). Nothing here imports torch,
so the window can show the panel without it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields

from core.errors import TailorError

LOSSES = ("nw", "ifw", "isw", "iew", "focal", "cb-focal", "ldam", "ldam-drw")
SINGLE_LABEL_ONLY = ("ldam", "ldam-drw")
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
        checks = [
            (self.loss in LOSSES, f"unknown loss '{self.loss}' (expected one of {', '.join(LOSSES)})"),
            (self.backbone in BACKBONES, f"unknown backbone '{self.backbone}' (expected one of {', '.join(BACKBONES)})"),
            (self.optimizer in ("adam", "sgd"), f"unknown optimizer '{self.optimizer}' (adam or sgd)"),
            (self.schedule in (None, "constant", "step", "cosine"), f"unknown schedule '{self.schedule}'"),
            (self.epochs >= 1, "epochs must be at least 1"),
            (self.batch_size >= 1, "batch size must be at least 1"),
            (16 <= self.image_size <= 1024, "image size must be between 16 and 1024"),
            (self.lr is None or self.lr > 0, "learning rate must be positive"),
            (0 <= self.beta < 1, "beta must be in [0, 1)"),
            (self.device in ("auto", "cpu", "cuda", "mps") or self.device.startswith("cuda:"),
             f"unknown device '{self.device}' (auto, cpu, cuda, cuda:N or mps)"),
            (0 < self.test_fraction < 1, "test fraction must be between 0 and 1"),
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

