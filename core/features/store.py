"""Stored embeddings of images for one extractor, keyed by image content (the catalog's SHA-256 of the file).

Layout of a store folder (one per extractor, see :mod:`core.features.extractor`)::

    meta.json                          the extractor's key
    chunk-000000-<tag>.npy             n x D float16 features
    chunk-000000-<tag>.keys.npy        n content keys (the first 16 bytes of each SHA-256, ``S16``)
    .lock                              held (``flock``) while a process writes a chunk
    damaged/                           chunks set aside because they could not be read

``<tag>`` is a digest of the extractor's key: a chunk copied in from another extractor's store does not carry this
store's tag and is never served. A chunk is written features first, keys last, each to a temporary file then
renamed, under the store's lock (two processes computing features for one store never pick the same chunk
number): a chunk whose keys file exists is complete, so a cancelled or killed pass keeps every finished chunk and
the next pass computes only what is missing. Every chunk is checked when the store is indexed (readable, the right
dtype and shape, as many keys as rows); a damaged one is moved to ``damaged/`` with one line naming it
(:attr:`FeatureStore.notes`), and its images are computed again. Features that are not finite are refused when
they are computed and when they are read, naming the images.

Nothing depends on image ids, paths or labels: re-importing, moving files or editing labels reuses the features;
a changed file has a new hash and only it is computed again. Reading memory-maps the chunks; the index (all keys,
sorted) is 24 bytes per stored image, so 1,000,000 images index in about 24 MB.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

import numpy as np

from core.base.errors import TailorError
from core.base.files import atomic_write

KEY_BYTES = 16
CHUNK_NAME = re.compile(r"chunk-(\d{6})-([0-9a-f]{12})\.keys\.npy$")

fcntl: ModuleType | None
try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: one writer at a time is the user's care there
    fcntl = None


def key_of(content_hash: str) -> bytes:
    return bytes.fromhex(content_hash[: 2 * KEY_BYTES])


def key_tag(key: dict) -> str:
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]


class NonFiniteFeatures(TailorError):
    """Features that are NaN or infinite; ``hashes`` are the images' content hashes."""

    def __init__(self, message: str, hashes: list[str]) -> None:
        super().__init__(message)
        self.hashes = hashes


