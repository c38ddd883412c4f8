"""Nothing in the window opens the catalog file except SQLite: every file dialog of the window, opened in the
catalog's folder and cancelled, leaves this process's SQLite locks in place, so another process's connection does
not delete the journal the window still writes into (issue 26 point 1)."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QFileDialog

from core.catalog.store import Catalog
from tests.conftest import make_garments
from tests.qt_helpers import open_window
from workbench.widgets import file_dialogs

WORKBENCH = Path(__file__).resolve().parents[2] / "workbench"


def _locks_held(path: Path) -> list[str]:
    """This process's POSIX locks on ``path`` (Linux's /proc/locks)."""
    inode = os.stat(path).st_ino
    return [line for line in Path("/proc/locks").read_text().splitlines() if f":{inode} " in line
            and f" {os.getpid()} " in line]  # fmt: skip


def _cancel_when_listed(qtbot, seen: list[str]) -> None:
    """Cancel the next file dialog once its folder has been listed (the model reads each entry's type)."""

    def close() -> None:
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, QFileDialog):
            QTimer.singleShot(50, close)
            return
        seen.append(dialog.windowTitle())
        QTimer.singleShot(800, dialog.reject)

    QTimer.singleShot(50, close)


def _catalog_in_use(tmp_path) -> tuple[Path, Catalog]:
    tree = make_garments(tmp_path / "photos", {"dress": 3, "coat": 2})
    location = tmp_path / "shop.db"  # ".db" is the suffix Qt's type guessing reads the file for
    catalog = Catalog.create(location)
    from core.ingest.importer import import_source, run

    run(import_source(catalog, tree, "style"))
    catalog.image_count()  # a pooled connection of this process holds its shared lock, as the window's do
    return location, catalog


def test_every_file_dialog_of_the_window_keeps_the_catalog_locks(qtbot, tmp_path, monkeypatch):
    location, catalog = _catalog_in_use(tmp_path)
    try:
        window = open_window(qtbot, location)
        monkeypatch.setattr(window, "start_folder", lambda: str(tmp_path))
        assert _locks_held(location)
        seen: list[str] = []
        openers = [
            window.open_dialog,
            window.new_dialog,
            window.imports.ask_manifest,
            lambda: file_dialogs.existing_folder(window, "Folder to import", str(tmp_path)),
            lambda: file_dialogs.save_file(window, "Export the comparison", str(tmp_path / "c.csv"), "CSV (*.csv)"),
        ]
        for opener in openers:
            _cancel_when_listed(qtbot, seen)
            opener()
        assert len(seen) == len(openers)
        assert _locks_held(location), "a file dialog opened and closed the catalog file: SQLite's locks are gone"
        other = (
            f"import sqlite3; c = sqlite3.connect({str(location)!r}); "
            "c.execute('select count(*) from sqlite_master'); c.close()"
        )
        subprocess.run([sys.executable, "-I", "-c", other], check=True)
        assert Path(f"{location}-wal").exists(), "another process deleted the journal this process writes into"
    finally:
        catalog.close()


def test_the_weights_file_dialog_keeps_the_catalog_locks(qtbot, tmp_path, monkeypatch):
    from workbench.views.model_source import ModelSource
    from workbench.workers.training_queue import TrainingQueue

    monkeypatch.setattr(TrainingQueue, "prepare", lambda self: False)  # showing the Train tab imports no torch here
    location, catalog = _catalog_in_use(tmp_path)
    try:
        window = open_window(qtbot, location)
        window.tabs.setCurrentWidget(window.view("training"))
        qtbot.waitUntil(lambda: bool(window.findChildren(ModelSource)), timeout=10000)
        source = window.findChildren(ModelSource)[0]
        monkeypatch.chdir(tmp_path)
        seen: list[str] = []
        _cancel_when_listed(qtbot, seen)
        index = source.pretrained.findData("file")
        source._pretrained_chosen(index)
        assert seen == ["Pretrained weights (a state dict)"]
        assert _locks_held(location)
    finally:
        catalog.close()


def test_a_save_dialog_refuses_the_open_catalog(qtbot, tmp_path, monkeypatch):
    location, catalog = _catalog_in_use(tmp_path)
    warned: list[str] = []
    monkeypatch.setattr(file_dialogs.plain, "warn", lambda _parent, _title, text: warned.append(text))
    monkeypatch.setattr(file_dialogs, "_chosen", lambda _dialog: str(location))
    try:
        assert file_dialogs.save_file(None, "Export", str(tmp_path), "CSV (*.csv)") == ""
        assert warned and "is a catalog open in Tailor" in warned[0]
    finally:
        catalog.close()


def test_only_the_file_dialogs_module_builds_a_file_dialog():
    """A new dialog elsewhere would guess types by reading files again: it must go through file_dialogs."""
    offenders = []
    for path in WORKBENCH.rglob("*.py"):
        if path.name == "file_dialogs.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Name | ast.Attribute) and "QFileDialog" in {
                getattr(node, "id", None),
                getattr(node, "attr", None),
            }:
                offenders.append(f"{path.relative_to(WORKBENCH)}:{node.lineno}")
    assert offenders == []
