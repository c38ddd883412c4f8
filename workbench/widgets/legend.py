"""A plot's legend as Qt widgets above the plot: it never covers a curve, takes two entries a row when there are
more than three, never widens the window (a name too long for its room is cut, whole in its tooltip), and shows
names as plain text (catalog names are untrusted: no rich text)."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QLabel, QSizePolicy, QWidget

from workbench.widgets import plain

SWATCH = QSize(22, 12)


def swatch(colour: str, dashed: bool = False, bar: bool = False) -> QPixmap:
    """A small picture of a curve (a line, dashed or not) or of a bar (a filled box) in ``colour``."""
    pixmap = QPixmap(SWATCH)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    if bar:
        painter.fillRect(3, 1, SWATCH.width() - 6, SWATCH.height() - 2, QColor(colour))
    else:
        pen = QPen(QColor(colour), 2.5, Qt.PenStyle.DashLine if dashed else Qt.PenStyle.SolidLine)
        painter.setPen(pen)
        middle = SWATCH.height() / 2
        painter.drawLine(QPointF(1, middle), QPointF(SWATCH.width() - 1, middle))
    painter.end()
    return pixmap


class LegendRow(QWidget):
    """Entries ``(colour, text, dashed, bar)``; :meth:`set_entries` replaces them only on a change."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._layout = QGridLayout(self)
        self._layout.setContentsMargins(4, 0, 4, 0)
        self._layout.setHorizontalSpacing(10)
        self._layout.setVerticalSpacing(0)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Maximum)
        self._entries: tuple = ()

    def set_entries(self, entries: list[tuple[str, str, bool, bool]]) -> None:
        if tuple(entries) == self._entries:
            return
        self._entries = tuple(entries)
        while self._layout.count():
            item = self._layout.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:  # hidden at once: deleteLater alone leaves it painted until the loop runs
                widget.hide()
                widget.deleteLater()
        # short names packed on the left; long ones ("run 17: ldam-drw head · …") two a row, sharing the width evenly
        short = all(len(text) <= 14 for _colour, text, _dashed, _bar in entries)
        per_row = len(entries) if len(entries) <= 3 and short else 2
        policy = QSizePolicy.Policy.Preferred if short else QSizePolicy.Policy.Ignored
        for k, (colour, text, dashed, bar) in enumerate(entries):
            entry = QWidget()
            entry.setSizePolicy(policy, QSizePolicy.Policy.Preferred)
            row = QHBoxLayout(entry)
            row.setContentsMargins(0, 0, 0, 0)
            row.setSpacing(4)
            picture = QLabel()
            picture.setPixmap(swatch(colour, dashed, bar))
            name = plain.ElidedLabel(text, policy)  # "…" rather than widen the window
            name.setMinimumWidth(24)
            row.addWidget(picture)
            row.addWidget(name, 1)
            self._layout.addWidget(entry, k // per_row, k % per_row)
        for column in range(max(4, per_row + 1)):
            self._layout.setColumnStretch(column, int(column == per_row) if short else int(column < per_row))

    def texts(self) -> list[str]:
        return [text for _colour, text, _dashed, _bar in self._entries]
