"""pyqtgraph, configured to follow the application's palette (light or dark) and antialiased.

Views import ``pg`` from here rather than ``pyqtgraph`` itself, so the configuration is applied once, when the
first plot is built, and pyqtgraph (with numpy) is not imported before the window's first paint.
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication


def configure() -> None:
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        return
    palette = app.palette()
    pg.setConfigOptions(
        background=palette.color(QPalette.ColorRole.Base),
        foreground=palette.color(QPalette.ColorRole.Text),
        antialias=True,
    )


configure()

__all__ = ["configure", "pg"]
