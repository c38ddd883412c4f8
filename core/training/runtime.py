"""Where and how a run computes: choosing the device, naming it, seeding every generator, and scaling uint8 batches
to normalised floats on the device. Shared by training and the oversampler."""

from __future__ import annotations

import random

import numpy as np
import torch

from core.base.errors import TailorError
from core.config import device_problem
from core.training.dataset import IMAGENET_MEAN, IMAGENET_STD


def pick_device(name: str) -> torch.device:
    if (problem := device_problem(name)) is not None:
        raise TailorError(problem)
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise TailorError("--device cuda: no CUDA GPU is available here (use --device auto or cpu)")
    if name.startswith("cuda:") and int(name.split(":", 1)[1]) >= torch.cuda.device_count():
        raise TailorError(f"--device {name}: this machine has {torch.cuda.device_count()} CUDA GPU(s), numbered from 0")
    if name == "mps" and not (getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()):
        raise TailorError("--device mps: no Apple GPU (MPS) is available here (use --device auto or cpu)")
    return torch.device(name)


def device_label(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return device.type


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


class Normaliser:
    """Scales uint8 batches to float and normalises them (ImageNet's statistics unless given), on the device."""

    def __init__(
        self,
        device: torch.device,
        channels_last: bool,
        mean: tuple[float, ...] = IMAGENET_MEAN,
        std: tuple[float, ...] = IMAGENET_STD,
    ) -> None:
        self.mean = torch.tensor(mean, device=device).view(1, 3, 1, 1) * 255
        self.std = torch.tensor(std, device=device).view(1, 3, 1, 1) * 255
        self.device, self.channels_last = device, channels_last

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        batch = batch.to(self.device, non_blocking=True).float().sub_(self.mean).div_(self.std)
        return batch.contiguous(memory_format=torch.channels_last) if self.channels_last else batch
