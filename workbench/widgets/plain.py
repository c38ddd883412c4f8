"""Text a catalog supplies (attribute and label names, paths, run settings) shown as plain text, never as markup.

A shared catalog is untrusted content: Qt's labels and message boxes guess "rich text" from anything that looks
like a tag, so a label named ``<font size=7 color=red>FAKE</font>`` or ``<img src=...>`` would be rendered. Every
widget showing such text is a :func:`label` or goes through :func:`warn` / :func:`ask` / :func:`inform`; where
rich text is wanted for formatting (bold, colours), the names in it pass through :func:`escape`.
"""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QImage, QPixmap, QResizeEvent
from PySide6.QtWidgets import QLabel, QMessageBox, QSizePolicy, QWidget


def escape(text: object) -> str:
    """``text`` for a rich-text string: tags, entities and line breaks shown as themselves."""
    return html.escape(str(text)).replace("\n", "<br>")


def tooltip(text: str) -> str:
    """A tooltip showing ``text`` as is (Qt renders tooltips that look like markup as rich text)."""
    return f"<p style='white-space:pre'>{escape(text)}</p>" if text else ""


def label(text: str = "", **kwargs: Any) -> QLabel:
    """A QLabel that shows ``text`` (and everything later set on it) as plain text."""
    return QLabel(text, textFormat=Qt.TextFormat.PlainText, **kwargs)


class ElidedLabel(QLabel):
    """One line of plain text that gives way to the widgets beside it: what does not fit ends in "…" (the whole
    text in the tooltip), never cut off in the middle of a letter; ``text()`` is the whole text.

    ``Ignored`` (the default): the layout gives it what is left and a new text never changes the layout (a caption
    beside buttons); ``Preferred``: it asks for its whole text and gives way down to an ellipsis (legend entries)."""

    def __init__(self, text: str = "", policy: QSizePolicy.Policy = QSizePolicy.Policy.Ignored) -> None:
        super().__init__(textFormat=Qt.TextFormat.PlainText)
        self.setSizePolicy(policy, QSizePolicy.Policy.Preferred)
        self._whole = ""
        self.setText(text)

    def sizeHint(self) -> QSize:
        hint = super().sizeHint()
        hint.setWidth(self.fontMetrics().horizontalAdvance(self._whole) + 2 * self.margin() + 2)
        return hint

    def minimumSizeHint(self) -> QSize:
        hint = super().minimumSizeHint()
        hint.setWidth(min(hint.width(), self.fontMetrics().horizontalAdvance("x…") + 2 * self.margin() + 2))
        return hint

    def setText(self, text: str) -> None:
        self._whole = text
        self.setToolTip(tooltip(text))
        self.updateGeometry()
        self._elide()

    def text(self) -> str:
        return self._whole

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        shown = self.fontMetrics().elidedText(self._whole, Qt.TextElideMode.ElideRight, max(0, self.width()))
        QLabel.setText(self, shown)


def _box(
    parent: QWidget | None, icon: QMessageBox.Icon, title: str, text: str, buttons: QMessageBox.StandardButton
) -> QMessageBox.StandardButton:
    box = QMessageBox(icon, title, text, buttons, parent)
    box.setTextFormat(Qt.TextFormat.PlainText)
    return QMessageBox.StandardButton(box.exec())


def warn(parent: QWidget | None, title: str, text: str) -> None:
    _box(parent, QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok)


def inform(parent: QWidget | None, title: str, text: str) -> None:
    _box(parent, QMessageBox.Icon.Information, title, text, QMessageBox.StandardButton.Ok)


def ask(parent: QWidget | None, title: str, text: str) -> bool:
    """A Yes/No question; True for Yes."""
    buttons = QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No
    return _box(parent, QMessageBox.Icon.Question, title, text, buttons) == QMessageBox.StandardButton.Yes


def show_fitted(label: QLabel, image: QImage) -> None:
    """``image`` scaled to fit ``label`` with its aspect kept (cleared for a null image): a preview pane."""
    if image.isNull():
        label.clear()
        return
    scaled = image.scaled(label.size(), Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
    label.setPixmap(QPixmap.fromImage(scaled))
