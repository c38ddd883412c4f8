"""The variant matrix for the window: ``tailor matrix`` as a job a ``JobRunner`` runs on a worker thread (its catalog
opened once, in the worker; torch imported there)."""

from __future__ import annotations

import threading
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from workbench.workers.curation import feature_progress
from workbench.workers.progress import Progress, described
from workbench.workers.torch_loading import import_training

if TYPE_CHECKING:
    from core.experiments.matrix import MatrixPlan


class MatrixProgressText:
    """The matrix's progress for the dialog: which run of how many, and its epochs as they finish (the heads'
    progress: after the first run's feature pass, the rest of the matrix is heads training)."""

    EPOCH_STEPS = 100  # the bar's steps per run

    def __init__(self) -> None:
        self.current: Any = None

    def __call__(self, event: object) -> Progress | None:
        from core.experiments.matrix import MatrixProgress
        from core.training.events import EpochFinished

        if isinstance(event, MatrixProgress):
            self.current = event
            if event.done >= event.total:
                steps = event.total * self.EPOCH_STEPS
                return Progress(f"Training the matrix: {event.total:,} of {event.total:,} runs finished", steps, steps)
            return self._text(event, "starting")
        if isinstance(event, EpochFinished) and self.current is not None:
            return self._text(
                self.current, f"epoch {event.epoch} of {event.epochs}", event.epoch / max(event.epochs, 1)
            )
        return feature_progress(event)

    def _text(self, at: Any, what: str, fraction: float = 0.0) -> Progress:
        text = f"Training the matrix: run {at.done + 1} of {at.total} ({at.variant}, seed {at.seed}), {what}"
        steps = self.EPOCH_STEPS
        return Progress(text, int((at.done + fraction) * steps), at.total * steps)


def matrix_job(location: str, plan: MatrixPlan, *, cancel: threading.Event) -> Generator[Progress, None, dict | None]:
    """Train the matrix the Matrix tab asks for and return its table (None when cancelled)."""
    import_training()
    from core.catalog.store import Catalog
    from core.experiments.matrix import base_config, matrix_table, train_matrix

    with Catalog(location) as catalog:
        base = base_config(catalog, plan.attribute, plan.features_of, epochs=plan.epochs)
        events = train_matrix(catalog, base, list(plan.variants), list(plan.seeds), cancel=cancel)
        result = yield from described(events, MatrixProgressText())
        if result.cancelled:
            return None
        return matrix_table(catalog, result, plan.baseline)
