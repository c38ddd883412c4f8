"""Initial catalog: images, attributes, labels, annotations.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "image",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("path", sa.String(4096), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("width", sa.Integer, nullable=False),
        sa.Column("height", sa.Integer, nullable=False),
        sa.Column("split", sa.String(8), nullable=True),
        sa.Column("added_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.CheckConstraint("split IN ('train', 'val', 'test')", name="ck_image_split"),
        sa.UniqueConstraint("path", name="uq_image_path"),
    )
    op.create_index("ix_image_split", "image", ["split"])
    op.create_table(
        "attribute",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.CheckConstraint("kind IN ('single', 'multi')", name="ck_attribute_kind"),
        sa.UniqueConstraint("name", name="uq_attribute_name"),
    )
    op.create_table(
        "label",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("attribute_id", sa.Integer, sa.ForeignKey("attribute.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.UniqueConstraint("attribute_id", "name", name="uq_label_attribute_name"),
    )
    op.create_table(
        "annotation",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("image_id", sa.Integer, sa.ForeignKey("image.id", ondelete="CASCADE"), nullable=False),
        sa.Column("label_id", sa.Integer, nullable=False),
        sa.Column("source", sa.String(8), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.ForeignKeyConstraint(["label_id"], ["label.id"], name="fk_annotation_label", ondelete="CASCADE"),
        sa.CheckConstraint("source IN ('human', 'import', 'model')", name="ck_annotation_source"),
        sa.UniqueConstraint("image_id", "label_id", name="uq_annotation_image_label"),
    )
    op.create_index("ix_annotation_label_image", "annotation", ["label_id", "image_id"])


def downgrade() -> None:
    op.drop_table("annotation")
    op.drop_table("label")
    op.drop_table("attribute")
    op.drop_index("ix_image_split", "image")
    op.drop_table("image")
