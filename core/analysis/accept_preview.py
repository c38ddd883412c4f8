"""What accepting a run's predictions above thresholds would do, per label, before anything is written: the images
it would label, the threshold (saved with the run, else at the target precision), the label's test positives and
the precision with its 95% interval there. A label with fewer than the minimum test count is marked: a threshold
"at 100% precision" from one test image is no evidence (sneaker: 69 images labelled on one positive, 46 right)."""

from __future__ import annotations

from dataclasses import dataclass

from core.analysis.compare import MIN_TEST_IMAGES
from core.analysis.operating_points import operating_points
from core.catalog.model_edits import accept_counts
from core.catalog.store import Catalog


@dataclass(frozen=True)
class AcceptRow:
    label_id: int
    label: str
    images: int  # images that would get this label
    threshold: float | None  # None: no threshold reaches the target precision; never accepted
    chosen: str  # how the threshold was chosen
    test_positives: int
    precision: float | None
    precision_ci: list[float] | None

    @property
    def enough(self) -> bool:
        """Whether the label has the minimum test count for its threshold to be trusted."""
        return self.test_positives >= MIN_TEST_IMAGES


def accept_preview(catalog: Catalog, run_id: int, target_precision: float, resamples: int = 500) -> list[AcceptRow]:
    """Per label of the run (its output order), what accepting above thresholds would do (nothing is written)."""
    points = operating_points(catalog, run_id, target_precision, resamples=resamples)
    used = {p.label_id: (p.saved, p.chosen or "saved with the run") if p.saved else (p.at_target, "") for p in points}
    thresholds = {label_id: measured.threshold if measured else None for label_id, (measured, _) in used.items()}
    counts = accept_counts(catalog, run_id, None, thresholds)
    rows = []
    for p in points:
        measured, how = used[p.label_id]
        if measured is None:
            how = f"no threshold reaches {target_precision:.0%} precision on the test images"
        rows.append(
            AcceptRow(
                p.label_id,
                p.label,
                counts.get(p.label_id, 0) if measured else 0,
                measured.threshold if measured else None,
                how or f"at {target_precision:.0%} precision",
                p.positives,
                measured.precision if measured else None,
                measured.precision_ci if measured and p.positives >= 2 else None,  # one test image: no interval
            )
        )
    return rows
