"""Importing a folder tree or a manifest into a catalog, as a generator of progress events.

``import_source`` yields :class:`ImportProgress` events and returns an :class:`ImportReport` (the
``StopIteration`` value; :func:`run` drains it). The CLI draws a progress bar from the events; the window runs the
same generator in a worker thread and cancels by closing it.

Guarantees:

* One transaction: either everything readable in the source is recorded or, on an error or a cancel, nothing.
* Idempotent: the same path with the same content (SHA-256) is left alone; changed content updates the image row.
* Bad files (empty, truncated, corrupt, not an image, decompression bombs) are skipped and listed with a reason.
* Single-label attributes keep one label per image; a human's label is never overwritten by an import (the
  import's label is reported as a conflict instead).
"""

from __future__ import annotations

import os
import time
from collections.abc import Generator, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from core.base import csv_cells
from core.base.errors import TailorError
from core.base.files import atomic_write
from core.base.iteration import chunks, drain
from core.catalog.names import check_name
from core.catalog.records import AnnotationSource, Kind
from core.catalog.schema import Annotation, Attribute, Image, Label, utcnow
from core.catalog.store import Catalog, check_kind
from core.ingest.images import Probe, probe_many
from core.ingest.sources import Entry, Source, read_source

CHUNK = 2000  # rows per IN (...) query and per progress step


@dataclass(frozen=True)
class ImportProgress:
    phase: str  # "scanning" | "reading" | "images" | "labels" (the last two write, in one transaction)
    done: int
    total: int


@dataclass
class ImportReport:
    attribute: str
    kind: str
    source: str
    files: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    labels_created: list[str] = field(default_factory=list)
    annotations_added: int = 0
    annotations_replaced: int = 0
    kept_human: int = 0
    unlabeled: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def imported(self) -> int:
        return self.new + self.updated + self.unchanged

    def summary(self) -> str:
        parts = [
            f"{self.imported:,} images into '{self.attribute}' ({self.kind}-label): {self.new:,} new, "
            f"{self.updated:,} updated, {self.unchanged:,} unchanged"
        ]
        if self.labels_created:
            parts.append(f"{len(self.labels_created)} new labels")
        parts.append(f"{self.annotations_added:,} labels added")
        if self.annotations_replaced:
            parts.append(f"{self.annotations_replaced:,} replaced")
        if self.kept_human:
            parts.append(f"{self.kept_human:,} human labels kept over the import's")
        if self.unlabeled:
            parts.append(f"{self.unlabeled:,} without a label")
        parts.append(f"{len(self.skipped):,} skipped")
        rate = f", {self.files / self.seconds:,.0f} files/s" if self.seconds > 0 and self.files else ""
        return "; ".join(parts) + f" in {self.seconds:.1f} s{rate}"

    def as_dict(self) -> dict:
        return {
            "attribute": self.attribute,
            "kind": self.kind,
            "source": self.source,
            "files": self.files,
            "new": self.new,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "labels_created": self.labels_created,
            "annotations_added": self.annotations_added,
            "annotations_replaced": self.annotations_replaced,
            "kept_human": self.kept_human,
            "unlabeled": self.unlabeled,
            "seconds": round(self.seconds, 3),
            "skipped": [{"path": p, "reason": r} for p, r in self.skipped],
        }


def run(events: Generator[ImportProgress, None, ImportReport]) -> ImportReport:
    """Drain an import generator and return its report."""
    return drain(events)


def _existing_images(session: Session, paths: list[str]) -> dict[str, tuple[int, str, str | None]]:
    found: dict[str, tuple[int, str, str | None]] = {}
    for chunk in chunks(paths, CHUNK):
        rows = session.execute(
            select(Image.path, Image.id, Image.content_hash, Image.split).where(Image.path.in_(chunk))
        )
        found.update((path, (id_, digest, split)) for path, id_, digest, split in rows)
    return found


def _check_attribute(session: Session, name: str, kind: str) -> Attribute | None:
    attribute: Attribute | None = session.scalar(select(Attribute).where(Attribute.name == name))
    if attribute is not None and attribute.kind != kind:
        hint = "without --multi-label" if attribute.kind == Kind.SINGLE else "with --multi-label"
        raise TailorError(f"attribute '{name}' is {attribute.kind}-label, not {kind}-label; import {hint}")
    return attribute


def _probe_all(items: list[tuple[str, str | None]], workers: int) -> Iterator[list[Probe | str]]:
    """Probe files in chunks; reading and hashing release the GIL, so a few threads overlap disk waits."""
    batches = list(chunks(items, 256))
    if workers <= 1 or len(batches) <= 1:
        yield from map(probe_many, batches)
        return
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tailor-probe") as pool:
        yield from pool.map(probe_many, batches)


