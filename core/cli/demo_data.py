"""Downloading sample data for ``tailor demo --dataset cifar10-lt`` through torchvision (kept out of
``core.ingest``, which never imports torch)."""

from __future__ import annotations

from pathlib import Path

from core.base.errors import TailorError
from core.ingest.cifar_demo import URL


def download(folder: Path) -> Path:
    """CIFAR-10's Python archive through torchvision (checked by its MD5); one line naming what to fetch offline."""
    from torchvision.datasets import CIFAR10

    target: Path = folder / str(CIFAR10.filename)
    if target.is_file():
        return target
    try:
        CIFAR10(str(folder), train=True, download=True)
    except Exception as exc:  # urllib, SSL, socket: every way of being offline
        raise TailorError(
            f"cannot download CIFAR-10 ({type(exc).__name__}: offline?): fetch {URL} (163 MB) on a machine with "
            "internet, then tailor demo --dataset cifar10-lt --from cifar-10-python.tar.gz"
        ) from None
    return target
