"""Imports from the window: the File menu's folder and manifest, a drop on the window; the import dialog, the job
(``workbench.workers.importing``) on a ``JobRunner`` with progress and Cancel, then the report."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QWidget

from workbench.viewmodels.workspace import Workspace
from workbench.widgets import file_dialogs, plain
from workbench.widgets.job_runner import JobRunner
from workbench.workers.importing import import_job

if TYPE_CHECKING:
    from core.ingest.importer import ImportReport
    from workbench.dialogs.importing import ReportDialog


class Imports(QObject):
    def __init__(
        self, window: QWidget, workspace: Workspace, start_folder: Callable[[], str], refresh: Callable[[], None]
    ) -> None:
        super().__init__(window)
        self.window, self.workspace = window, workspace
        self.start_folder, self.refresh = start_folder, refresh
        self.runner = JobRunner(window)
        self.runner.running_changed.connect(workspace.busy)
        self.runner.failed.connect(self._failed)
        self.last_report: ReportDialog | None = None

    def ask(self, source: str = "") -> None:
        """The import dialog (``source`` filled in), then the import."""
        state = self.workspace.state
        if state is None or self.runner.running:
            return
        from workbench.dialogs.importing import ImportDialog

        current = state.attribute.name if state.attribute else None
        dialog = ImportDialog(state.attributes, source, current, self.window, start_folder=self.start_folder())
        if dialog.exec():
            self.start(*dialog.values())

    def ask_manifest(self) -> None:
        from workbench.dialogs.importing import MANIFEST_FILTER

        path = file_dialogs.open_file(self.window, "Manifest to import", self.start_folder(), MANIFEST_FILTER)
        if path:
            self.ask(path)

    def start(self, source: str, attribute: str, multi_label: bool = False, follow: bool = False) -> None:
        if self.workspace.location is not None:
            self.runner.start(
                f"Importing into '{attribute}'",
                import_job,
                self.workspace.location,
                source,
                attribute,
                multi_label,
                follow,
                on_result=self._imported,
            )

    def _imported(self, report: ImportReport | None) -> None:
        from workbench.dialogs.importing import ReportDialog

        if report is None:
            self.workspace.say("Import cancelled: the catalog is unchanged.")
            return
        self.workspace.say(report.summary())
        self.refresh()
        self.last_report = ReportDialog(report, self.window)
        self.last_report.show()

    def _failed(self, message: str) -> None:
        self.workspace.say(f"Import failed: {message}")
        plain.warn(self.window, "Import", f"{message}\n\nNothing was recorded.")
