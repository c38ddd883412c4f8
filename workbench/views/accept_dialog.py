"""Browse's preview before accepting a run's predictions above thresholds: per label the images it would label,
the threshold and how it was chosen, the label's test positives and the precision with its 95% interval there.
Labels with fewer than the minimum test count start unchecked and say why; only checked labels are accepted."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.base.percent import percent_text
from workbench.widgets import plain

if TYPE_CHECKING:
    from core.analysis.accept_preview import AcceptRow

COLUMNS = ("Label", "Images to label", "Threshold", "Chosen", "Test positives", "Precision % [95%]")


class AcceptDialog(QDialog):
    """``thresholds()`` after Accept: label id -> threshold of the checked labels, None for the others."""

    def __init__(self, run_id: int, rows: list[AcceptRow], min_test: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Accept run {run_id}'s predictions")
        self.rows = rows
        note = plain.label(
            f"Each checked label is given to the images whose score reaches its threshold (source 'model', one "
            f"undoable step; a person's labels are never replaced). Labels with fewer than {min_test} test images "
            "start unchecked: a threshold measured on so few is no evidence."
        )
        note.setWordWrap(True)
        self.table = QTableWidget(len(rows), len(COLUMNS), self)
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        for r, row in enumerate(rows):
            self._fill(r, row, min_test)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.table.itemChanged.connect(lambda _item: self._update_ok())
        layout = QVBoxLayout(self)
        layout.addWidget(note)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.buttons)
        self.resize(820, min(600, 140 + 30 * len(rows)))
        self._update_ok()

    def _fill(self, r: int, row: AcceptRow, min_test: int) -> None:
        name = QTableWidgetItem(row.label)
        usable = row.threshold is not None and row.images > 0
        name.setFlags(Qt.ItemFlag.ItemIsEnabled | (Qt.ItemFlag.ItemIsUserCheckable if usable else Qt.ItemFlag(0)))
        name.setCheckState(Qt.CheckState.Checked if usable and row.enough else Qt.CheckState.Unchecked)
        chosen = row.chosen
        if not row.enough:
            images = "image" if row.test_positives == 1 else "images"
            chosen = f"only {row.test_positives} test {images} (fewer than {min_test}): unchecked; {chosen}"
        threshold = "–" if row.threshold is None else f"{row.threshold:.3f}"
        cells = [
            name,
            f"{row.images:,}",
            threshold,
            chosen,
            f"{row.test_positives:,}",
            percent_text(row.precision, row.precision_ci),
        ]
        for c, cell in enumerate(cells):
            item = cell if isinstance(cell, QTableWidgetItem) else QTableWidgetItem(cell)
            if c in (1, 2, 4):
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            item.setToolTip(plain.tooltip(chosen))
            self.table.setItem(r, c, item)

    def checked(self) -> list[AcceptRow]:
        checks = [self.table.item(r, 0) for r in range(len(self.rows))]
        return [row for row, check in zip(self.rows, checks) if check and check.checkState() == Qt.CheckState.Checked]

    def thresholds(self) -> dict[int, float | None]:
        chosen = {row.label_id for row in self.checked()}
        return {row.label_id: row.threshold if row.label_id in chosen else None for row in self.rows}

    def _update_ok(self) -> None:
        images = sum(row.images for row in self.checked())  # an image of a multi-label run may count twice
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setText(f"Accept {images:,} labels" if images else "Accept")
        ok.setEnabled(images > 0)
