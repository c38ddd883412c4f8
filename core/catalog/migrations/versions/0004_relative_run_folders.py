"""Run folders inside the catalog's own ``CATALOG.runs`` folder are recorded relative to it (see core.catalog.runs), so a
copied or moved catalog finds its own run files. SQLite only: a URL catalog's runs keep absolute folders.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

RUN = sa.table("run", sa.column("id", sa.Integer), sa.column("directory", sa.String))


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "sqlite":
        return
    files = [row[2] for row in conn.exec_driver_sql("PRAGMA database_list") if row[1] == "main"]
    if not files or not files[0]:
        return
    prefix = files[0] + ".runs/"
    for run_id, directory in conn.execute(sa.select(RUN.c.id, RUN.c.directory)).all():
        if directory.startswith(prefix):
            conn.execute(RUN.update().where(RUN.c.id == run_id).values(directory=directory[len(prefix) :]))


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "sqlite":
        return
    files = [row[2] for row in conn.exec_driver_sql("PRAGMA database_list") if row[1] == "main"]
    for run_id, directory in conn.execute(sa.select(RUN.c.id, RUN.c.directory)).all():
        if files and files[0] and not directory.startswith("/"):
            conn.execute(RUN.update().where(RUN.c.id == run_id).values(directory=f"{files[0]}.runs/{directory}"))
