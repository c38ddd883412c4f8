"""The window's file dialogs: the only place the workbench asks for a file or a folder.

Qt's own file dialog guesses each listed file's type by reading its first bytes (``QMimeDatabase``), and the
platform's native dialog may do the same inside this process. Closing that descriptor of a catalog this process
holds open drops SQLite's locks on it (core.base.held_files): another program then deleted the catalog's journal
while the window still wrote into it, and a finished run was lost. These dialogs are Qt's widget dialogs with an
icon provider that names a file's type from its name alone, so listing a folder opens no file in it.
``tests/workbench/test_file_dialogs.py`` drives every dialog of the window and checks that the lock survives, and
that no other workbench module builds a ``QFileDialog``.
"""

from __future__ import annotations

import os

from PySide6.QtCore import QFileInfo
from PySide6.QtGui import QAbstractFileIconProvider, QIcon
from PySide6.QtWidgets import QApplication, QFileDialog, QFileIconProvider, QStyle, QWidget

from core.base.held_files import held_catalog_of
from workbench.widgets import plain


class NameOnlyIconProvider(QFileIconProvider):
    """Icons and type names from the name and ``stat`` alone: no file is opened to guess its type."""

    def icon(self, what: QAbstractFileIconProvider.IconType | QFileInfo) -> QIcon:
        style = QApplication.style()
        if isinstance(what, QFileInfo):
            folder = what.isDir()
        else:
            folder = what != QAbstractFileIconProvider.IconType.File
        return style.standardIcon(QStyle.StandardPixmap.SP_DirIcon if folder else QStyle.StandardPixmap.SP_FileIcon)

    def type(self, info: QFileInfo) -> str:
        if info.isDir():
            return "Folder"
        suffix = info.suffix()
        return f"{suffix.upper()} file" if suffix else "File"


def _dialog(parent: QWidget | None, title: str, start: str, filters: str) -> QFileDialog:
    dialog = QFileDialog(parent, title, start, filters)
    dialog.setOption(QFileDialog.Option.DontUseNativeDialog)
    provider = NameOnlyIconProvider()
    dialog.setIconProvider(provider)
    dialog.icon_provider = provider  # type: ignore[attr-defined]  # Qt does not own it: kept alive with the dialog
    return dialog


def _chosen(dialog: QFileDialog) -> str:
    try:
        if not dialog.exec():
            return ""
        files = dialog.selectedFiles()
        return files[0] if files else ""
    finally:
        dialog.deleteLater()


def open_file(parent: QWidget | None, title: str, start: str = "", filters: str = "") -> str:
    """An existing file the user picks ("" when cancelled)."""
    dialog = _dialog(parent, title, start, filters)
    dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
    dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptOpen)
    return _chosen(dialog)


def existing_folder(parent: QWidget | None, title: str, start: str = "") -> str:
    """An existing folder the user picks ("" when cancelled)."""
    dialog = _dialog(parent, title, start, "")
    dialog.setFileMode(QFileDialog.FileMode.Directory)
    dialog.setOption(QFileDialog.Option.ShowDirsOnly)
    return _chosen(dialog)


def save_file(parent: QWidget | None, title: str, start: str = "", filters: str = "") -> str:
    """A file name to write to ("" when cancelled); the dialog asks before replacing a file, and a catalog this
    process holds open (or its journal) is refused with one line."""
    dialog = _dialog(parent, title, start, filters)
    dialog.setFileMode(QFileDialog.FileMode.AnyFile)
    dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
    path = _chosen(dialog)
    if path and held_catalog_of(path) is not None:
        plain.warn(parent, title, f"{path} is a catalog open in Tailor (or its journal); choose another file.")
        return ""
    return os.fspath(path)
