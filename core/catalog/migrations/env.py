"""Alembic environment: runs on the connection handed over by :func:`core.catalog.engine.migrate`.

Batch mode is on so that SQLite, which cannot alter constraints, gets its tables rebuilt.
"""

from alembic import context
from sqlalchemy import create_engine

from core.catalog.schema import Base

config = context.config
connection = config.attributes.get("connection")


def _run(conn) -> None:
    context.configure(connection=conn, target_metadata=Base.metadata, render_as_batch=True, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


if connection is not None:
    _run(connection)
else:  # `alembic -x` from a shell, with sqlalchemy.url set in a config file
    engine = create_engine(config.get_main_option("sqlalchemy.url"))
    with engine.begin() as conn:
        _run(conn)
