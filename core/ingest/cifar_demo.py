"""Sample data as a command: CIFAR-10-LT (Cui et al. 2019; Cao et al. 2019) as a Tailor catalog.

The training split keeps n_i = n_max x (1 / ratio) ^ (i / 9) images of class i (the first files of each class, in
file-name order; ratio 100 over CIFAR-10: 5,000, 2,997, ..., 50 = 12,406), the test split all of CIFAR-10's balanced
test images; ``with_unlabeled`` imports the other training images without a label (what Label next and the map
find rare images among).

The images come from a tar archive of ``train|test/<class>/<image>`` files (this module), or from CIFAR-10's own
Python archive (``cifar-10-python.tar.gz``), which :mod:`core.cli.demo_data` checks against its published MD5 and
lets torchvision read (its batches are pickles: Tailor never unpickles a file itself, and torchvision reads only the
genuine ones), writing the images out as a tree; without ``--from`` torchvision downloads that archive; offline,
one line says what to fetch.
"""

from __future__ import annotations

import shutil
import tarfile
import tempfile
from pathlib import Path

from core.base.errors import TailorError

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
PYTHON_ARCHIVE = "CIFAR-10's Python archive is read by torchvision (core.cli.demo_data), not here"


WRITES = ("catalog.sqlite", "cifar10-lt.csv", "cifar10", "download")  # what the demo writes in --out


def check_out(out: Path, force: bool) -> None:
    """Refuse an ``--out`` folder that holds any of the demo's names (a catalog, a manifest, image folders) unless
    ``force``: the demo writes over them. With ``force`` a tree of images there is used as it is and the catalog
    imported into again. A symbolic link at any of those names is refused even then: Tailor never writes through
    one."""
    links = [name for name in WRITES if (out / name).is_symlink()]
    if links:
        raise TailorError(f"--out {out}: {links[0]} is a symbolic link; Tailor does not write through it")
    present = [name for name in WRITES if (out / name).exists() or (out / name).is_symlink()]
    if present and not force:
        raise TailorError(
            f"--out {out} already holds {', '.join(present)}: choose another --out, or pass --force to import into "
            "the catalog again (the images already there are used as they are)"
        )


def lt_counts(available: list[int], ratio: float) -> list[int]:
    """Training images kept per class (class i in order): the largest class's count decaying to 1 / ratio of it."""
    top = max(available)
    return [max(1, min(n, int(top * (1 / ratio) ** (i / max(len(available) - 1, 1))))) for i, n in enumerate(available)]


def unpack(archive: Path, folder: Path) -> Path:
    """A ``train|test/<class>/`` tree of the archive's images under ``folder`` (written once)."""
    tree = folder / "cifar10"
    if (tree / "train").is_dir() and (tree / "test").is_dir():
        return tree
    if not archive.is_file():
        raise TailorError(f"--from {archive}: no such file")
    scratch = Path(tempfile.mkdtemp(prefix=".unpacking-", dir=folder))  # ours alone: removed whatever happens
    try:
        with tarfile.open(archive) as tar:
            if any(name.startswith("cifar-10-batches-py") for name in tar.getnames()):
                raise TailorError(PYTHON_ARCHIVE)
            tar.extractall(scratch, filter="data")
            _move_tree(scratch, tree)
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise TailorError(f"--from {archive}: not a readable tar archive ({exc})") from None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return tree


def _move_tree(raw: Path, tree: Path) -> None:
    """The archive's ``train`` and ``test`` folders (at its top or one folder down) become the tree."""
    top = raw if (raw / "train").is_dir() else next((p for p in raw.iterdir() if (p / "train").is_dir()), None)
    if top is None or not (top / "test").is_dir():
        raise TailorError("the archive holds neither cifar-10-batches-py nor train/ and test/ folders of images")
    tree.mkdir(parents=True, exist_ok=True)
    for split in ("train", "test"):
        (top / split).rename(tree / split)


def manifest(tree: Path, ratio: float, with_unlabeled: bool) -> tuple[list[tuple[str, str, str]], list[int]]:
    """Rows (path, label or "", split) of the LT catalog, and the training images kept per class."""
    classes = sorted(p.name for p in (tree / "train").iterdir() if p.is_dir())
    order = [c for c in CLASSES if c in classes] + [c for c in classes if c not in CLASSES]
    files = {c: sorted((tree / "train" / c).iterdir()) for c in order}
    counts = lt_counts([len(files[c]) for c in order], ratio)
    rows = []
    for c, n in zip(order, counts):
        rows += [(str(f), c, "train") for f in files[c][:n]]
        if with_unlabeled:
            rows += [(str(f), "", "train") for f in files[c][n:]]
        rows += [(str(f), c, "test") for f in sorted((tree / "test" / c).iterdir())]
    return rows, counts
