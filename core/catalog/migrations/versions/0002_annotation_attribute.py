"""Annotations carry their label's attribute, for index-only statistics.

Counting the images of a multi-label attribute with a join through ``label`` took 0.6 s on 1,000,000 annotations;
with ``annotation.attribute_id`` and an (attribute_id, image_id) index it is an index scan. A composite foreign key
to ``label(id, attribute_id)`` keeps the copy consistent with the label.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("label") as batch:
        batch.create_unique_constraint("uq_label_id_attribute", ["id", "attribute_id"])
    with op.batch_alter_table("annotation") as batch:
        batch.add_column(sa.Column("attribute_id", sa.Integer, nullable=True))
    op.execute(
        "UPDATE annotation SET attribute_id = "
        "(SELECT label.attribute_id FROM label WHERE label.id = annotation.label_id)"
    )
    with op.batch_alter_table("annotation") as batch:
        batch.alter_column("attribute_id", existing_type=sa.Integer, nullable=False)
        batch.drop_constraint("fk_annotation_label", type_="foreignkey")
        batch.create_foreign_key(
            "fk_annotation_label_attribute",
            "label",
            ["label_id", "attribute_id"],
            ["id", "attribute_id"],
            ondelete="CASCADE",
        )
    op.create_index("ix_annotation_attribute_image", "annotation", ["attribute_id", "image_id"])


def downgrade() -> None:
    op.drop_index("ix_annotation_attribute_image", "annotation")
    with op.batch_alter_table("annotation") as batch:
        batch.drop_constraint("fk_annotation_label_attribute", type_="foreignkey")
        batch.drop_column("attribute_id")
        batch.create_foreign_key("fk_annotation_label", "label", ["label_id"], ["id"], ondelete="CASCADE")
    with op.batch_alter_table("label") as batch:
        batch.drop_constraint("uq_label_id_attribute", type_="unique")
