"""The variant matrix for the window: ``tailor matrix`` as a generator a ProgressJob runs on a worker thread (its
catalog opened once, in the worker; torch imported there)."""

from __future__ import annotations

import threading
from collections.abc import Generator
from typing import Any

from workbench.workers.torch_loading import import_training


def matrix_job(location: str, request: dict, *, cancel: threading.Event) -> Generator[Any, None, dict | None]:
    """Train the matrix the Matrix tab asks for and return its table (None when cancelled)."""
    import_training()
    from core.catalog.store import Catalog
    from core.experiments.matrix import base_config, matrix_table, train_matrix

    with Catalog(location) as catalog:
        base = base_config(catalog, request["attribute"], request["features_of"], epochs=request["epochs"])
        result = yield from train_matrix(catalog, base, request["variants"], request["seeds"], cancel=cancel)
        if result.cancelled:
            return None
        return matrix_table(catalog, result, request["baseline"])
