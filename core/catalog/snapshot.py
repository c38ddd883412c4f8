"""The frozen snapshot of an attribute's labelled images that a run trains on, and its split.

The snapshot is taken once when a run starts (and stored with the run in ``run_image``), so edits made to the
catalog while a run trains never change that run; ``--resume`` reads the stored snapshot back
(:func:`core.catalog.runs.load_snapshot`).

Splits: when the attribute's labelled images carry catalog splits, those are used (``train``; ``val`` for model
selection when present; ``test``; images without a split train). Otherwise a seeded, stratified 90/10 train/test
split is drawn: per label for single-label attributes (a label with n >= 2 images puts max(1, round(n/10)) in
test); for multi-label attributes greedily from the rarest label up, so that every label with >= 2 images has at
least one test image and keeps at least one training image.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select

from core.base.errors import TailorError
from core.catalog.records import Kind
from core.catalog.schema import Annotation, Attribute, Label
from core.catalog.schema import Image as ImageRow
from core.catalog.store import Catalog

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class SnapshotLabel:
    id: int
    name: str


@dataclass
class Snapshot:
    """An attribute's labelled images at one moment, in a fixed order, with each image's split."""

    attribute: str
    attribute_id: int
    kind: str
    labels: list[SnapshotLabel]
    image_ids: list[int]
    paths: list[str]
    targets: list[tuple[int, ...]]  # label indices (into ``labels``) per image
    splits: list[str]  # "train" | "val" | "test"
    split_source: str  # "catalog" | "seeded"

    @property
    def multi_label(self) -> bool:
        return self.kind == Kind.MULTI

    def indices(self, split: str) -> list[int]:
        return [i for i, s in enumerate(self.splits) if s == split]

    def counts(self, split: str) -> np.ndarray:
        import numpy as np  # lazily: opening a catalog reads runs without numpy

        counts = np.zeros(len(self.labels), dtype=np.int64)
        for i in self.indices(split):
            for label in self.targets[i]:
                counts[label] += 1
        return counts

    def target_matrix(self, indices: list[int]) -> np.ndarray:
        import numpy as np  # lazily: opening a catalog reads runs without numpy

        matrix = np.zeros((len(indices), len(self.labels)), dtype=np.float32)
        for row, i in enumerate(indices):
            matrix[row, list(self.targets[i])] = 1.0
        return matrix

    def target_vector(self, indices: list[int]) -> np.ndarray:
        import numpy as np  # lazily: opening a catalog reads runs without numpy

        return np.array([self.targets[i][0] for i in indices], dtype=np.int64)


def take_snapshot(catalog: Catalog, attribute: str, *, seed: int, test_fraction: float = 0.1) -> Snapshot:
    """Read the attribute's labelled images and split them (see the module docstring)."""
    with catalog.session() as s:
        row = s.execute(select(Attribute.id, Attribute.kind).where(Attribute.name == attribute)).first()
        if row is None:
            catalog.attribute(attribute)  # raises with the list of known attributes
            raise TailorError(f"no attribute '{attribute}'")
        attribute_id, kind = row
        pairs = s.execute(
            select(Annotation.image_id, Annotation.label_id, ImageRow.path, ImageRow.split)
            .join(ImageRow, ImageRow.id == Annotation.image_id)
            .where(Annotation.attribute_id == attribute_id)
            .order_by(Annotation.image_id, Annotation.label_id)
        ).all()
        names = dict(s.execute(select(Label.id, Label.name).where(Label.attribute_id == attribute_id)).all())
    per_image: dict[int, list[int]] = defaultdict(list)
    info: dict[int, tuple[str, str | None]] = {}
    for image_id, label_id, path, split in pairs:
        per_image[image_id].append(label_id)
        info[image_id] = (path, split)
    used = sorted({label for labels in per_image.values() for label in labels}, key=lambda lid: names[lid])
    if len(used) < 2:
        raise TailorError(
            f"attribute '{attribute}' needs labelled images of at least two labels to train (it has {len(used)})"
        )
    index = {label_id: i for i, label_id in enumerate(used)}
    image_ids = sorted(per_image)
    targets = [tuple(sorted(index[label] for label in per_image[i])) for i in image_ids]
    catalog_splits = [info[i][1] for i in image_ids]
    if any(s == "test" for s in catalog_splits):
        splits, source = [s if s in ("val", "test") else "train" for s in catalog_splits], "catalog"
    else:
        splits, source = (
            seeded_split(targets, len(used), seed=seed, test_fraction=test_fraction, multi_label=kind == Kind.MULTI),
            "seeded",
        )
    snapshot = Snapshot(
        attribute,
        attribute_id,
        kind,
        [SnapshotLabel(label, names[label]) for label in used],
        image_ids,
        [info[i][0] for i in image_ids],
        targets,
        splits,
        source,
    )
    missing = [snapshot.labels[j].name for j, n in enumerate(snapshot.counts("train")) if n == 0]
    if missing:
        raise TailorError(
            f"labels without a training image in '{attribute}': {', '.join(missing[:8])} "
            "(move some of their images out of the test split or remove the labels)"
        )
    return snapshot


def seeded_split(
    targets: list[tuple[int, ...]], num_labels: int, *, seed: int, test_fraction: float, multi_label: bool
) -> list[str]:
    rng = random.Random(seed)
    splits = ["train"] * len(targets)
    by_label: dict[int, list[int]] = defaultdict(list)
    for i, labels in enumerate(targets):
        for label in labels:
            by_label[label].append(i)
    if not multi_label:
        for label in range(num_labels):
            members = by_label[label][:]
            rng.shuffle(members)
            if len(members) >= 2:
                for i in members[: max(1, round(len(members) * test_fraction))]:
                    splits[i] = "test"
        return splits
    train_left = {label: len(members) for label, members in by_label.items()}
    in_test: defaultdict[int, int] = defaultdict(int)

    def movable(i: int) -> bool:
        return splits[i] == "train" and all(train_left[label] > 1 for label in targets[i])

    def move(i: int) -> None:
        splits[i] = "test"
        for label in targets[i]:
            train_left[label] -= 1
            in_test[label] += 1

    for label in sorted(by_label, key=lambda other: len(by_label[other])):  # rarest first
        members = by_label[label][:]
        rng.shuffle(members)
        wanted = max(1, round(len(members) * test_fraction)) if len(members) >= 2 else 0
        for i in members:
            if in_test[label] >= wanted:
                break
            if movable(i):
                move(i)
    return splits


def content_hashes(catalog: Catalog, image_ids: list[int]) -> list[str]:
    """The content hash (SHA-256 of the file, recorded at import) of each image, in the order given."""
    found: dict[int, str] = {}
    with catalog.session() as s:
        for start in range(0, len(image_ids), 20_000):
            chunk = image_ids[start : start + 20_000]
            found.update(s.execute(select(ImageRow.id, ImageRow.content_hash).where(ImageRow.id.in_(chunk))).all())
    missing = [i for i in image_ids if i not in found]
    if missing:
        raise TailorError(f"images {missing[:5]} are no longer in the catalog")
    return [found[i] for i in image_ids]
