"""The Label issues tab: suspected label errors of the current attribute, rarest labels first, one image at a time.

Find runs ``tailor label-issues`` on a worker (features of the chosen run's backbone, K-fold cross-fit, cleanlab)
with a progress dialog and Cancel. The queue shows each issue's given and suggested labels, cleanlab's label
quality and the queue priority; the image is shown large beside it. Keep (K), Relabel as suggested (R) and Remove
the label (Delete) are edits on the window's undo stack; a kept label is remembered for these features and is not
proposed again. Undo brings an issue's decision back to open.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QImage, QKeySequence, QResizeEvent, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.base.percent import chance
from workbench.viewmodels.queue_decisions import QueueDecisions
from workbench.viewmodels.tab import Tab
from workbench.viewmodels.workspace import Workspace
from workbench.views.detail import catalog_preview
from workbench.widgets import plain
from workbench.widgets.job_runner import JobRunner
from workbench.widgets.queue_table import mark_rows, picture_label, queue_table
from workbench.workers.curation import issues_job
from workbench.workers.tasks import Latest

if TYPE_CHECKING:
    from core.catalog.edits import Edit
    from core.catalog.store import Catalog
    from core.curation.label_issues import IssueReport, LabelIssue
    from workbench.viewmodels.catalog_state import CatalogState
    from workbench.viewmodels.editor import Editor

TAB = Tab(title="Label issues", menu="&Label issues", shortcut="Ctrl+6", position=6, view="IssuesView")
COLUMNS = ("#", "image", "given", "suggested", "quality", "priority", "decision")
PREVIEW = 512


def _runs(catalog: Catalog, attribute: str) -> list[tuple[int, str]]:
    """Worker thread: the attribute's finished runs (id, display name), newest first."""
    from core.catalog.runs import display_name, finished_runs

    return [(r.id, display_name(r)) for r in reversed(finished_runs(catalog, attribute))]


