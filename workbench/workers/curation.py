"""The window's curation jobs, run on worker threads by a ``JobRunner``: each opens its own catalog from the location
and imports ``core.curation`` (torch, cleanlab) there, never on the GUI thread, torch through
:func:`import_training` (its import otherwise stalls the event loop by up to 250 ms), and reports
:class:`~workbench.workers.progress.Progress`."""

from __future__ import annotations

import threading
from collections.abc import Generator
from typing import Any

from workbench.workers.progress import Progress, count, described
from workbench.workers.torch_loading import import_training


def feature_progress(event: object) -> Progress | None:
    """A feature pass's or a weights download's progress (``core.training.events``), else None."""
    from core.training.events import FeatureProgress, WeightsDownload

    if isinstance(event, FeatureProgress):
        return count("Computing features: {done} of {total} images", event.done, event.total)
    if isinstance(event, WeightsDownload):
        text = f"Downloading weights: {event.done / 1e6:.1f} of {event.total / 1e6:.1f} MB"
        return Progress(text, event.done, event.total)
    return None


def _predict_progress(event: object) -> Progress | None:
    from core.curation.predict import WriteProgress

    if isinstance(event, WriteProgress):
        return count("Writing predictions: {done} of {total}", event.done, event.total)
    return feature_progress(event)


def _issues_progress(event: object) -> Progress | None:
    from core.curation.crossfit import FoldProgress

    if isinstance(event, FoldProgress):
        return count("Cross-fitting: fold {done} of {total} done", event.done, event.total)
    return feature_progress(event)


def predict_job(
    location: str, run_id: int, scope: str, image_ids: list[int] | None, *, cancel: threading.Event
) -> Generator[Progress, None, Any]:
    """``tailor predict`` for the window (``image_ids``: these images, else the scope); returns the PredictResult."""
    import_training()
    from core.curation.predict import predict

    events = predict(location, run_id, scope=scope, image_ids=image_ids, cancel=cancel)
    return (yield from described(events, _predict_progress))


def issues_job(
    location: str, attribute: str, features_of: int | None, folds: int, *, cancel: threading.Event
) -> Generator[Progress, None, Any]:
    """``tailor label-issues`` for the window; returns the IssueReport."""
    import_training()
    from core.curation.crossfit import CrossFit
    from core.curation.label_issues import FeatureChoice, find_issues

    choice = FeatureChoice(features_of=features_of)
    events = find_issues(location, attribute, choice, settings=CrossFit(folds=folds), cancel=cancel)
    return (yield from described(events, _issues_progress))


def duplicate_warning(catalog, run_id: int) -> str:  # type: ignore[no-untyped-def]
    """The Runs tab's warning about a run's test images with a twin in its training split ("" when none): identical
    files always, near duplicates when the run's features are stored (no backbone pass for a warning)."""
    import_training()
    from core.base.iteration import drain
    from core.curation.duplicates import find_duplicates

    report = drain(find_duplicates(catalog, run_id=run_id, stored_only=True))
    twins = report.test_images_with_training_twin
    if not twins:
        return ""
    what = "identical or near-identical (cosine ≥ 0.95)" if report.features else "identical"
    return (
        f"⚠ {twins:,} test image{'s' if twins != 1 else ''} of run {run_id} "
        f"{'have' if twins != 1 else 'has'} an {what} twin in its training split: its test metrics are optimistic "
        f"(tailor duplicates CATALOG --run {run_id} lists them)"
    )


def similar_job(
    location: str, image_ids: list[int], k: int, attribute: str | None, *, cancel: threading.Event
) -> Generator[Progress, None, Any]:
    """``tailor similar`` for the window (every image searched: Browse's filters narrow the result); returns the
    SimilarResult."""
    import_training()
    from core.curation.similar import find_similar

    events = find_similar(location, image_ids, k=k, attribute=attribute, cancel=cancel)
    return (yield from described(events, feature_progress))


def suggest_job(
    location: str, attribute: str, labels: list[str] | None, count: int, run_id: int | None, *,
    cancel: threading.Event,
) -> Generator[Progress, None, Any]:  # fmt: skip
    """``tailor suggest`` for the window (the Label next queue); returns the SuggestReport."""
    import_training()
    from core.curation.suggest import suggest

    events = suggest(location, attribute, labels, count=count, run_id=run_id, cancel=cancel)
    return (yield from described(events, feature_progress))


def _map_progress(event: object) -> Progress | None:
    from core.features.projection import MapProgress

    if isinstance(event, MapProgress):
        return count(f"Laying out the map ({event.what}): step {{done}} of {{total}}", event.done, event.total)
    return feature_progress(event)


def map_job(location: str, attribute: str | None, *, cancel: threading.Event) -> Generator[Progress, None, Any]:
    """``tailor map`` for the window (features first where missing); returns the CatalogMap."""
    import_training()
    from core.curation.catalog_map import catalog_map

    return (yield from described(catalog_map(location, attribute=attribute, cancel=cancel), _map_progress))


def stored_map(location: str, attribute: str | None) -> Any:
    """The map kept beside the feature store when it holds every image (nothing computed), else None."""
    import_training()
    from core.base.iteration import drain
    from core.curation.catalog_map import catalog_map

    return drain(catalog_map(location, attribute=attribute, only_stored=True))
