"""The catalog's tables as SQLAlchemy 2 typed ORM models.

These are the schema at the newest migration (``core/catalog/migrations/versions``); a test checks that the two agree.
Code outside ``core`` never sees these objects: the catalog API hands out plain dataclasses.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    pass


class Image(Base):
    __tablename__ = "image"
    __table_args__ = (
        CheckConstraint("split IN ('train', 'val', 'test')", name="ck_image_split"),
        UniqueConstraint("path", name="uq_image_path"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    path: Mapped[str] = mapped_column(String(4096))
    content_hash: Mapped[str] = mapped_column(String(64))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    split: Mapped[str | None] = mapped_column(String(8), index=True)
    added_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    annotations: Mapped[list[Annotation]] = relationship(back_populates="image", passive_deletes=True)


class Attribute(Base):
    __tablename__ = "attribute"
    __table_args__ = (
        CheckConstraint("kind IN ('single', 'multi')", name="ck_attribute_kind"),
        UniqueConstraint("name", name="uq_attribute_name"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    labels: Mapped[list[Label]] = relationship(back_populates="attribute", passive_deletes=True)


class Label(Base):
    __tablename__ = "label"
    __table_args__ = (
        UniqueConstraint("attribute_id", "name", name="uq_label_attribute_name"),
        # Lets annotation carry (label_id, attribute_id) with a foreign key that keeps the two consistent.
        UniqueConstraint("id", "attribute_id", name="uq_label_id_attribute"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    attribute_id: Mapped[int] = mapped_column(ForeignKey("attribute.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))

    attribute: Mapped[Attribute] = relationship(back_populates="labels")


class Annotation(Base):
    """One label on one image. ``attribute_id`` repeats the label's attribute (kept consistent by a composite
    foreign key) so that per-attribute counts and image counts are index-only scans."""

    __tablename__ = "annotation"
    __table_args__ = (
        UniqueConstraint("image_id", "label_id", name="uq_annotation_image_label"),
        ForeignKeyConstraint(
            ["label_id", "attribute_id"],
            ["label.id", "label.attribute_id"],
            name="fk_annotation_label_attribute",
            ondelete="CASCADE",
        ),
        CheckConstraint("source IN ('human', 'import', 'model')", name="ck_annotation_source"),
        Index("ix_annotation_label_image", "label_id", "image_id"),
        Index("ix_annotation_attribute_image", "attribute_id", "image_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    image_id: Mapped[int] = mapped_column(ForeignKey("image.id", ondelete="CASCADE"))
    label_id: Mapped[int] = mapped_column(Integer)
    attribute_id: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    image: Mapped[Image] = relationship(back_populates="annotations")
    label: Mapped[Label] = relationship(
        foreign_keys=[label_id], primaryjoin="Annotation.label_id == Label.id", viewonly=True
    )


class Run(Base):
    """One training run: its configuration, its frozen label list, its status and its final metrics (JSON)."""

    __tablename__ = "run"
    __table_args__ = (
        CheckConstraint(
            "status IN ('running', 'finished', 'failed', 'cancelled', 'interrupted')", name="ck_run_status"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    attribute_id: Mapped[int | None] = mapped_column(ForeignKey("attribute.id", ondelete="SET NULL"), index=True)
    attribute_name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(8))
    loss: Mapped[str] = mapped_column(String(32))
    backbone: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    message: Mapped[str | None] = mapped_column(Text)
    config: Mapped[str] = mapped_column(Text)  # JSON of the TrainConfig
    labels: Mapped[str] = mapped_column(Text)  # JSON list of {"id", "name", "train", "test"} in model output order
    directory: Mapped[str] = mapped_column(String(4096))
    device: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    epochs_done: Mapped[int] = mapped_column(Integer, default=0)
    seconds: Mapped[float | None] = mapped_column(Float)
    images_per_second: Mapped[float | None] = mapped_column(Float)
    metrics: Mapped[str | None] = mapped_column(Text)  # JSON: {"last": evaluate(...), "best": {...}}
    base_run_id: Mapped[int | None] = mapped_column(ForeignKey("run.id", ondelete="SET NULL"))


class RunEpoch(Base):
    """Scalar metrics of one epoch of a run (per-label AP and accuracy in ``per_label`` JSON)."""

    __tablename__ = "run_epoch"
    __table_args__ = (UniqueConstraint("run_id", "epoch", name="uq_run_epoch"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("run.id", ondelete="CASCADE"))
    epoch: Mapped[int] = mapped_column(Integer)
    train_loss: Mapped[float] = mapped_column(Float)
    test_loss: Mapped[float | None] = mapped_column(Float)
    top1: Mapped[float | None] = mapped_column(Float)
    acsa: Mapped[float | None] = mapped_column(Float)
    gm: Mapped[float | None] = mapped_column(Float)
    macro_ap: Mapped[float | None] = mapped_column(Float)
    seconds: Mapped[float] = mapped_column(Float)
    per_label: Mapped[str] = mapped_column(Text)


class RunImage(Base):
    """The frozen snapshot of a run: each image, its split in the run, its targets and (test) its scores."""

    __tablename__ = "run_image"
    __table_args__ = (
        UniqueConstraint("run_id", "image_id", name="uq_run_image"),
        CheckConstraint("split IN ('train', 'val', 'test')", name="ck_run_image_split"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("run.id", ondelete="CASCADE"))
    image_id: Mapped[int] = mapped_column(ForeignKey("image.id", ondelete="CASCADE"), index=True)
    path: Mapped[str] = mapped_column(String(4096))
    split: Mapped[str] = mapped_column(String(8))
    targets: Mapped[str] = mapped_column(String(2000))  # space-separated label indices in the run's label order
    scores: Mapped[bytes | None] = mapped_column(LargeBinary)  # float32 scores of the final model (val/test)


class Prediction(Base):
    """A run's scores for one catalog image (float32, the run's label order), its top label and that label's score."""

    __tablename__ = "prediction"
    __table_args__ = (
        UniqueConstraint("run_id", "image_id", name="uq_prediction_run_image"),
        Index("ix_prediction_run_label_confidence", "run_id", "label_id", "confidence"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("run.id", ondelete="CASCADE"))
    image_id: Mapped[int] = mapped_column(ForeignKey("image.id", ondelete="CASCADE"), index=True)
    label_id: Mapped[int] = mapped_column(Integer)
    confidence: Mapped[float] = mapped_column(Float)
    scores: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class LabelReview(Base):
    """A flagged label a person kept: not proposed again for the same image, labels and feature extractor."""

    __tablename__ = "label_review"
    __table_args__ = (
        CheckConstraint("decision IN ('kept')", name="ck_label_review_decision"),
        Index("ix_label_review_attribute_image", "attribute_id", "image_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    image_id: Mapped[int] = mapped_column(ForeignKey("image.id", ondelete="CASCADE"))
    attribute_id: Mapped[int] = mapped_column(ForeignKey("attribute.id", ondelete="CASCADE"))
    labels: Mapped[str] = mapped_column(String(2000))  # the given label ids, sorted, space-separated
    features: Mapped[str] = mapped_column(String(200))  # the feature store's name (extractor and its key digest)
    decision: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class RunThreshold(Base):
    """A run's score threshold for one label, chosen in the Runs tab (picked on its PR curve, or at a target
    precision): what exports beside the model and what accepting predictions uses."""

    __tablename__ = "run_threshold"
    __table_args__ = (UniqueConstraint("run_id", "label_id", name="uq_run_threshold_run_label"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("run.id", ondelete="CASCADE"))
    label_id: Mapped[int] = mapped_column(Integer)
    threshold: Mapped[float] = mapped_column(Float)
    chosen: Mapped[str] = mapped_column(String(40))  # "picked on the curve" | "at 60% precision"
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class LabelAnswer(Base):
    """A person's "no" to "is this image a L?" (the Label next queue): that image is not proposed for L again."""

    __tablename__ = "label_answer"
    __table_args__ = (
        CheckConstraint("answer IN ('no')", name="ck_label_answer_answer"),
        UniqueConstraint("image_id", "label_id", name="uq_label_answer_image_label"),
        Index("ix_label_answer_label_image", "label_id", "image_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    image_id: Mapped[int] = mapped_column(ForeignKey("image.id", ondelete="CASCADE"))
    attribute_id: Mapped[int] = mapped_column(ForeignKey("attribute.id", ondelete="CASCADE"))
    label_id: Mapped[int] = mapped_column(ForeignKey("label.id", ondelete="CASCADE"))
    answer: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
