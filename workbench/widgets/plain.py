"""Text a catalog supplies (attribute and label names, paths, run settings) shown as plain text, never as markup.

A shared catalog is untrusted content: Qt's labels and message boxes guess "rich text" from anything that looks
like a tag, so a label named ``<font size=7 color=red>FAKE</font>`` or ``<img src=...>`` would be rendered. Every
widget showing such text is a :func:`label` or goes through :func:`warn` / :func:`ask` / :func:`inform`; where
rich text is wanted for formatting (bold, colours), the names in it pass through :func:`escape`.
"""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import Qt
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
    text in the tooltip), never cut off in the middle of a letter; ``text()`` is the whole text."""

    def __init__(self, text: str = "") -> None:
        super().__init__(textFormat=Qt.TextFormat.PlainText)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self._whole = ""
        self.setText(text)

    def setText(self, text: str) -> None:
        self._whole = text
        self.setToolTip(tooltip(text))
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
