"""An import for the window: :func:`core.ingest.importer.import_source` (the generator ``tailor import`` drains) as a
job a ``JobRunner`` runs, with its own catalog connection. Cancel closes the import's generator in the worker
thread: its single transaction rolls back and the catalog is exactly as before."""

from __future__ import annotations

import threading
from collections.abc import Generator
from typing import TYPE_CHECKING

from workbench.workers.progress import Progress

if TYPE_CHECKING:
    from core.ingest.importer import ImportReport

PHASES = {
    "scanning": "Looking for images…",
    "reading": "Reading and checking images",
    "images": "Recording images",
    "labels": "Recording labels",
}


def import_job(
    location: str, source: str, attribute: str, multi_label: bool, follow_symlinks: bool, *, cancel: threading.Event
) -> Generator[Progress, None, ImportReport | None]:
    """Import ``source`` into ``attribute``; the report, or None when cancelled (nothing recorded)."""
    from core.catalog.store import Catalog
    from core.ingest.importer import import_source

    catalog = Catalog(location)
    try:
        events = import_source(catalog, source, attribute, multi_label=multi_label, follow_symlinks=follow_symlinks)
        while True:
            try:
                event = next(events)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            if cancel.is_set():
                events.close()  # here, in the worker: the transaction rolls back
                return None
            label = PHASES.get(event.phase, event.phase)
            yield Progress(f"{label}: {event.done:,} of {event.total:,}" if event.total else label, event.done,
                           event.total)  # fmt: skip
    finally:
        catalog.close()
