"""The Browse tab's second filter row: a run's stored predictions (filter by predicted label, confidence, or
disagreement with the label; sort by confidence) and Accept predictions, on the selection or above per-label
thresholds (saved with the run, else at a target precision)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QMenu, QSpinBox, QToolButton, QWidget

from core.catalog.records import ImageFilter, LabelInfo
from workbench.widgets import plain

if TYPE_CHECKING:
    from core.catalog.store import Catalog

SORT_CHOICES = (("Sort: as above", None), ("Most confident first", "confident"), ("Least confident first", "doubtful"))
NAME_CHARS = 16  # the combo boxes stay narrow: the whole row fits a 1024-pixel window


def prediction_runs(catalog: Catalog, attribute_id: int) -> list[tuple[int, str]]:
    """Worker thread: (run id, display name) of the attribute's runs with stored predictions, newest first."""
    from core.catalog.predictions import runs_with_predictions
    from core.catalog.runs import display_name, get_run

    return [(run_id, display_name(get_run(catalog, run_id))) for run_id in runs_with_predictions(catalog, attribute_id)]


class PredictionBar(QWidget):
    changed = Signal()
    acceptSelection = Signal(int)  # run id
    acceptAbove = Signal(int, float)  # run id, target precision

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.run = QComboBox(minimumContentsLength=NAME_CHARS)
        self.run.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.run.setToolTip("Show a run's stored predictions under the thumbnails (predict from the Runs tab)")
        self.predicted = QComboBox(minimumContentsLength=10)
        self.predicted.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.confidence = QSpinBox(minimum=0, maximum=100, singleStep=5, suffix="%", prefix="≥ ")
        self.confidence.setToolTip("Only images whose predicted label scores at least this")
        self.disagrees = QCheckBox("Disagrees")
        self.disagrees.setToolTip("Only labeled images whose predicted label is not one of their labels")
        self.sort = QComboBox()
        for text, value in SORT_CHOICES:
            self.sort.addItem(text, value)
        self.precision = QSpinBox(minimum=10, maximum=100, singleStep=5, value=60, suffix="% precision", prefix="at ")
        self.precision.setToolTip("Accept a prediction only above its label's threshold: the one saved with the run "
                                  "(Runs ▸ Operating points), else the one reaching this precision on the run's test "
                                  "images")  # fmt: skip
        self.accept = QToolButton(text="Accept…", popupMode=QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.accept)
        self.accept_selection = menu.addAction("On the selected images", self._accept_selection)
        self.accept_above = menu.addAction("On every predicted image above its label's threshold", self._accept_above)
        self.accept.setMenu(menu)
        self.accept.setToolTip("Label images with the run's predictions (source 'model', one undoable step); a "
                               "label a person set is never replaced")  # fmt: skip
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 0, 6, 4)
        layout.addWidget(plain.label("Predictions:"))
        for widget in (self.run, self.predicted, self.confidence, self.disagrees, self.sort):
            layout.addWidget(widget)
        layout.addStretch(1)
        layout.addWidget(self.precision)
        layout.addWidget(self.accept)
        for combo in (self.run, self.predicted, self.sort):
            combo.currentIndexChanged.connect(self._changed)
        self.confidence.valueChanged.connect(self._changed)
        self.disagrees.toggled.connect(self._changed)
        self._quiet = False
        self.set_runs([], None)

    @property
    def run_id(self) -> int | None:
        run_id: int | None = self.run.currentData()
        return run_id

    def _changed(self, *_args: object) -> None:
        self._enable()
        if not self._quiet:
            self.changed.emit()

    def _enable(self) -> None:
        on = self.run_id is not None
        for widget in (self.predicted, self.confidence, self.disagrees, self.sort, self.precision, self.accept):
            widget.setEnabled(on)

    def set_runs(self, runs: list[tuple[int, str]], keep: int | None) -> None:
        """The runs with stored predictions; the row is hidden while there are none (Runs ▸ Predict makes some)."""
        self.setVisible(bool(runs))
        self._quiet = True
        self.run.clear()
        self.run.addItem("none", None)
        for run_id, name in runs:
            self.run.addItem(f"run {run_id} · {name}", run_id)
        self.run.setCurrentIndex(max(self.run.findData(keep), 0) if keep is not None else 0)
        self._quiet = False
        self._enable()

    def set_labels(self, labels: list[LabelInfo]) -> None:
        self._quiet = True
        keep = self.predicted.currentData()
        self.predicted.clear()
        self.predicted.addItem("any predicted label", None)
        for info in labels:
            self.predicted.addItem(f"predicted {info.name}", info.id)
        self.predicted.setCurrentIndex(max(self.predicted.findData(keep), 0))
        self._quiet = False

    def apply(self, f: ImageFilter) -> ImageFilter:
        """``f`` with this bar's prediction filters and sort."""
        from dataclasses import replace

        if self.run_id is None:
            return f
        return replace(
            f,
            prediction_run=self.run_id,
            predicted_label_id=self.predicted.currentData(),
            min_confidence=self.confidence.value() / 100,
            disagrees=self.disagrees.isChecked(),
            sort=self.sort.currentData() or f.sort,
        )

    def _accept_selection(self) -> None:
        if self.run_id is not None:
            self.acceptSelection.emit(self.run_id)

    def _accept_above(self) -> None:
        if self.run_id is not None:
            self.acceptAbove.emit(self.run_id, self.precision.value() / 100)
