"""Stored embeddings of images for one extractor, keyed by image content (the catalog's SHA-256 of the file).

Layout of a store folder (one per extractor, see :mod:`core.features.extractor`)::

    meta.json                 the extractor's key and the feature width
    chunk-000000.npy          n x D float16 features
    chunk-000000.keys.npy     n content keys (the first 16 bytes of each SHA-256, ``S16``)

A chunk is written features first, keys last, each to a temporary name then renamed: a chunk whose keys file
exists is complete, so a cancelled or killed pass keeps every finished chunk and the next pass computes only what
is missing. Nothing depends on image ids, paths or labels: re-importing, moving files or editing labels reuses the
features; a changed file has a new hash and only it is computed again. Reading memory-maps the chunks; the index
(all keys, sorted) is 24 bytes per stored image, so 1,000,000 images index in about 24 MB.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np

from core.base.errors import TailorError

KEY_BYTES = 16
CHUNK_NAME = re.compile(r"chunk-(\d{6})\.keys\.npy$")


def key_of(content_hash: str) -> bytes:
    return bytes.fromhex(content_hash[: 2 * KEY_BYTES])


class FeatureStore:
    """One extractor's features in ``folder`` (created on first write)."""

    def __init__(self, folder: Path, key: dict) -> None:
        self.folder, self.key = Path(folder), key
        self._index: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # sorted keys, chunk, row
        self._maps: dict[int, np.ndarray] = {}
        self._check_meta()

    def _check_meta(self) -> None:
        meta = self.folder / "meta.json"
        if meta.is_file():
            try:
                stored = json.loads(meta.read_text())
            except (OSError, ValueError) as exc:
                raise TailorError(f"feature store {self.folder}: unreadable meta.json ({exc})") from None
            if stored.get("key") != self.key:
                raise TailorError(f"feature store {self.folder} holds another extractor's features")

    def _chunks(self) -> list[int]:
        if not self.folder.is_dir():
            return []
        return sorted(int(m.group(1)) for p in self.folder.iterdir() if (m := CHUNK_NAME.match(p.name)))

    def _features(self, chunk: int) -> np.ndarray:
        if chunk not in self._maps:
            self._maps[chunk] = np.load(self.folder / f"chunk-{chunk:06d}.npy", mmap_mode="r")
        return self._maps[chunk]

    def index(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self._index is None:
            keys, chunks, rows = [], [], []
            for chunk in self._chunks():
                k = np.load(self.folder / f"chunk-{chunk:06d}.keys.npy")
                keys.append(k)
                chunks.append(np.full(len(k), chunk, dtype=np.int32))
                rows.append(np.arange(len(k), dtype=np.int32))
            all_keys = np.concatenate(keys) if keys else np.empty(0, dtype=f"S{KEY_BYTES}")
            order = np.argsort(all_keys, kind="stable")
            self._index = (
                all_keys[order],
                np.concatenate(chunks)[order] if chunks else np.empty(0, np.int32),
                np.concatenate(rows)[order] if rows else np.empty(0, np.int32),
            )
        return self._index

    def locate(self, content_hashes: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Chunk and row of each hash (chunk -1: not stored)."""
        keys, chunks, rows = self.index()
        wanted = np.array([key_of(h) for h in content_hashes], dtype=f"S{KEY_BYTES}")
        at = np.searchsorted(keys, wanted).clip(0, max(0, len(keys) - 1))
        found = (len(keys) > 0) & (keys[at] == wanted) if len(keys) else np.zeros(len(wanted), bool)
        return np.where(found, chunks[at] if len(keys) else -1, -1), np.where(found, rows[at] if len(keys) else 0, 0)

    def missing(self, content_hashes: list[str]) -> list[str]:
        """The distinct hashes without stored features, in first-seen order."""
        chunk, _ = self.locate(content_hashes)
        return list(dict.fromkeys(h for h, c in zip(content_hashes, chunk) if c < 0))

    def gather(self, content_hashes: list[str]) -> np.ndarray:
        """The features of these images (N x D float16, in the order given); every one must be stored."""
        chunk, row = self.locate(content_hashes)
        if (chunk < 0).any():
            raise TailorError(f"feature store {self.folder}: {(chunk < 0).sum()} images have no features yet")
        out = np.empty((len(content_hashes), self.width), dtype=np.float16)
        for c in np.unique(chunk):
            where = np.flatnonzero(chunk == c)
            out[where] = self._features(int(c))[row[where]]
        return out

    @property
    def width(self) -> int:
        chunks = self._chunks()
        if not chunks:
            raise TailorError(f"feature store {self.folder} is empty")
        return int(self._features(chunks[0]).shape[1])

    def add(self, content_hashes: list[str], features: np.ndarray) -> None:
        """Write one chunk (atomically: see the module docstring)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        meta = self.folder / "meta.json"
        if not meta.is_file():
            _atomic(meta, lambda f: f.write(json.dumps({"key": self.key}, indent=1).encode()))
        chunks = self._chunks()
        number = chunks[-1] + 1 if chunks else 0
        data = np.ascontiguousarray(features, dtype=np.float16)
        keys = np.array([key_of(h) for h in content_hashes], dtype=f"S{KEY_BYTES}")
        _atomic(self.folder / f"chunk-{number:06d}.npy", lambda f: np.save(f, data))
        _atomic(self.folder / f"chunk-{number:06d}.keys.npy", lambda f: np.save(f, keys))
        self._index = None

    @property
    def stored(self) -> int:
        return len(self.index()[0])


def _atomic(path: Path, write) -> None:  # type: ignore[no-untyped-def]
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "wb") as f:
        write(f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(temporary, path)
