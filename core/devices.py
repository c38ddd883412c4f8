"""Which training devices this machine has. Imports torch, so the window asks in a separate process:
``python -m core.devices`` prints one JSON line ``{"cuda": [names], "mps": bool, "torch": version}``."""

from __future__ import annotations

import json


def detect() -> dict:
    import torch

    cuda = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] \
        if torch.cuda.is_available() else []
    mps = bool(getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available())
    return {"cuda": cuda, "mps": mps, "torch": torch.__version__}


def describe(found: dict) -> str:
    """What the panel shows: the GPU's name, or "CPU"."""
    if found.get("cuda"):
        return f"GPU: {found['cuda'][0]}"
    if found.get("mps"):
        return "GPU: Apple (MPS)"
    return "CPU"


if __name__ == "__main__":
    print(json.dumps(detect()))
