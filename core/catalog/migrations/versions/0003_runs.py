"""Training runs: configuration and status, per-epoch metrics, the frozen image snapshot with test scores.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "run",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("attribute_id", sa.Integer, sa.ForeignKey("attribute.id", ondelete="SET NULL"), nullable=True),
        sa.Column("attribute_name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("loss", sa.String(32), nullable=False),
        sa.Column("backbone", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("message", sa.Text, nullable=True),
        sa.Column("config", sa.Text, nullable=False),
        sa.Column("labels", sa.Text, nullable=False),
        sa.Column("directory", sa.String(4096), nullable=False),
        sa.Column("device", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("finished_at", sa.DateTime, nullable=True),
        sa.Column("epochs_done", sa.Integer, nullable=False),
        sa.Column("seconds", sa.Float, nullable=True),
        sa.Column("images_per_second", sa.Float, nullable=True),
        sa.Column("metrics", sa.Text, nullable=True),
        sa.Column("base_run_id", sa.Integer, sa.ForeignKey("run.id", ondelete="SET NULL"), nullable=True),
        sa.CheckConstraint(
            "status IN ('running', 'finished', 'failed', 'cancelled', 'interrupted')", name="ck_run_status"
        ),
    )
    op.create_index("ix_run_attribute_id", "run", ["attribute_id"])
    op.create_table(
        "run_epoch",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("run.id", ondelete="CASCADE"), nullable=False),
        sa.Column("epoch", sa.Integer, nullable=False),
        sa.Column("train_loss", sa.Float, nullable=False),
        sa.Column("test_loss", sa.Float, nullable=True),
        sa.Column("top1", sa.Float, nullable=True),
        sa.Column("acsa", sa.Float, nullable=True),
        sa.Column("gm", sa.Float, nullable=True),
        sa.Column("macro_ap", sa.Float, nullable=True),
        sa.Column("seconds", sa.Float, nullable=False),
        sa.Column("per_label", sa.Text, nullable=False),
        sa.UniqueConstraint("run_id", "epoch", name="uq_run_epoch"),
    )
    op.create_table(
        "run_image",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("run.id", ondelete="CASCADE"), nullable=False),
        sa.Column("image_id", sa.Integer, sa.ForeignKey("image.id", ondelete="CASCADE"), nullable=False),
        sa.Column("path", sa.String(4096), nullable=False),
        sa.Column("split", sa.String(8), nullable=False),
        sa.Column("targets", sa.String(2000), nullable=False),
        sa.Column("scores", sa.LargeBinary, nullable=True),
        sa.CheckConstraint("split IN ('train', 'val', 'test')", name="ck_run_image_split"),
        sa.UniqueConstraint("run_id", "image_id", name="uq_run_image"),
    )
    op.create_index("ix_run_image_image_id", "run_image", ["image_id"])


def downgrade() -> None:
    op.drop_table("run_image")
    op.drop_table("run_epoch")
    op.drop_index("ix_run_attribute_id", "run")
    op.drop_table("run")
