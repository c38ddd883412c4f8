"""The catalog: where images, attributes, labels, annotations and run records are stored.

The SQLAlchemy engine and migrations (``engine``, ``schema``, ``migrations/``), the open catalog
(:class:`core.catalog.store.Catalog`), undoable annotation edits (``edits``), the browser's queries (``browse``), run
records and their folders (``runs``, ``run_lock``), the frozen training snapshot of an attribute (``snapshot``), name
limits (``names``) and the check that keeps outputs off catalogs (``outputs``). Everything that reads or writes the
database lives here; callers get frozen dataclasses, never ORM objects. No torch. Imports only :mod:`core.base` and
:mod:`core.config` from the rest of ``core``.
"""