def import_source(
    catalog: Catalog,
    source: str | os.PathLike,
    attribute: str,
    *,
    multi_label: bool = False,
    workers: int | None = None,
    follow_symlinks: bool = False,
) -> Generator[ImportProgress, None, ImportReport]:
    """Import a folder tree or a manifest into ``attribute`` (created with the given kind if new).
    ``follow_symlinks``: follow links to folders outside a folder tree too."""
    started = time.perf_counter()
    kind = check_kind(Kind.MULTI if multi_label else Kind.SINGLE)
    attribute = check_name(attribute, "attribute name")
    with catalog.session() as s:  # fail fast, before reading any file
        _check_attribute(s, attribute, kind)
    yield ImportProgress("scanning", 0, 0)
    src: Source = read_source(source, multi_label=multi_label, attribute=attribute, follow_symlinks=follow_symlinks)
    report = ImportReport(attribute, kind, src.location, files=len(src.entries) + len(src.passed_over))
    report.skipped.extend(src.passed_over)
    paths = [e.path for e in src.entries]
    with catalog.session() as s:
        known = _existing_images(s, paths)
    total = len(paths)
    yield ImportProgress("reading", 0, total)
    probes: dict[str, Probe] = {}
    done = 0
    workers = workers if workers is not None else min(4, (os.cpu_count() or 1) + 1)
    items = [(p, known[p][1] if p in known else None) for p in paths]
    for results in _probe_all(items, workers):
        for (path, _), result in zip(items[done : done + len(results)], results):
            if isinstance(result, str):
                report.skipped.append((path, result))
            else:
                probes[path] = result
        done += len(results)
        yield ImportProgress("reading", done, total)
    good = [e for e in src.entries if e.path in probes]
    yield from _write(catalog, good, probes, attribute, kind, report)
    report.skipped.sort()
    report.seconds = time.perf_counter() - started
    return report


def _write(
    catalog: Catalog,
    entries: list[Entry],
    probes: dict[str, Probe],
    attribute_name: str,
    kind: str,
    report: ImportReport,
) -> Generator[ImportProgress, None, None]:
    now = utcnow()
    with catalog.session(write=True) as s:
        attribute_id, label_ids = _attribute_and_labels(s, entries, attribute_name, kind, now, report)
        existing = _existing_images(s, [e.path for e in entries])
        new_rows, changed_rows = _image_rows(entries, probes, existing, now, report)
        image_ids = {path: row[0] for path, row in existing.items()}
        total = len(new_rows) + len(changed_rows)
        yield ImportProgress("images", 0, total)
        for chunk in chunks(new_rows, CHUNK):
            rows = s.execute(insert(Image).returning(Image.path, Image.id, sort_by_parameter_order=True), chunk)
            image_ids.update(rows.all())
            report.new += len(chunk)
            yield ImportProgress("images", report.new, total)
        for chunk in chunks(changed_rows, CHUNK):
            s.execute(update(Image), chunk)
        yield ImportProgress("images", total, total)
        yield from _write_annotations(s, entries, image_ids, label_ids, attribute_id, kind, now, report)


def _attribute_and_labels(
    s: Session, entries: list[Entry], attribute_name: str, kind: str, now: datetime, report: ImportReport
) -> tuple[int, dict[str, int]]:
    """The attribute (created when new) and the ids of its labels, the entries' new labels created."""
    attribute = _check_attribute(s, attribute_name, kind)
    if attribute is None:
        attribute = Attribute(name=attribute_name, kind=kind, created_at=now)
        s.add(attribute)
        s.flush()
    label_ids = dict(s.execute(select(Label.name, Label.id).where(Label.attribute_id == attribute.id)).all())
    wanted = sorted({name for e in entries for name in e.labels} - set(label_ids))
    if wanted:
        rows = s.execute(
            insert(Label).returning(Label.name, Label.id, sort_by_parameter_order=True),
            [{"attribute_id": attribute.id, "name": name} for name in wanted],
        )
        label_ids.update(rows.all())
        report.labels_created = wanted
    return attribute.id, label_ids


