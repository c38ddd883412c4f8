"""Importing from the window: choose a folder or manifest and an attribute, read the report.

The import itself is :func:`workbench.workers.importing.import_job`, which the main window runs with a
``JobRunner`` (progress, Cancel).
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.catalog.records import AttributeInfo, Kind
from core.ingest.importer import ImportReport, write_skipped_csv
from workbench.widgets import file_dialogs, plain
from workbench.workers.tasks import run_function

MANIFEST_FILTER = "Manifests (*.csv *.tsv *.parquet);;All files (*)"


class ImportDialog(QDialog):
    """Source and attribute of an import. The multi-label choice only applies to a new attribute."""

    def __init__(
        self,
        attributes: list[AttributeInfo],
        source: str = "",
        attribute: str | None = None,
        parent: QWidget | None = None,
        start_folder: str = "",
    ) -> None:
        super().__init__(parent)
        self.start_folder = start_folder  # where the pickers open when no source is typed: the catalog's folder
        self.setWindowTitle("Import images")
        self.attributes = {a.name: a for a in attributes}
        self.source = QLineEdit(source)
        self.source.setMinimumWidth(420)
        self.source.setPlaceholderText("a folder with one subfolder per label, or a CSV / Parquet manifest")
        folder = QPushButton("Folder…")
        manifest = QPushButton("Manifest…")
        folder.clicked.connect(self._pick_folder)
        manifest.clicked.connect(self._pick_manifest)
        row = QHBoxLayout()
        row.addWidget(self.source, 1)
        row.addWidget(folder)
        row.addWidget(manifest)
        self.attribute = QComboBox(editable=True)
        self.attribute.addItems(sorted(self.attributes))
        self.attribute.setCurrentText(attribute or (next(iter(sorted(self.attributes)), "label")))
        self.multi = QCheckBox("Several labels per image (multi-label)")
        self.follow = QCheckBox("Follow links to folders outside this folder")
        self.follow.setToolTip("Links inside the folder, and links to single files, are always followed")
        self.kind_note = plain.label()
        self.attribute.currentTextChanged.connect(self._attribute_changed)
        form = QFormLayout()
        form.addRow("Source", row)
        form.addRow("Attribute", self.attribute)
        form.addRow("", self.multi)
        form.addRow("", self.follow)
        form.addRow("", self.kind_note)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Import")
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(buttons)
        self._attribute_changed(self.attribute.currentText())

    def _pick_folder(self) -> None:
        path = file_dialogs.existing_folder(self, "Folder to import", self.source.text() or self.start_folder)
        if path:
            self.source.setText(path)

    def _pick_manifest(self) -> None:
        path = file_dialogs.open_file(
            self, "Manifest to import", self.source.text() or self.start_folder, MANIFEST_FILTER
        )
        if path:
            self.source.setText(path)

    def _attribute_changed(self, name: str) -> None:
        existing = self.attributes.get(name.strip())
        self.multi.setEnabled(existing is None)
        if existing is not None:
            self.multi.setChecked(existing.kind == Kind.MULTI)
            self.kind_note.setText(
                f"Existing attribute: {existing.kind}-label, {existing.labels} labels, {existing.images:,} images"
            )
        else:
            self.kind_note.setText("A new attribute will be created.")

    def _accept(self) -> None:
        if not self.source.text().strip() or not os.path.exists(self.source.text().strip()):
            plain.warn(self, "Import", "Choose a folder or manifest that exists.")
            return
        if not self.attribute.currentText().strip():
            plain.warn(self, "Import", "Name the attribute the labels belong to.")
            return
        self.accept()

    def values(self) -> tuple[str, str, bool, bool]:
        return (
            self.source.text().strip(),
            self.attribute.currentText().strip(),
            self.multi.isChecked(),
            self.follow.isChecked(),
        )


class ReportDialog(QDialog):
    """The import summary and every skipped file with its reason; the list can be saved as CSV."""

    def __init__(self, report: ImportReport, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.report = report
        self.setWindowTitle("Import finished")
        self.resize(720, 420)
        summary = plain.label(report.summary(), wordWrap=True)
        self.table = QTableWidget(len(report.skipped), 2)
        self.table.setHorizontalHeaderLabels(["skipped file", "reason"])
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        for row, (path, reason) in enumerate(report.skipped):
            self.table.setItem(row, 0, QTableWidgetItem(path))
            self.table.setItem(row, 1, QTableWidgetItem(reason))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.save_button = buttons.addButton("Save report…", QDialogButtonBox.ButtonRole.ActionRole)
        self.save_button.setEnabled(bool(report.skipped))
        self.save_button.clicked.connect(self._save)
        buttons.rejected.connect(self.reject)
        buttons.accepted.connect(self.accept)
        layout = QVBoxLayout(self)
        layout.addWidget(summary)
        layout.addWidget(QLabel(f"{len(report.skipped):,} files skipped" if report.skipped else "No file skipped."))
        layout.addWidget(self.table, 1)
        layout.addWidget(buttons)

    def _save(self) -> None:
        path = file_dialogs.save_file(self, "Save skipped files", "skipped.csv", "CSV (*.csv)")
        if path:
            self.save_to(path)

    def save_to(self, path: str) -> None:
        run_function(
            write_skipped_csv,
            self.report.skipped,
            Path(path),
            on_error=lambda exc: plain.warn(self, "Save report", f"Cannot save {path}: {exc}"),
            owner=self,
        )
