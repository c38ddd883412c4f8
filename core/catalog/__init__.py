"""The catalog: where images, attributes, labels, annotations and run records are stored.

The SQLAlchemy engine and migrations (``engine``, ``schema``, ``migrations/``), the open :class:`~core.catalog.store.Catalog`,
annotation edits, the browser's queries, run records and their folders (``runs``, ``run_lock``), the frozen
training snapshot of an attribute, name limits, and the check that keeps outputs off catalogs. Everything that
reads or writes the database lives here; nothing here imports torch, numpy-free where practical.
Imports only :mod:`core.base.errors` and :mod:`core.config` from the rest of ``core``.
"""
