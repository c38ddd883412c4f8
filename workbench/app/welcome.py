"""The page shown while no catalog is open: open one, create one, or pick a recent one."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QHBoxLayout, QLabel, QListWidget, QPushButton, QVBoxLayout, QWidget


class WelcomePage(QWidget):
    def __init__(self, open_dialog: Callable[[], None], new_dialog: Callable[[], None],
                 open_catalog: Callable[[str], None]) -> None:  # fmt: skip
        super().__init__()
        title = QLabel("Tailor", objectName="welcomeTitle")
        hint = QLabel(
            "Open a catalog of product images, or create one and import a folder of images "
            "(one subfolder per label) or a CSV / Parquet manifest.",
            wordWrap=True,
            objectName="welcomeHint",
        )
        open_button = QPushButton("Open catalog…")
        new_button = QPushButton("New catalog…")
        open_button.clicked.connect(open_dialog)
        new_button.clicked.connect(new_dialog)
        self.recent = QListWidget()
        self.recent.itemActivated.connect(lambda item: open_catalog(item.text()))
        buttons = QHBoxLayout()
        buttons.addWidget(open_button)
        buttons.addWidget(new_button)
        buttons.addStretch(1)
        column = QVBoxLayout()
        column.addWidget(title)
        column.addWidget(hint)
        column.addLayout(buttons)
        column.addWidget(QLabel("Recent catalogs (double-click to open):"))
        column.addWidget(self.recent, 1)
        outer = QHBoxLayout(self)
        outer.addStretch(1)
        outer.addLayout(column, 3)
        outer.addStretch(1)

    def set_recent(self, items: list[str]) -> None:
        self.recent.clear()
        self.recent.addItems(items)
