"""A run's bootstrap metric table kept on disk between processes, so ``tailor compare`` and a reopened window do
not resample every run again (about 1 s a run of 10,000 test images; a variant matrix of 30 runs took 43 s).

A table depends only on the run's stored test scores (fixed once it finished), the test images compared, the
number of resamples and the seed: the key hashes those with the catalog's location and the run's creation time
(a catalog made again at the same path has other runs). Files live in ``$XDG_CACHE_HOME/tailor/bootstrap/``
(``.npz``, written whole or not at all); an unreadable one is computed again; the folder is kept under
``MAX_BYTES`` by deleting the least recently used files.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import zipfile
from pathlib import Path

import numpy as np

from core.base.cache import cache_folder
from core.base.files import atomic_write
from core.catalog.runs import RunInfo

VERSION = 1  # bump when core.analysis.bootstrap computes a table differently
MAX_BYTES = 512 * 1024 * 1024


def folder() -> Path:
    return cache_folder("bootstrap")


def key(location: str, run: RunInfo, images_digest: str, resamples: int, seed: int) -> str:
    text = f"{VERSION}|{location}|{run.id}|{run.created_at.isoformat()}|{images_digest}|{resamples}|{seed}"
    return hashlib.sha256(text.encode()).hexdigest()


def load(name: str, points: dict[str, np.ndarray], resamples: int) -> dict[str, np.ndarray] | None:
    """The table stored under ``name`` when it is what this comparison would compute: a regular file (a FIFO
    named like an entry hung ``compare``), the metrics of ``points`` (the point values, computed afresh) with
    ``1 + resamples`` rows each, row 0 equal to the point values, every value a fraction (or NaN: a resample
    without a label's positives). None otherwise (absent, unreadable, damaged or made up): computed again."""
    path = folder() / f"{name}.npz"
    try:
        if not stat.S_ISREG(os.lstat(path).st_mode):
            return None
        with np.load(path, allow_pickle=False) as data:
            table = {k: data[k] for k in data.files}
        os.utime(path)  # recently used
    except (OSError, ValueError, zipfile.BadZipFile, EOFError):
        return None
    return table if _matches(table, points, resamples) else None


def _matches(table: dict[str, np.ndarray], points: dict[str, np.ndarray], resamples: int) -> bool:
    if set(table) != set(points):
        return False
    for metric, point in points.items():
        values = table[metric]
        if values.dtype.kind != "f" or values.shape != (1 + resamples, *point.shape[1:]):
            return False
        finite = values[np.isfinite(values)]
        if np.isinf(values).any() or (finite.size and (finite.min() < -1e-6 or finite.max() > 1 + 1e-6)):
            return False
        if not np.allclose(values[0], point[0], rtol=1e-5, atol=1e-6, equal_nan=True):
            return False
    return True


def save(name: str, table: dict[str, np.ndarray]) -> None:
    """Store ``table`` under ``name`` (best effort: a full or read-only disk only costs the next comparison time)."""
    target = folder() / f"{name}.npz"
    buffer = io.BytesIO()
    np.savez(buffer, **table)  # type: ignore[arg-type]  # numpy types **kwds as its allow_pickle flag
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(target, unique=True) as fh:
            fh.write(buffer.getvalue())
        _trim(target.parent)
    except OSError:
        return


def _trim(where: Path) -> None:
    files = sorted(where.glob("*.npz"), key=lambda p: p.stat().st_mtime)
    total = sum(p.stat().st_size for p in files)
    for path in files:
        if total <= MAX_BYTES:
            break
        total -= path.stat().st_size
        path.unlink(missing_ok=True)
