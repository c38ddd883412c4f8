"""Which training devices this machine has. Imports torch, so the window asks in a separate process:
``python`` + :func:`probe_arguments` prints one JSON line ``{"cuda": [names], "mps": bool, "torch": version}``.

The process starts in isolated mode (``-I``: no current folder, ``PYTHON*`` variables or user site on the path)
and imports this package from the folder it was itself imported from, so a ``core/devices.py`` in whatever
folder Tailor was started from never runs (``python -m`` would put that folder first on the path).
"""

from __future__ import annotations

import json
from pathlib import Path


def detect() -> dict:
    import torch

    cuda = (
        [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] if torch.cuda.is_available() else []
    )
    mps = bool(getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available())
    return {"cuda": cuda, "mps": mps, "torch": torch.__version__}


def describe(found: dict) -> str:
    """What the panel shows: the GPU's name, or "CPU"."""
    if found.get("cuda"):
        return f"GPU: {found['cuda'][0]}"
    if found.get("mps"):
        return "GPU: Apple (MPS)"
    return "CPU"


def probe_arguments() -> list[str]:
    """Arguments for ``sys.executable`` that print :func:`detect`'s JSON (see the module docstring)."""
    root = str(Path(__file__).resolve().parents[2])  # the folder holding core/
    return ["-I", "-c", f"import sys; sys.path.insert(0, {root!r}); import core.training.devices as d; d.main()"]


def main() -> None:
    print(json.dumps(detect()))


if __name__ == "__main__":
    main()
