"""Score thresholds saved with a run, one per label (the Runs tab's operating points): picked on the label's PR
curve or set at a target precision. They are exported beside the model and used by accepting predictions."""

from __future__ import annotations

import math
from dataclasses import dataclass

from sqlalchemy import delete, select, type_coerce
from sqlalchemy.types import NullType

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


class SavedThresholds(dict[int, SavedThreshold]):
    """Label id -> the threshold saved with a run; ``ignored``: one line per stored value that was not a score
    between 0 and 1 (a shared catalog may hold anything: Inf, -5, text), left out."""

    def __init__(self, items: dict[int, SavedThreshold], ignored: list[str]) -> None:
        super().__init__(items)
        self.ignored = ignored


def saved_thresholds(catalog: Catalog, run_id: int) -> SavedThresholds:
    """Label id -> the valid threshold saved with the run (labels without one, or with an invalid one, are
    absent; the invalid ones are named in ``ignored``)."""
    raw = type_coerce(RunThreshold.threshold, NullType())  # the stored value as is: SQLite keeps text in a REAL
    with catalog.session() as s:
        rows = s.execute(select(RunThreshold.label_id, raw, RunThreshold.chosen).where(RunThreshold.run_id == run_id))
        found, ignored = {}, []
        for label_id, value, chosen in rows:
            threshold = _score(value)
            if threshold is None:
                ignored.append(f"run {run_id}: the threshold saved for label id {label_id} ({str(value)[:40]!r}) "
                               "is not a score between 0 and 1; ignored")  # fmt: skip
            else:
                found[int(label_id)] = SavedThreshold(int(label_id), threshold, str(chosen))
    return SavedThresholds(found, ignored)


def _score(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) and 0.0 <= number <= 1.0 else None


def save_thresholds(catalog: Catalog, run_id: int, thresholds: dict[int, float | None], chosen: str) -> None:
    """Save (or replace) the run's thresholds of these labels in one transaction; None clears a label's."""
    run = get_run(catalog, run_id)
    if run.status != RunStatus.FINISHED:
        raise TailorError(f"run {run_id} is {run.status}; thresholds are saved with finished runs")
    known = {label.id for label in run.labels}
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
