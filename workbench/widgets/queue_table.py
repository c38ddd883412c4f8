"""The two widgets of a queue tab (Label issues, Label next): a one-row-at-a-time table and the image shown large."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QLabel, QSizePolicy, QTableWidget


def queue_table(columns: Sequence[str], on_current: Callable[[], None]) -> QTableWidget:
    """A read-only table of whole rows, one selected at a time; ``on_current`` runs when the selection moves."""
    table = QTableWidget(0, len(columns))
    table.setHorizontalHeaderLabels(list(columns))
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.verticalHeader().setVisible(False)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    table.horizontalHeader().setStretchLastSection(True)
    table.itemSelectionChanged.connect(on_current)
    return table


def mark_rows(table: QTableWidget, image_ids: Sequence[int], image_id: int, text: str) -> None:
    """``text`` in the last column of the rows that show ``image_id`` (``image_ids``: each row's image)."""
    for row, shown in enumerate(image_ids):
        cell = table.item(row, table.columnCount() - 1)
        if shown == image_id and cell is not None:
            cell.setText(text)


def picture_label() -> QLabel:
    """A label for one image shown large: centred, and free to shrink (the image is fitted to it, never the reverse)."""
    picture = QLabel(alignment=Qt.AlignmentFlag.AlignCenter)
    picture.setMinimumSize(200, 200)
    picture.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
    return picture
