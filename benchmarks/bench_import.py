"""Benchmark: import the CIFAR-10 JPEG tree (60,000 files) into a new catalog (target: >= 3,000 images/s).

Unpacks ../shared/datasets/cifar10-jpg.tar.gz into a temporary folder (not timed), then times the whole import
(scan, read + hash + full decode of every file, one transaction) and a re-import of the unchanged tree, both
through `tailor import` as a user runs it (process start included). Skips cleanly when the archive is absent.

    make bench            # or: .venv/bin/python benchmarks/bench_import.py [--archive PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_ARCHIVE = Path(os.environ.get("TAILOR_DATASETS", ROOT.parent / "shared" / "datasets")) / "cifar10-jpg.tar.gz"


def unpack(archive: Path, folder: Path) -> Path:
    """Unpack the CIFAR-10 JPEG archive into ``folder``; the tree's root (holding train/ and test/)."""
    with tarfile.open(archive) as tar:
        tar.extractall(folder, filter="data")
    return next(p for p in folder.iterdir() if p.is_dir()) if not (folder / "train").is_dir() else folder


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archive", default=str(DEFAULT_ARCHIVE))
    args = parser.parse_args()
    archive = Path(args.archive)
    if not archive.is_file():
        print(f"import benchmark skipped: {archive} not found")
        return 0
    tailor = Path(sys.executable).with_name("tailor")
    with tempfile.TemporaryDirectory(prefix="tailor-bench-") as tmp:
        tree = unpack(archive, Path(tmp))
        files = sum(1 for _ in tree.rglob("*.jpg"))
        catalog = Path(tmp) / "catalog.sqlite"
        subprocess.run([str(tailor), "init", str(catalog)], check=True, capture_output=True)
        print(f"import of {files:,} CIFAR-10 JPEG files (target >= 3,000 images/s, {os.cpu_count()} cores)")
        for label in ("first import", "re-import (unchanged)"):
            start = time.perf_counter()
            out = subprocess.run(
                [str(tailor), "import", str(catalog), str(tree), "--attribute", "object", "--json"],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            seconds = time.perf_counter() - start
            report = json.loads(out)
            print(
                f"  {label:<22} {seconds:6.1f} s  {files / seconds:8,.0f} images/s  (new {report['new']:,}, "
                f"unchanged {report['unchanged']:,}, skipped {len(report['skipped'])})"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
