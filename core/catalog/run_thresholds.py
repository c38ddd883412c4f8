"""Score thresholds saved with a run, one per label (the Runs tab's operating points): picked on the label's PR
curve or set at a target precision. They are exported beside the model and used by accepting predictions."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select

from core.base.errors import TailorError
from core.catalog.records import RunStatus
from core.catalog.runs import get_run
from core.catalog.schema import RunThreshold
from core.catalog.store import Catalog


@dataclass(frozen=True)
class SavedThreshold:
    label_id: int
    threshold: float
    chosen: str  # how: "picked on the curve", "at 60% precision"


def saved_thresholds(catalog: Catalog, run_id: int) -> dict[int, SavedThreshold]:
    """Label id -> the threshold saved with the run (labels without one are absent)."""
    with catalog.session() as s:
        rows = s.execute(
            select(RunThreshold.label_id, RunThreshold.threshold, RunThreshold.chosen).where(
                RunThreshold.run_id == run_id
            )
        ).all()
    return {int(r[0]): SavedThreshold(int(r[0]), float(r[1]), str(r[2])) for r in rows}


def save_thresholds(catalog: Catalog, run_id: int, thresholds: dict[int, float | None], chosen: str) -> None:
    """Save (or replace) the run's thresholds of these labels in one transaction; None clears a label's."""
    run = get_run(catalog, run_id)
    if run.status != RunStatus.FINISHED:
        raise TailorError(f"run {run_id} is {run.status}; thresholds are saved with finished runs")
    known = {int(label["id"]) for label in run.labels}
    unknown = sorted(set(thresholds) - known)
    if unknown:
        raise TailorError(f"run {run_id} has no label with id {', '.join(str(i) for i in unknown)}")
    for label_id, value in thresholds.items():
        if value is not None and not 0.0 <= value <= 1.0:
            raise TailorError(f"a threshold is a score between 0 and 1, got {value} for label id {label_id}")
    with catalog.session(write=True) as s:
        s.execute(
            delete(RunThreshold).where(RunThreshold.run_id == run_id, RunThreshold.label_id.in_(list(thresholds)))
        )
        s.add_all(
            RunThreshold(run_id=run_id, label_id=label_id, threshold=float(value), chosen=chosen)
            for label_id, value in thresholds.items()
            if value is not None
        )
