"""CIFAR-10-LT (Cui et al. 2019, Cao et al. 2019) from ../shared/datasets/cifar10-jpg.tar.gz, for the benchmarks.

Keeps n_i = 5000 * (1 / ratio) ** (i / 9) training images of class i (the first n_i files of each class folder, in
file-name order; ratio 100: 5000, 2997, ..., 50 = 12,406) and the whole balanced test set, as a folder tree of
symbolic links ``train/<class>/`` and ``test/<class>/``, then imports it into a catalog (attribute ``object``; the
folders set the splits). Everything lives in a folder given by the caller (default ``.bench/``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ARCHIVE = Path(os.environ.get("TAILOR_DATASETS", ROOT.parent / "shared" / "datasets")) / "cifar10-jpg.tar.gz"
CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def lt_counts(ratio: float = 100.0) -> list[int]:
    return [int(5000 * (1 / ratio) ** (i / 9)) for i in range(10)]


def build(folder: Path, ratio: float = 100.0) -> tuple[Path, Path]:
    """Return (tree, catalog) of CIFAR-10-LT with the given ratio, building them once."""
    folder.mkdir(parents=True, exist_ok=True)
    raw = folder / "cifar10"
    if not (raw / "train").is_dir():
        if not ARCHIVE.is_file():
            raise SystemExit(f"benchmark skipped: {ARCHIVE} not found")
        with tarfile.open(ARCHIVE) as tar:
            tar.extractall(raw, filter="data")
        inner = [p for p in raw.iterdir() if p.is_dir()]
        if not (raw / "train").is_dir() and len(inner) == 1:
            for child in inner[0].iterdir():
                child.rename(raw / child.name)
    tree = folder / f"cifar10-lt-{ratio:g}"
    catalog = folder / f"cifar10-lt-{ratio:g}.sqlite"
    if not catalog.exists():
        for split, counts in (("train", lt_counts(ratio)), ("test", [None] * 10)):
            for name, n in zip(CLASSES, counts):
                target = tree / split / name
                target.mkdir(parents=True, exist_ok=True)
                for file in sorted((raw / split / name).iterdir())[:n]:
                    link = target / file.name
                    if not link.exists():
                        link.symlink_to(file.resolve())
        _import(tree, catalog)
    return tree, catalog


def build_full(folder: Path) -> tuple[Path, Path]:
    """Return (tree, catalog) of the whole CIFAR-10 (60,000 images, attribute ``object``), building them once."""
    build_raw = folder / "cifar10"
    if not (build_raw / "train").is_dir():
        build(folder)  # unpacks the archive (and builds the ratio-100 catalog beside it)
    catalog = folder / "cifar10-full.sqlite"
    if not catalog.exists():
        _import(build_raw, catalog)
    return build_raw, catalog


def _import(tree: Path, catalog: Path) -> None:
    """``tailor init`` + ``tailor import`` into a temporary file, renamed only when complete."""
    tailor = Path(sys.executable).with_name("tailor")
    tmp = catalog.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    subprocess.run([str(tailor), "init", str(tmp)], check=True, capture_output=True)
    subprocess.run(
        [str(tailor), "import", str(tmp), str(tree), "--attribute", "object"], check=True, capture_output=True
    )
    tmp.rename(catalog)


def tailor_json(*args: str) -> tuple[float, dict, str]:
    """Run ``tailor ARGS --json`` from this environment: (seconds, the JSON, stderr); exits on a failure."""
    import json
    import time

    exe = Path(sys.executable).with_name("tailor")
    started = time.perf_counter()
    done = subprocess.run([str(exe), *args, "--json"], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"tailor {' '.join(args)} failed: {done.stderr.strip().splitlines()[-1:]}")
    return time.perf_counter() - started, json.loads(done.stdout), done.stderr
