"""Thumbnails for the grid: decoded by background threads, newest request first, kept in a bounded LRU cache.

The GUI thread only asks (:meth:`ThumbnailLoader.get` returns at once: the image, or ``None`` and a load is
queued) and receives finished ``QImage`` objects through a queued signal. Requests are served last-in first-out
and the queue is capped, so while a user flings the grid the threads decode what is on screen now, not what
scrolled past a second ago.

Everything is keyed by the file and its content (path, SHA-256), never by an image id alone: ids are per catalog,
and after File ▸ Open of another catalog image 12 is another picture. ``ready`` names the image ids that asked.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QImage

from core.ingest import thumbnails
from core.ingest.images import BadImage

MAX_PENDING = 400
Key = tuple[str, str]  # (path, content hash)


def lower_priority(niceness: int = 10) -> None:
    """Make the calling thread yield the CPU to the GUI thread (Linux: per-thread nice value)."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), niceness)
    except (AttributeError, OSError):  # other platforms: best effort only
        pass


class ThumbnailLoader(QObject):
    """``ready(image_ids)`` is emitted on the GUI thread with the images whose thumbnails (or failures) became known.

    Workers hand finished thumbnails over in batches: the first one after the GUI thread last took them wakes it
    (``_arrived``), and it takes all that are done by then, under one lock. One event per thumbnail (about a
    thousand a second while the grid scrolls) cost the GUI thread more than painting them."""

    ready = Signal(list)
    _arrived = Signal()  # from worker threads: results wait in _done

    def __init__(
        self,
        cache_dir: Path | None,
        *,
        size: int = thumbnails.THUMBNAIL_SIZE,
        display: int = 112,
        budget_bytes: int = 96 * 1024 * 1024,
        max_items: int = 4000,
        threads: int = 1,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.size = size
        self.display = display  # images are delivered fitted in display x display, ready to blit
        self.cache_dir = cache_dir
        self.budget_bytes = budget_bytes
        # a count cap too: tens of thousands of tiny thumbnails are few bytes but many objects for the collector
        self.max_items = max_items
        self._cache: OrderedDict[Key, QImage] = OrderedDict()
        self._bytes = 0
        self._failed: dict[Key, str] = {}
        self._pending: OrderedDict[Key, None] = OrderedDict()  # newest last
        self._waiting: dict[Key, set[int]] = {}  # image ids to tell when a key is loaded
        self._in_flight: set[Key] = set()
        self._done: list[tuple[Key, QImage | None, str]] = []  # loaded, not yet taken by the GUI thread
        self._lock = threading.Condition()
        self._stopping = False
        self._arrived.connect(self._take)
        self._threads = [
            threading.Thread(target=self._work, name=f"tailor-thumbs-{i}", daemon=True) for i in range(threads)
        ]
        for thread in self._threads:
            thread.start()

    # -- GUI thread ------------------------------------------------------------------------------------

    def get(self, image_id: int, path: str, content_hash: str) -> QImage | None:
        key = (path, content_hash)
        image = self._cache.get(key)
        if image is not None:
            self._cache.move_to_end(key)
            return image
        if key in self._failed:
            return None
        with self._lock:
            self._waiting.setdefault(key, set()).add(image_id)
            if key not in self._in_flight:
                self._pending.pop(key, None)
                self._pending[key] = None
                while len(self._pending) > MAX_PENDING:
                    dropped, _ = self._pending.popitem(last=False)  # the oldest request scrolled away long ago
                    self._waiting.pop(dropped, None)
                self._lock.notify()
        return None

    def cached(self, path: str, content_hash: str) -> QImage | None:
        """The thumbnail when it is in memory, else None (nothing is asked for)."""
        return self._cache.get((path, content_hash))

    def failure(self, path: str, content_hash: str) -> str | None:
        return self._failed.get((path, content_hash))

    @property
    def cached_bytes(self) -> int:
        return self._bytes

    @property
    def cached_count(self) -> int:
        return len(self._cache)

    def pending(self) -> int:
        with self._lock:
            return len(self._pending) + len(self._in_flight) + len(self._done)

    def stop(self) -> None:
        with self._lock:
            self._stopping = True
            self._pending.clear()
            self._done.clear()
            self._waiting.clear()
            self._lock.notify_all()
        for thread in self._threads:
            thread.join(timeout=5)

    def _take(self) -> None:
        with self._lock:
            done, self._done = self._done, []
            ids = {image_id for key, _image, _reason in done for image_id in self._waiting.pop(key, ())}
        for key, image, reason in done:
            self._store(key, image, reason)
        if ids:
            self.ready.emit(sorted(ids))

    def _store(self, key: Key, image: QImage | None, reason: str) -> None:
        if image is None:
            self._failed[key] = reason
        else:
            old = self._cache.pop(key, None)
            if old is not None:
                self._bytes -= old.sizeInBytes()
            self._cache[key] = image
            self._bytes += image.sizeInBytes()
            while (self._bytes > self.budget_bytes or len(self._cache) > self.max_items) and len(self._cache) > 1:
                _, evicted = self._cache.popitem(last=False)
                self._bytes -= evicted.sizeInBytes()

    def _for_display(self, thumb: thumbnails.Thumbnail) -> QImage:
        """Scaled to the cell and opaque 32-bit (the backing store's format), so painting is a plain copy.

        Thumbnails are RGB, never transparent: ``Format_RGB32`` blits in ~2 us where ``ARGB32_Premultiplied``
        takes ~60 us a cell (blended pixel by pixel), which was most of the grid's paint time.
        """
        image = QImage(thumb.rgb, thumb.width, thumb.height, thumb.width * 3, QImage.Format.Format_RGB888)
        if max(thumb.width, thumb.height) != self.display:
            image = image.scaled(
                self.display,
                self.display,
                Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
        return image.convertToFormat(QImage.Format.Format_RGB32)

    # -- worker threads --------------------------------------------------------------------------------

    def stopping(self) -> bool:
        return self._stopping

    def _work(self) -> None:
        lower_priority()
        while True:
            with self._lock:
                while not self._pending and not self._stopping:
                    self._lock.wait()
                if self._stopping:
                    return
                key, _ = self._pending.popitem(last=True)  # newest first
                self._in_flight.add(key)
            path, content_hash = key
            try:
                thumb = thumbnails.load(path, content_hash, self.cache_dir, size=self.size)
                result, reason = self._for_display(thumb), ""
            except BadImage as exc:
                result, reason = None, str(exc)
            except Exception as exc:
                result, reason = None, f"cannot show ({type(exc).__name__}: {exc})"
            with self._lock:
                self._in_flight.discard(key)
                if self.stopping():  # stop() may have run while this image was read
                    return
                self._done.append((key, result, reason))
                wake = len(self._done) == 1  # the GUI thread takes everything done when it wakes
            if wake:
                self._arrived.emit()
