"""Answers to "is this image a L?" from the Label next queue: a "no" is remembered per image and label, so the
queue never proposes that image for that label again ("yes" labels the image, source ``human``).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "label_answer",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("image_id", sa.Integer, sa.ForeignKey("image.id", ondelete="CASCADE"), nullable=False),
        sa.Column("attribute_id", sa.Integer, sa.ForeignKey("attribute.id", ondelete="CASCADE"), nullable=False),
        sa.Column("label_id", sa.Integer, sa.ForeignKey("label.id", ondelete="CASCADE"), nullable=False),
        sa.Column("answer", sa.String(8), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.CheckConstraint("answer IN ('no')", name="ck_label_answer_answer"),
        sa.UniqueConstraint("image_id", "label_id", name="uq_label_answer_image_label"),
    )
    op.create_index("ix_label_answer_label_image", "label_answer", ["label_id", "image_id"])


def downgrade() -> None:
    op.drop_index("ix_label_answer_label_image", table_name="label_answer")
    op.drop_table("label_answer")
