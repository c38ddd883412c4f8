"""A bottom axis that names categories (labels) at 0, 1, 2, ...: every name drawn, wrapped or rotated when they
do not fit side by side, elided in the middle past :data:`MAX_CHARS`.

pyqtgraph's own axis drops tick texts that would overlap their neighbours (with 30 labels most of them, and the
first one whenever it is cut at the plot's edge); this one draws each name itself: upright when they all fit, on
up to three lines (wrapped at spaces) when that makes them fit, else rotated 60 degrees (90 when even that is too
tight), and sizes its height to what it draws.
"""

from __future__ import annotations

import math
from typing import Any

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QFontMetricsF, QPainter, QResizeEvent

from workbench.widgets.pyqtgraph_setup import pg

MAX_CHARS = 22


def elide_middle(text: str, limit: int = MAX_CHARS) -> str:
    if len(text) <= limit:
        return text
    head = (limit - 1) // 2
    return text[:head] + "…" + text[len(text) - (limit - 1 - head) :]


class CategoryAxis(pg.AxisItem):
    def __init__(self, max_height: int = 120) -> None:
        super().__init__("bottom")
        self.max_height = max_height  # names are elided shorter rather than take more of the plot than this
        self.full_names: list[str] = []
        self.suffixes: list[str] = []
        self.names: list[str] = []
        self.angle = 0.0
        self.setStyle(showValues=False)  # the base class draws the line and tick marks only

    def set_names(self, names: list[str], suffixes: list[str] | None = None) -> None:
        """Name the positions 0..n-1; ``suffixes`` (e.g. " (135)", a count) follow the names and are never elided."""
        self.full_names = list(names)
        self.suffixes = list(suffixes) if suffixes is not None else [""] * len(names)
        self.names = [elide_middle(name) + suffix for name, suffix in zip(names, self.suffixes)]
        self.setTicks([[(i, "") for i in range(len(names))]])
        self._fit()

    def resizeEvent(self, event: QResizeEvent | None = None) -> None:
        super().resizeEvent(event)
        self._fit()

    def _slot(self) -> float:
        """Pixels between two neighbouring positions."""
        low, high = self.range
        return float(self.geometry().width() / max(high - low, 1e-9))

    def _fit(self) -> None:
        if not hasattr(self, "names"):  # pyqtgraph resizes the axis while it is being constructed
            return
        metrics = QFontMetricsF(self.font())
        limit = MAX_CHARS
        while True:  # elide the names shorter until what they need fits under max_height
            self.names = [elide_middle(name, limit) + suffix for name, suffix in zip(self.full_names, self.suffixes)]
            angle, height = self._layout(metrics)
            if height <= self.max_height or limit <= 8:
                break
            limit -= 2
        height = min(height, self.max_height)
        if angle != self.angle or abs(self.height() - height) > 1:
            self.angle = angle
            self.setHeight(height)
        self.picture = None  # the names may have changed: drawn again
        self.update()

    def _layout(self, metrics: QFontMetricsF) -> tuple[float, float]:
        """(angle, height) the current names need in the current slot width."""
        widest = max((max(metrics.horizontalAdvance(t) for t in name.split("\n")) for name in self.names), default=0)
        lines = max((name.count("\n") + 1 for name in self.names), default=1)
        line = metrics.height()
        slot = self._slot()
        wrapped = self._wrapped_lines(metrics, slot - 6)
        if widest + 6 <= slot or not self.names:
            angle, height = 0.0, lines * line + 8
        elif wrapped is not None:
            angle, height = 0.0, wrapped * line + 8
        elif slot >= line * lines / math.sin(math.radians(60)) + 2:
            angle, height = 60.0, widest * math.sin(math.radians(60)) + lines * line + 8
        else:
            angle, height = 90.0, widest + lines * line + 8
        return angle, height

    def _wrapped_lines(self, metrics: QFontMetricsF, width: float) -> int | None:
        """Lines the tallest name takes wrapped at spaces into ``width`` pixels; None when a word is wider or a
        name needs more than three lines."""
        if width <= 0:
            return None
        most = 1
        for name in self.names:
            count = 0
            for part in name.split("\n"):
                if any(metrics.horizontalAdvance(word) > width for word in part.split()):
                    return None
                flags = int(Qt.TextFlag.TextWordWrap)
                count += max(
                    1, round(metrics.boundingRect(QRectF(0, 0, width, 1000), flags, part).height() / metrics.height())
                )
            if count > 3:
                return None
            most = max(most, count)
        return most

    def boundingRect(self) -> QRectF:
        # rotated names run down to the left of their tick: the first may reach under the left axis (empty there)
        rect: QRectF = super().boundingRect()
        return rect.adjusted(-80, 0, 0, 0) if self.angle else rect

    def linkedViewChanged(self, view: Any, newRange: Any = None) -> None:  # a pyqtgraph ViewBox
        super().linkedViewChanged(view, newRange)
        self._fit()

    def drawPicture(self, p: QPainter, axisSpec: Any, tickSpecs: Any, textSpecs: Any) -> None:
        super().drawPicture(p, axisSpec, tickSpecs, [])
        if not self.names:
            return
        p.setRenderHint(p.RenderHint.TextAntialiasing, True)
        p.setPen(self.textPen())
        p.setFont(self.font())
        metrics = QFontMetricsF(self.font())
        low, high = self.range
        bounds = self.mapRectFromParent(self.geometry())
        scale = bounds.width() / max(high - low, 1e-9)
        top = bounds.top() + 6
        for i, name in enumerate(self.names):
            if not low - 0.5 <= i <= high + 0.5:
                continue
            x = bounds.left() + (i - low) * scale
            if self.angle == 0:  # centred under the tick, wrapped at spaces into its slot
                width = max(scale - 6, 1.0)
                flags = int(Qt.AlignmentFlag.AlignHCenter) | int(Qt.TextFlag.TextWordWrap)
                p.drawText(QRectF(x - width / 2, top, width, bounds.height()), flags, name)
                continue
            p.save()
            p.translate(QPointF(x, top))
            p.rotate(-self.angle)
            width = max(metrics.horizontalAdvance(t) for t in name.split("\n")) + 2
            height = metrics.height() * (name.count("\n") + 1)
            # the text's right end at the tick: it reads upwards to the left, away from the next name
            p.drawText(
                QRectF(-width, -height / 2, width, height),
                Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                name,
            )
            p.restore()
