"""Predictions of a run for catalog images, and the label-issue decisions people made.

``prediction``: one row per (run, image): every label's score (float32, the run's label order), the top label and
its score, so Browse filters and sorts in SQL. ``label_review``: a label a person kept although it was flagged as a
suspected error, remembered per image, attribute, given labels and feature extractor, so the same features never
propose it again.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "prediction",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("run.id", ondelete="CASCADE"), nullable=False),
        sa.Column("image_id", sa.Integer, sa.ForeignKey("image.id", ondelete="CASCADE"), nullable=False),
        sa.Column("label_id", sa.Integer, nullable=False),
        sa.Column("confidence", sa.Float, nullable=False),
        sa.Column("scores", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("run_id", "image_id", name="uq_prediction_run_image"),
    )
    op.create_index("ix_prediction_image_id", "prediction", ["image_id"])
    op.create_index("ix_prediction_run_label_confidence", "prediction", ["run_id", "label_id", "confidence"])
    op.create_table(
        "label_review",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("image_id", sa.Integer, sa.ForeignKey("image.id", ondelete="CASCADE"), nullable=False),
        sa.Column("attribute_id", sa.Integer, sa.ForeignKey("attribute.id", ondelete="CASCADE"), nullable=False),
        sa.Column("labels", sa.String(2000), nullable=False),
        sa.Column("features", sa.String(200), nullable=False),
        sa.Column("decision", sa.String(8), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.CheckConstraint("decision IN ('kept')", name="ck_label_review_decision"),
    )
    op.create_index("ix_label_review_attribute_image", "label_review", ["attribute_id", "image_id"])


def downgrade() -> None:
    op.drop_table("label_review")
    op.drop_table("prediction")