class FeatureStore:
    """One extractor's features in ``folder`` (created on first write). ``claim``: called before the first write,
    it checks that this catalog owns the folder that holds the store (core.catalog.owned_folders)."""

    def __init__(self, folder: Path, key: dict, claim: Callable[[], None] | None = None) -> None:
        self.folder, self.key, self.tag, self._claim = Path(folder), key, key_tag(key), claim
        self._index: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # sorted keys, chunk, row
        self._maps: dict[int, np.ndarray] = {}
        self._width: int | None = None
        self.notes: list[str] = []  # chunks set aside, one line each
        self._check_meta()

    def _check_meta(self) -> None:
        meta = self.folder / "meta.json"
        if meta.is_file():
            try:
                stored = json.loads(meta.read_text())
            except (OSError, ValueError) as exc:
                raise TailorError(f"feature store {self.folder}: unreadable meta.json ({exc})") from None
            if not isinstance(stored, dict) or stored.get("key") != self.key:
                raise TailorError(f"feature store {self.folder} holds another extractor's features")

    def _chunk_path(self, chunk: int, keys: bool = False) -> Path:
        return self.folder / f"chunk-{chunk:06d}-{self.tag}{'.keys' if keys else ''}.npy"

    def _chunks(self) -> list[int]:
        if not self.folder.is_dir():
            return []
        found = (CHUNK_NAME.match(p.name) for p in self.folder.iterdir())
        return sorted(int(m.group(1)) for m in found if m and m.group(2) == self.tag)

    def _features(self, chunk: int) -> np.ndarray:
        if chunk not in self._maps:
            self._maps[chunk] = np.load(self._chunk_path(chunk), mmap_mode="r", allow_pickle=False)
        return self._maps[chunk]

    def _checked_chunk(self, chunk: int) -> np.ndarray | None:
        """The chunk's keys after checking both files; None (and the chunk set aside) when it is damaged."""
        try:
            keys: np.ndarray = np.load(self._chunk_path(chunk, keys=True), allow_pickle=False)
            features = self._features(chunk)
            problem = _chunk_problem(keys, features, self._width)
        except (OSError, ValueError, EOFError) as exc:
            problem = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if problem is None:
            self._width = int(features.shape[1])
            return keys
        self._set_aside(chunk, problem)
        return None

    def _set_aside(self, chunk: int, problem: str) -> None:
        """Move a damaged chunk (keys first: without them the chunk no longer counts) to ``damaged/``; on storage
        this process cannot change it stays, left out of the index all the same."""
        self._maps.pop(chunk, None)
        damaged = self.folder / "damaged"
        where = f"set aside in {damaged}"
        try:
            damaged.mkdir(exist_ok=True)
            for path in (self._chunk_path(chunk, keys=True), self._chunk_path(chunk)):
                if path.exists():
                    os.replace(path, damaged / path.name)
        except OSError as exc:
            where = f"left in place ({exc.strerror or exc}) and not used"
        self.notes.append(
            f"feature store {self.folder}: chunk {self._chunk_path(chunk).name} is damaged ({problem}); "
            f"{where}, its images are computed again"
        )

    def index(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self._index is None:
            keys, chunks, rows = [], [], []
            for chunk in self._chunks():
                k = self._checked_chunk(chunk)
                if k is None:
                    continue
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

    def gather(self, content_hashes: list[str], names: list[str] | None = None) -> np.ndarray:
        """The features of these images (N x D float16, in the order given); every one must be stored and
        finite (:class:`NonFiniteFeatures` names the others by ``names``, their paths, when given)."""
        chunk, row = self.locate(content_hashes)
        if (chunk < 0).any():
            raise TailorError(f"feature store {self.folder}: {(chunk < 0).sum()} images have no features yet")
        out = np.empty((len(content_hashes), self.width), dtype=np.float16)
        for c in np.unique(chunk):
            where = np.flatnonzero(chunk == c)
            out[where] = self._features(int(c))[row[where]]
        check_finite(
            out, content_hashes, f"feature store {self.folder} holds", names, "; delete the store to recompute"
        )
        return out

    def claim(self) -> None:
        """Before a write into the store's folder (its chunks, or an index beside them): the catalog's own, real
        folder (the ``claim`` given at construction)."""
        if self._claim is not None:
            self._claim()

    @property
    def width(self) -> int:
        self.index()
        if self._width is None:
            raise TailorError(f"feature store {self.folder} is empty")
        return self._width

    def add(self, content_hashes: list[str], features: np.ndarray, names: list[str] | None = None) -> None:
        """Write one chunk (atomically, under the store's lock: see the module docstring); non-finite features
        (also after the conversion to float16) are refused and nothing is written."""
        with np.errstate(over="ignore"):  # what overflows float16 is caught just below
            data = np.ascontiguousarray(features, dtype=np.float16)
        check_finite(data, content_hashes, "the backbone computed", names, "; nothing was stored")
        keys = np.array([key_of(h) for h in content_hashes], dtype=f"S{KEY_BYTES}")
        self.claim()
        self.folder.mkdir(parents=True, exist_ok=True)
        with self._locked():
            meta = self.folder / "meta.json"
            if not meta.is_file():
                with atomic_write(meta, fsync=True) as fh:
                    fh.write(json.dumps({"key": self.key}, indent=1).encode())
            chunks = self._chunks()
            number = chunks[-1] + 1 if chunks else 0
            with atomic_write(self._chunk_path(number), fsync=True) as fh:
                np.save(fh, data)
            with atomic_write(self._chunk_path(number, keys=True), fsync=True) as fh:
                np.save(fh, keys)
        self._index = None

    @contextmanager
    def _locked(self) -> Iterator[None]:
        if fcntl is None:
            yield
            return
        flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
        try:
            fd = os.open(self.folder / ".lock", flags, 0o644)
        except OSError as exc:
            raise TailorError(f"feature store {self.folder}: cannot take its lock ({exc.strerror or exc})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # another pass writes a chunk for a few seconds at most
            yield
        finally:
            os.close(fd)

    @property
    def stored(self) -> int:
        return len(self.index()[0])


def _chunk_problem(keys: np.ndarray, features: np.ndarray, width: int | None) -> str | None:
    if keys.dtype != np.dtype(f"S{KEY_BYTES}") or keys.ndim != 1:
        return f"its keys are {keys.dtype} {keys.shape}, not S{KEY_BYTES} content keys"
    if features.dtype != np.float16 or features.ndim != 2:
        return f"its features are {features.dtype} {features.shape}, not a float16 table"
    if len(keys) != len(features):
        return f"{len(keys)} keys for {len(features)} rows of features"
    if width is not None and features.shape[1] != width:
        return f"{features.shape[1]} features per image where the store has {width}"
    return None


def check_finite(
    features: np.ndarray, content_hashes: list[str], what: str, names: list[str] | None = None, after: str = ""
) -> None:
    """Raise :class:`NonFiniteFeatures` when any row is NaN or infinite, naming how many and the first images
    (``names[i]`` for row i, else its content hash)."""
    bad = np.flatnonzero(~np.isfinite(features).all(axis=1)) if len(features) else np.empty(0, int)
    if len(bad):
        hashes = [content_hashes[i] for i in bad]
        shown = [names[i] for i in bad[:3]] if names is not None else [f"content {h[:12]}" for h in hashes[:3]]
        raise NonFiniteFeatures(
            f"{what} features that are not finite (NaN or infinite) for {len(bad)} images "
            f"({', '.join(shown)}{', …' if len(bad) > 3 else ''}){after}",
            hashes,
        )
