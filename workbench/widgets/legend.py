"""A plot's legend as a row of Qt widgets above the plot: it never covers a curve, wraps when the plot is narrow,
and shows names as plain text (catalog names are untrusted: no rich text)."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QHBoxLayout, QLabel, QWidget

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
    """Entries ``(colour, text, dashed, bar)`` side by side; :meth:`set_entries` replaces them only on a change."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(4, 0, 4, 0)
        self._layout.setSpacing(10)
        self._layout.addStretch(1)
        self._entries: tuple = ()

    def set_entries(self, entries: list[tuple[str, str, bool, bool]]) -> None:
        if tuple(entries) == self._entries:
            return
        self._entries = tuple(entries)
        while self._layout.count() > 1:  # the stretch at the end stays
            item = self._layout.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        for colour, text, dashed, bar in entries:
            entry = QWidget()
            row = QHBoxLayout(entry)
            row.setContentsMargins(0, 0, 0, 0)
            row.setSpacing(4)
            picture = QLabel()
            picture.setPixmap(swatch(colour, dashed, bar))
            name = plain.label(text)
            name.setToolTip(plain.tooltip(text))
            row.addWidget(picture)
            row.addWidget(name)
            self._layout.insertWidget(self._layout.count() - 1, entry)

    def texts(self) -> list[str]:
        return [text for _colour, text, _dashed, _bar in self._entries]
