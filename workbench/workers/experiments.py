"""The variant matrix for the window: ``tailor matrix`` as a job a ``JobRunner`` runs on a worker thread (its catalog
opened once, in the worker; torch imported there)."""

from __future__ import annotations

import threading
from collections.abc import Generator
from typing import TYPE_CHECKING

from workbench.workers.curation import feature_progress
from workbench.workers.progress import Progress, count, described
from workbench.workers.torch_loading import import_training

if TYPE_CHECKING:
    from core.experiments.matrix import MatrixPlan


def _matrix_progress(event: object) -> Progress | None:
    from core.experiments.matrix import MatrixProgress

    if isinstance(event, MatrixProgress):
        return count("Training the matrix: {done} of {total} runs finished", event.done, event.total)
    return feature_progress(event)


def matrix_job(location: str, plan: MatrixPlan, *, cancel: threading.Event) -> Generator[Progress, None, dict | None]:
    """Train the matrix the Matrix tab asks for and return its table (None when cancelled)."""
    import_training()
    from core.catalog.store import Catalog
    from core.experiments.matrix import base_config, matrix_table, train_matrix

    with Catalog(location) as catalog:
        base = base_config(catalog, plan.attribute, plan.features_of, epochs=plan.epochs)
        events = train_matrix(catalog, base, list(plan.variants), list(plan.seeds), cancel=cancel)
        result = yield from described(events, _matrix_progress)
        if result.cancelled:
            return None
        return matrix_table(catalog, result, plan.baseline)