def _image_rows(
    entries: list[Entry],
    probes: dict[str, Probe],
    existing: dict[str, tuple[int, str, str | None]],
    now: datetime,
    report: ImportReport,
) -> tuple[list[dict], list[dict]]:
    """Rows to insert (new paths) and to update (changed content or split) in the image table."""
    new_rows, changed_rows, split_rows = [], [], []
    for e in entries:
        probe = probes[e.path]
        if e.path not in existing:
            new_rows.append(
                {
                    "path": e.path,
                    "content_hash": probe.content_hash,
                    "width": probe.width,
                    "height": probe.height,
                    "split": e.split,
                    "added_at": now,
                    "updated_at": now,
                }
            )
            continue
        image_id, digest, split = existing[e.path]
        if digest == probe.content_hash:
            report.unchanged += 1
        else:
            if probe.width == 0:  # decoding was skipped against an older snapshot; decode now
                fresh = probe_many([(e.path, None)])[0]
                if isinstance(fresh, str):
                    report.skipped.append((e.path, fresh))
                    continue
                probe = fresh
            changed_rows.append(
                {
                    "id": image_id,
                    "content_hash": probe.content_hash,
                    "width": probe.width,
                    "height": probe.height,
                    "updated_at": now,
                }
            )
            report.updated += 1
        if e.split is not None and e.split != split:
            split_rows.append({"id": image_id, "split": e.split})
    return new_rows, changed_rows + split_rows


def _write_annotations(
    s: Session,
    entries: list[Entry],
    image_ids: dict[str, int],
    label_ids: dict[str, int],
    attribute_id: int,
    kind: str,
    now: datetime,
    report: ImportReport,
) -> Generator[ImportProgress, None, None]:
    current = _current_annotations(s, [image_ids[e.path] for e in entries if e.path in image_ids], attribute_id)
    additions, removals = _annotation_changes(entries, image_ids, label_ids, current, kind, report)
    rows = [_annotation_row(image_id, label_id, attribute_id, now) for image_id, label_id in additions]
    total = len(removals) + len(rows)
    yield ImportProgress("labels", 0, total)
    for id_chunk in chunks(removals, CHUNK):
        s.execute(delete(Annotation).where(Annotation.id.in_(id_chunk)))
    for chunk in chunks(rows, CHUNK):
        s.execute(insert(Annotation), chunk)
        report.annotations_added += len(chunk)
        yield ImportProgress("labels", len(removals) + report.annotations_added, total)
    yield ImportProgress("labels", total, total)


def _annotation_row(image_id: int, label_id: int, attribute_id: int, now: datetime) -> dict[str, object]:
    return {
        "image_id": image_id,
        "label_id": label_id,
        "attribute_id": attribute_id,
        "source": AnnotationSource.IMPORT,
        "created_at": now,
    }


def _current_annotations(s: Session, ids: list[int], attribute_id: int) -> dict[int, dict[int, tuple[int, str]]]:
    """image id -> label id -> (annotation id, source), for the attribute."""
    current: dict[int, dict[int, tuple[int, str]]] = {}
    for chunk in chunks(ids, CHUNK):
        rows = s.execute(
            select(Annotation.image_id, Annotation.label_id, Annotation.id, Annotation.source).where(
                Annotation.attribute_id == attribute_id, Annotation.image_id.in_(chunk)
            )
        )
        for image_id, label_id, annotation_id, source in rows:
            current.setdefault(image_id, {})[label_id] = (annotation_id, source)
    return current


def _annotation_changes(
    entries: list[Entry],
    image_ids: dict[str, int],
    label_ids: dict[str, int],
    current: dict[int, dict[int, tuple[int, str]]],
    kind: str,
    report: ImportReport,
) -> tuple[list[tuple[int, int]], list[int]]:
    """(image id, label id) pairs to add and annotation ids to remove. A single-label image's other label is
    replaced, unless a person gave it (kept and counted)."""
    additions: list[tuple[int, int]] = []
    removals: list[int] = []
    for e in entries:
        if e.path not in image_ids:
            continue
        if not e.labels:
            report.unlabeled += 1
            continue
        image_id = image_ids[e.path]
        have = current.get(image_id, {})
        targets = [label_ids[name] for name in e.labels]
        if kind == Kind.SINGLE:
            target = targets[0]
            if target in have:
                continue
            if any(source == AnnotationSource.HUMAN for _, source in have.values()):
                report.kept_human += 1
                continue
            if have:
                removals.extend(annotation_id for annotation_id, _ in have.values())
                report.annotations_replaced += 1
            targets = [target]
        additions.extend((image_id, label_id) for label_id in targets if label_id not in have)
    return additions, removals


def describe_skipped(skipped: Iterable[tuple[str, str]], limit: int | None = 20) -> list[str]:
    items = list(skipped)
    lines = [f"skipped {path}: {reason}" for path, reason in (items if limit is None else items[:limit])]
    if limit is not None and len(items) > limit:
        lines.append(f"... and {len(items) - limit:,} more skipped files (see --report)")
    return lines


def write_skipped_csv(skipped: Iterable[tuple[str, str]], path: str | os.PathLike) -> None:

    with atomic_write(path, "w", newline="", encoding="utf-8") as fh:  # readers never see half a file
        writer = csv_cells.writer(fh)
        writer.writerow(["path", "reason"])
        writer.writerows(skipped)
