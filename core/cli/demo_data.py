"""CIFAR-10's own archive for ``tailor demo --dataset cifar10-lt``, through torchvision (kept out of
``core.ingest``, which never imports torch): downloaded, or given with ``--from`` and checked against the published
MD5 before torchvision reads its batches (pickles: only the genuine files are ever unpickled, and by torchvision);
the images are written out as a ``train|test/<class>/`` tree of PNG files for :mod:`core.ingest.cifar_demo`."""

from __future__ import annotations

import shutil
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


def is_python_archive(archive: Path) -> bool:
    import tarfile

    try:
        with tarfile.open(archive) as tar:
            return any(name.startswith("cifar-10-batches-py") for name in tar.getnames())
    except (tarfile.TarError, OSError, EOFError):
        return False


def python_archive_tree(archive: Path, folder: Path) -> Path:
    """The ``train|test/<class>/`` tree of CIFAR-10's genuine Python archive (refused unless its MD5 is the
    published one), written once."""
    from torchvision.datasets import CIFAR10
    from torchvision.datasets.utils import check_integrity, extract_archive

    tree = folder / "cifar10"
    if (tree / "train").is_dir() and (tree / "test").is_dir():
        return tree
    if not check_integrity(str(archive), CIFAR10.tgz_md5):
        raise TailorError(
            f"--from {archive}: not CIFAR-10's published archive (its MD5 differs); download it again from {URL}"
        )
    root = folder / "download"
    root.mkdir(parents=True, exist_ok=True)
    extract_archive(str(archive), str(root))
    for split, train in (("train", True), ("test", False)):
        data = CIFAR10(str(root), train=train, download=False)  # checks every batch's MD5 before reading it
        for n, (image, label) in enumerate(data):
            target = tree / split / data.classes[label] / f"{n:05d}.png"
            target.parent.mkdir(parents=True, exist_ok=True)
            image.save(target)
    shutil.rmtree(root / CIFAR10.base_folder, ignore_errors=True)
    return tree
