"""The catalog's plain records: the enums of its columns and the frozen dataclasses its API hands out.

No SQLAlchemy here: the window imports these before its first paint (the queries that fill them, in
``store``/``browse``, are imported by the worker that opens the catalog).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Split(StrEnum):
    TRAIN = "train"
    VAL = "val"
    TEST = "test"


class Kind(StrEnum):
    """An attribute's kind: one label per image, or several."""

    SINGLE = "single"
    MULTI = "multi"


class AnnotationSource(StrEnum):
    """Who gave an annotation."""

    HUMAN = "human"
    IMPORT = "import"
    MODEL = "model"


class RunStatus(StrEnum):
    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"


SPLITS, KINDS, SOURCES = tuple(Split), tuple(Kind), tuple(AnnotationSource)

SORTS = {
    "path": "path (A-Z)",
    "newest": "newest first",
    "oldest": "oldest first",
    "confident": "most confident prediction first",
    "doubtful": "least confident prediction first",
}
PREDICTION_SORTS = ("confident", "doubtful")  # need ImageFilter.prediction_run


@dataclass(frozen=True)
class ImageFilter:
    """What the grid shows. ``attribute_id`` scopes ``label_id``, ``unlabeled`` and ``source``."""

    attribute_id: int | None = None
    label_id: int | None = None
    has_label: bool = True  # False: images without ``label_id``
    split: str | None = None  # "train" | "val" | "test" | "none" (no split) | None (any)
    unlabeled: bool = False  # no label of ``attribute_id`` (of any attribute when it is None)
    source: str | None = None  # has an annotation from this source ("human" | "import" | "model")
    run_id: int | None = None  # only the images this run was tested on
    text: str = ""  # case-insensitive substring of the path
    sort: str = "path"
    prediction_run: int | None = None  # the run whose predictions the next fields filter by (alone: none hidden)
    predicted_label_id: int | None = None  # the run predicts this label (its top label)
    min_confidence: float = 0.0  # the top label's score is at least this
    disagrees: bool = False  # labeled, and the predicted label is not among the image's labels


@dataclass(frozen=True)
class ImageRow:
    id: int
    path: str
    content_hash: str
    width: int
    height: int
    split: str | None
    labels: tuple[str, ...]  # names of the filter attribute's labels on the image
    predicted: str | None = None  # the prediction run's top label, when it predicted the image
    confidence: float | None = None


@dataclass(frozen=True)
class AnnotationInfo:
    attribute: str
    label: str
    source: str
    created_at: datetime


@dataclass(frozen=True)
class ImageDetail:
    id: int
    path: str
    content_hash: str
    width: int
    height: int
    split: str | None
    added_at: datetime
    updated_at: datetime
    annotations: tuple[AnnotationInfo, ...]


@dataclass(frozen=True)
class LabelInfo:
    id: int
    name: str
    count: int


@dataclass(frozen=True)
class AttributeInfo:
    id: int
    name: str
    kind: str  # "single" | "multi"
    labels: int
    images: int


@dataclass(frozen=True)
class LabelCount:
    label_id: int
    name: str
    count: int


@dataclass(frozen=True)
class LabelCounts:
    """Images per label of one attribute, in one split or all (``split`` None)."""

    attribute: str
    kind: str
    split: str | None
    images: int  # images with at least one label of the attribute
    labels: tuple[LabelCount, ...]

    @property
    def annotations(self) -> int:
        return sum(item.count for item in self.labels)
