"""The arithmetic a forward pass runs in: bfloat16 autocast with channels_last on CPUs with bfloat16 units
(AVX-512 BF16, AMX), float16 autocast (AMP) on CUDA GPUs, float32 elsewhere.

On this project's 2-core Xeons (AVX-512 BF16) EfficientNet-Lite0 at 128 px runs about 2.8 times faster in bfloat16
than in float32, and a head trained on either's features scores the same (benchmarks/bench_features.py checks it).
``TAILOR_PRECISION=fp32`` (or ``bf16``) overrides the choice; a feature store records the precision its features
were computed in, so features of two precisions never mix.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

import torch

ENV = "TAILOR_PRECISION"
TRAINING_NOTE = "training on a CPU: bfloat16 only when TAILOR_PRECISION=bf16 asks for it"
CHOICES = ("auto", "fp32", "bf16")


@dataclass(frozen=True)
class Precision:
    name: str  # "fp32", "bf16" (CPU autocast), "fp16" (CUDA autocast)
    device_type: str
    reason: str  # why this one, for the user

    @property
    def dtype(self) -> torch.dtype | None:
        return {"bf16": torch.bfloat16, "fp16": torch.float16}.get(self.name)

    @property
    def channels_last(self) -> bool:
        return self.name != "fp32" or self.device_type == "cuda"

    def autocast(self) -> contextlib.AbstractContextManager[object]:
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device_type, dtype=self.dtype)

    def describe(self) -> str:
        what = {"bf16": "bfloat16 autocast", "fp16": "float16 autocast (AMP)", "fp32": "float32"}[self.name]
        layout = ", channels_last" if self.channels_last else ""
        return f"{what}{layout} ({self.reason})"


def cpu_bf16_units() -> str | None:
    """The CPU's bfloat16 units ("AMX", "AVX-512 BF16"), or None."""
    cpu = torch.cpu
    if getattr(cpu, "_is_amx_tile_supported", lambda: False)():
        return "AMX"
    if getattr(cpu, "_is_avx512_bf16_supported", lambda: False)():
        return "AVX-512 BF16"
    return None


def choose(device: torch.device, requested: str | None = None, *, training: bool = False) -> Precision:
    """The precision of a forward pass on ``device`` (``requested``: auto, fp32 or bf16; default: $TAILOR_PRECISION
    or auto). ``training``: whole-network training, where "auto" keeps float32 on a CPU (see TRAINING_NOTE)."""
    requested = (requested or os.environ.get(ENV, "") or "auto").strip().lower()
    if requested not in CHOICES:
        from core.base.errors import TailorError

        raise TailorError(f"{ENV}={requested}: expected one of {', '.join(CHOICES)}")
    kind = device.type
    if requested == "fp32":
        return Precision("fp32", kind, "asked for")
    if kind == "cuda":
        return Precision("fp16", kind, "CUDA GPU")
    if kind != "cpu":
        return Precision("fp32", kind, f"{kind} device")
    units = cpu_bf16_units()
    if requested == "bf16":
        return Precision("bf16", kind, f"asked for; the CPU has {units or 'no bfloat16 units: emulated, slow'}")
    if units is None:
        return Precision("fp32", kind, "the CPU has no bfloat16 units")
    if training:
        return Precision("fp32", kind, TRAINING_NOTE)
    return Precision("bf16", kind, f"the CPU has {units}")