class IssuesView(QWidget):
    status = Signal(str)

    def __init__(self, workspace: Workspace) -> None:
        super().__init__()
        self.workspace = workspace
        self.cache_dir = workspace.cache_dir
        self.runner = JobRunner(self)
        self.runner.running_changed.connect(workspace.busy)
        self.runner.failed.connect(lambda message: plain.warn(self, "Label issues", message))
        self.state: CatalogState | None = None
        self.editor: Editor | None = None
        self.report: IssueReport | None = None
        self.marks = QueueDecisions(self._show_mark)  # image id -> "kept" | "relabelled" | "removed" | "edited"
        self._ids: list[int] = []  # each row's image
        self._runs, self._preview = Latest(self), Latest(self)
        self.features = QComboBox(minimumContentsLength=30)
        self.features.setToolTip("Whose backbone's features the cross-fitted heads read")
        self.folds = QSpinBox(minimum=2, maximum=20, value=5, prefix="folds ")
        self.find_button = QPushButton("Find suspected errors")
        self.find_button.clicked.connect(self.find_issues)
        self.summary = plain.label(wordWrap=True)
        self.table = queue_table(COLUMNS, self._show_current)
        self.picture = picture_label()
        self.verdict = plain.label(wordWrap=True)
        self.keep_button = QPushButton("Keep label (K)")
        self.relabel_button = QPushButton("Relabel as suggested (R)")
        self.remove_button = QPushButton("Remove label (Del)")
        self.keep_button.clicked.connect(self.keep)
        self.relabel_button.clicked.connect(self.relabel)
        self.remove_button.clicked.connect(self.remove)
        for key, slot in (("K", self.keep), ("R", self.relabel), (QKeySequence.StandardKey.Delete, self.remove)):
            QShortcut(QKeySequence(key), self, slot, context=Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self._image = QImage()
        self._layout()
        self._enable()
        self.status.connect(workspace.status)
        workspace.when_open(self._attach)

    def _layout(self) -> None:
        header = QHBoxLayout()
        header.addWidget(plain.label("Features of"))
        header.addWidget(self.features)
        header.addWidget(self.folds)
        header.addWidget(self.find_button)
        header.addWidget(self.summary, 1)
        side = QWidget()
        column = QVBoxLayout(side)
        column.addWidget(self.picture, 1)
        column.addWidget(self.verdict)
        buttons = QHBoxLayout()
        for button in (self.keep_button, self.relabel_button, self.remove_button):
            buttons.addWidget(button)
        column.addLayout(buttons)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.table)
        splitter.addWidget(side)
        splitter.setSizes([560, 460])
        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addWidget(splitter, 1)

    # -- wiring ----------------------------------------------------------------------------------------------

    def _attach(self) -> None:
        self.state, self.editor = state, editor = self.workspace.state, self.workspace.editor
        assert state is not None and editor is not None
        state.changed.connect(self._state_changed)
        editor.edited.connect(self._edited)  # the view's own slots: Qt disconnects them when the tab goes
        editor.undone.connect(self._undone)
        if state.loaded:
            self._state_changed()

    def _state_changed(self) -> None:
        attribute = self.state.attribute if self.state else None
        if self.report is not None and (attribute is None or attribute.id != self.report.attribute_id):
            self.show_report(None)
        if attribute is None or self.state is None:
            self.features.clear()
            self._enable()
            return
        self._runs.run(_runs, self.state.catalog, attribute.name, on_return=self._runs_arrived)

    def _runs_arrived(self, runs: list[tuple[int, str]]) -> None:
        keep = self.features.currentData()
        self.features.clear()
        for run_id, name in runs:
            self.features.addItem(f"run {run_id} · {name}", run_id)
        if keep is not None and self.features.findData(keep) >= 0:
            self.features.setCurrentIndex(self.features.findData(keep))
        self._enable()

    def _enable(self) -> None:
        attribute = self.state.attribute if self.state else None
        self.find_button.setEnabled(attribute is not None and self.features.count() > 0)
        if attribute is not None and self.features.count() == 0:
            self.summary.setText("Train a run of this attribute first: its backbone's features find the errors.")
        issue = self.current()
        open_issue = issue is not None and self.marks.is_open(issue.image_id)
        for button in (self.keep_button, self.relabel_button, self.remove_button):
            button.setEnabled(open_issue)

    def find_issues(self) -> None:
        attribute = self.state.attribute if self.state else None
        if attribute is not None and self.workspace.location is not None:
            self.runner.start(
                f"Finding suspected label errors of '{attribute.name}'",
                issues_job,
                self.workspace.location,
                attribute.name,
                self.features.currentData(),
                self.folds.value(),
                on_result=self._found,
            )

    def _found(self, report: IssueReport) -> None:
        if report.cancelled:
            self.status.emit("Finding label issues cancelled")
            return
        self.show_report(report)
        self.status.emit(f"{len(report.issues):,} suspected label errors of '{report.attribute}', rarest labels first")

    # -- the queue -------------------------------------------------------------------------------------------

    def show_report(self, report: IssueReport | None) -> None:
        self.report, self._ids = report, [issue.image_id for issue in report.issues] if report else []
        self.marks.reset(self._ids)
        self.table.setRowCount(0)
        if report is None:
            self.summary.setText("")
            self._show_current()
            return
        self.table.setRowCount(len(report.issues))
        for row, issue in enumerate(report.issues):
            cells = (
                str(row + 1),
                str(issue.image_id),
                "/".join(issue.given),
                "/".join(issue.suggested) or "none",
                chance(issue.quality),
                f"{issue.priority:.2f}",
                "",
            )
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if column == 1:
                    item.setToolTip(plain.tooltip(issue.path))
                self.table.setItem(row, column, item)
        self.summary.setText(
            f"{len(report.issues):,} suspected errors among {report.examined:,} labeled images, rarest labels first "
            f"({report.kept:,} kept earlier left out; {report.extractor}; {report.seconds:.0f} s)"
        )
        if report.issues:
            self.table.selectRow(0)
        self._show_current()

    def current(self) -> LabelIssue | None:
        rows = self.table.selectionModel().selectedRows()
        if self.report is None or not rows:
            return None
        return self.report.issues[rows[0].row()]

    def _show_current(self) -> None:
        issue = self.current()
        self._enable()
        if issue is None or self.state is None:
            self.picture.clear()
            self.verdict.setText("")
            return
        self.verdict.setText(
            f"Image {issue.image_id}: labeled {'/'.join(issue.given)}, the features suggest "
            f"{'/'.join(issue.suggested) or 'no label'} (label quality {chance(issue.quality)}: the out-of-sample "
            f"probability of the given label)\n{issue.path}"
        )
        self._preview.run(
            catalog_preview,
            self.state.catalog,
            issue.image_id,
            issue.path,
            self.cache_dir,
            PREVIEW,
            on_return=self._picture_arrived,
            on_error=lambda _exc: self.picture.setText("cannot show this image"),
        )

    def _picture_arrived(self, image: QImage) -> None:
        self._image = image
        self._fit()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit()

    def _fit(self) -> None:
        plain.show_fitted(self.picture, self._image)

    # -- decisions (undoable) --------------------------------------------------------------------------------

    def _decide(self, decision: str, build: Callable[[Catalog], Edit], text: str) -> None:
        issue = self.current()
        if issue is None or self.editor is None or not self.marks.is_open(issue.image_id):
            return
        self.editor.push(build, text)
        self.marks.decide(issue.image_id, decision)
        row = self.table.currentRow()
        if row + 1 < self.table.rowCount():
            self.table.selectRow(row + 1)

    def keep(self) -> None:
        issue, report = self.current(), self.report
        if issue is None or report is None:
            return
        from core.catalog.model_edits import keep_label

        def build(catalog: Catalog) -> Edit:
            return keep_label(catalog, issue.image_id, report.attribute_id, issue.given_ids, report.features)

        self._decide("kept", build, f"keep image {issue.image_id}'s label")

    def relabel(self) -> None:
        issue, report = self.current(), self.report
        if issue is None or report is None:
            return
        from core.catalog.model_edits import set_labels

        self._decide(
            "relabelled",
            lambda c: set_labels(c, issue.image_id, report.attribute_id, issue.suggested_ids),
            f"relabel image {issue.image_id}",
        )

    def remove(self) -> None:
        issue, report = self.current(), self.report
        if issue is None or report is None:
            return
        from core.catalog.model_edits import set_labels

        self._decide(
            "removed",
            lambda c: set_labels(c, issue.image_id, report.attribute_id, []),
            f"remove image {issue.image_id}'s label",
        )

    def _show_mark(self, image_id: int, decision: str) -> None:
        mark_rows(self.table, self._ids, image_id, decision)
        self._enable()

    def _edited(self, edit: Edit) -> None:
        self.marks.edited(edit)

    def _undone(self, edit: Edit) -> None:
        self.marks.undone(edit)
