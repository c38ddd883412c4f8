"""The Label next tab: the unlabeled images most likely to be a rare label, one question at a time.

Find runs ``tailor suggest`` on a worker (the chosen run's features of the unlabeled images, its prior-corrected
scores, near-copies left for a later batch) with progress and Cancel. The queue asks "is this image L?" with the
image large beside it: Yes (Y) labels it L (source human), No (N) is remembered so that the image is not proposed for
L again, Skip (S) moves on. Each answer is a command on the window's undo stack; Undo reopens the question. Above the
queue, each queued label's training and test images and the test images a comparison of runs still needs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QImage, QKeySequence, QResizeEvent, QShortcut, QUndoCommand
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

from workbench.viewmodels.queue_decisions import QueueDecisions
from workbench.viewmodels.tab import Tab
from workbench.viewmodels.workspace import Workspace
from workbench.views.detail import catalog_preview
from workbench.widgets import plain
from workbench.widgets.job_runner import JobRunner
from workbench.widgets.queue_table import mark_rows, picture_label, queue_table
from workbench.workers.curation import suggest_job
from workbench.workers.tasks import Latest

if TYPE_CHECKING:
    from core.catalog.edits import Edit
    from core.catalog.store import Catalog
    from core.curation.suggest import Suggestion, SuggestReport
    from workbench.viewmodels.catalog_state import CatalogState
    from workbench.viewmodels.editor import Editor

TAB = Tab(title="Label next", menu="Label &next", shortcut="Ctrl+8", position=8, view="LabelNextView")
COLUMNS = ("#", "image", "question", "score", "the run says", "answer")
TAIL = "the tail labels in turn"
PREVIEW = 512


def _runs(catalog: Catalog, attribute: str) -> list[tuple[int, str, list[str]]]:
    """Worker thread: the attribute's finished runs (id, display name, label names), newest first."""
    from core.catalog.runs import display_name, finished_runs

    return [
        (r.id, display_name(r), [label.name for label in r.labels]) for r in reversed(finished_runs(catalog, attribute))
    ]


class SkipCommand(QUndoCommand):
    """Skip on the undo stack: nothing in the catalog changes; undo reopens the question."""

    def __init__(self, view: LabelNextView, image_id: int) -> None:
        super().__init__(f"skip image {image_id}")
        self.view, self.image_id, self.report = view, image_id, view.report

    def redo(self) -> None:
        if self.view.report is self.report:
            self.view.marks.mark(self.image_id, "skipped")

    def undo(self) -> None:
        if self.view.report is self.report:
            self.view.marks.mark(self.image_id, None)


class LabelNextView(QWidget):
    status = Signal(str)

    def __init__(self, workspace: Workspace) -> None:
        super().__init__()
        self.workspace = workspace
        self.runner = JobRunner(self)
        self.runner.running_changed.connect(workspace.busy)
        self.runner.failed.connect(lambda message: plain.warn(self, "Label next", message))
        self.state: CatalogState | None = None
        self.editor: Editor | None = None
        self.report: SuggestReport | None = None
        self.marks = QueueDecisions(self._show_mark)  # image id -> "yes" | "no" | "skipped" | "edited"
        self._ids: list[int] = []  # each row's image
        self._runs, self._preview = Latest(self), Latest(self)
        self.run_box = QComboBox(minimumContentsLength=24)
        self.run_box.setToolTip("The run whose scores rank the unlabeled images")
        self.run_box.currentIndexChanged.connect(self._fill_labels)
        self.label_box = QComboBox(minimumContentsLength=16)
        self.batch = QSpinBox(minimum=1, maximum=1000, value=50, prefix="batch ")
        self.find_button = QPushButton("Find next batch")
        self.find_button.clicked.connect(self.find_batch)
        self.summary = plain.label(wordWrap=True)
        self.table = queue_table(COLUMNS, self._show_current)
        self.picture = picture_label()
        self.question = plain.label(wordWrap=True)
        self.yes_button, self.no_button = QPushButton("Yes (Y)"), QPushButton("No (N)")
        self.skip_button = QPushButton("Skip (S)")
        for button, slot, key in ((self.yes_button, self.yes, "Y"), (self.no_button, self.no, "N"),
                                  (self.skip_button, self.skip, "S")):  # fmt: skip
            button.clicked.connect(slot)
            QShortcut(QKeySequence(key), self, slot, context=Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self._image = QImage()
        self._layout()
        self._enable()
        self.status.connect(workspace.status)
        workspace.when_open(self._attach)
        workspace.runsChanged.connect(self._state_changed)

    def _layout(self) -> None:
        header = QHBoxLayout()
        for widget in (plain.label("Ranked by"), self.run_box, plain.label("more of"), self.label_box, self.batch,
                       self.find_button):  # fmt: skip
            header.addWidget(widget)
        header.addStretch(1)
        side = QWidget()
        column = QVBoxLayout(side)
        column.addWidget(self.picture, 1)
        column.addWidget(self.question)
        buttons = QHBoxLayout()
        for button in (self.yes_button, self.no_button, self.skip_button):
            buttons.addWidget(button)
        column.addLayout(buttons)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.table)
        splitter.addWidget(side)
        splitter.setSizes([460, 560])
        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addWidget(self.summary)
        layout.addWidget(splitter, 1)

    # -- wiring ----------------------------------------------------------------------------------------------

    def _attach(self) -> None:
        self.state, self.editor = state, editor = self.workspace.state, self.workspace.editor
        assert state is not None and editor is not None
        state.changed.connect(self._state_changed)
        editor.edited.connect(self._edited)
        editor.undone.connect(self._undone)
        if state.loaded:
            self._state_changed()

    def _state_changed(self) -> None:
        attribute = self.state.attribute if self.state else None
        if self.report is not None and (attribute is None or attribute.id != self.report.attribute_id):
            self.show_report(None)
        if attribute is None or self.state is None:
            self.run_box.clear()
            self._enable()
            return
        self._runs.run(_runs, self.state.catalog, attribute.name, on_return=self._runs_arrived)

    def _runs_arrived(self, runs: list[tuple[int, str, list[str]]]) -> None:
        keep, label = self.run_box.currentData(), self.label_box.currentText()
        self.run_box.blockSignals(True)
        self.run_box.clear()
        for run_id, name, labels in runs:
            self.run_box.addItem(f"run {run_id} · {name}", (run_id, labels))
        index = next((i for i in range(self.run_box.count()) if keep and self.run_box.itemData(i)[0] == keep[0]), 0)
        self.run_box.setCurrentIndex(index)
        self.run_box.blockSignals(False)
        self._fill_labels()
        if self.label_box.findText(label) >= 0:
            self.label_box.setCurrentIndex(self.label_box.findText(label))

    def _fill_labels(self) -> None:
        self.label_box.clear()
        data = self.run_box.currentData()
        if data is not None:
            self.label_box.addItem(TAIL)
            self.label_box.addItems(data[1])
        self._enable()

    def _enable(self) -> None:
        attribute = self.state.attribute if self.state else None
        self.find_button.setEnabled(attribute is not None and self.run_box.count() > 0)
        if attribute is not None and self.run_box.count() == 0 and self.report is None:
            self.summary.setText("Train a run of this attribute first (heads on stored features take seconds): its "
                                 "scores rank the unlabeled images.")  # fmt: skip
        item = self.current()
        for button in (self.yes_button, self.no_button, self.skip_button):
            button.setEnabled(item is not None and self.marks.is_open(item.image_id))
        self.yes_button.setText(f"Yes, it is {item.label} (Y)" if item is not None else "Yes (Y)")

    def find_batch(self) -> None:
        attribute, data = (self.state.attribute if self.state else None), self.run_box.currentData()
        if attribute is None or data is None or self.workspace.location is None:
            return
        label = self.label_box.currentText()
        labels = None if label == TAIL else [label]
        self.runner.start(
            f"Ranking the unlabeled images of '{attribute.name}'",
            suggest_job,
            self.workspace.location,
            attribute.name,
            labels,
            self.batch.value(),
            data[0],
            on_result=self._found,
        )

    def _found(self, report: SuggestReport) -> None:
        if report.cancelled:
            self.status.emit("Label next cancelled")
            return
        self.show_report(report)
        self.status.emit(f"{len(report.suggestions):,} images to ask about, from {report.pool:,} unlabeled")

    # -- the queue -------------------------------------------------------------------------------------------

    def show_report(self, report: SuggestReport | None) -> None:
        self.report, self._ids = report, [item.image_id for item in report.suggestions] if report else []
        self.marks.reset(self._ids)
        self.table.setRowCount(0)
        if report is None:
            self.summary.setText("")
            self._show_current()
            return
        self.table.setRowCount(len(report.suggestions))
        for row, item in enumerate(report.suggestions):
            cells = (str(row + 1), str(item.image_id), f"is it {item.label}?", f"{item.score:.3f}", item.called, "")
            for column, text in enumerate(cells):
                cell = QTableWidgetItem(text)
                if column == 1:
                    cell.setToolTip(plain.tooltip(item.path))
                self.table.setItem(row, column, cell)
        self._summarise()
        if report.suggestions:
            self.table.selectRow(0)
        self._show_current()

    def _summarise(self) -> None:
        report = self.report
        if report is None:
            return
        counts = {a: sum(1 for v in self.marks.decided.values() if v == a) for a in ("yes", "no", "skipped")}
        if not report.suggestions:
            head = f"No unlabeled image left to propose ({report.pool:,} unlabeled; those answered No are left out)."
        else:
            head = (f"{len(report.suggestions):,} of {report.pool:,} unlabeled images, ranked by run {report.run_id}: "
                    f"{counts['yes']} yes · {counts['no']} no · {counts['skipped']} skipped")  # fmt: skip
        yes = [item for item in report.suggestions if self.marks.decided.get(item.image_id) == "yes"]
        now = [needs.after([item.split for item in yes if item.label_id == needs.label_id]) for needs in report.labels]
        self.summary.setText("\n".join([head, *(needs.describe() for needs in now)]))  # with this batch's Yes

    def current(self) -> Suggestion | None:
        rows = self.table.selectionModel().selectedRows()
        if self.report is None or not rows:
            return None
        return self.report.suggestions[rows[0].row()]

    def _show_current(self) -> None:
        self._enable()
        item = self.current()
        if item is None or self.state is None:
            self.picture.clear()
            self.question.setText("")
            return
        others = f" (also {', '.join(item.labels)})" if item.labels else ""
        self.question.setText(f"Is image {item.image_id} {item.label}?  The run calls it {item.called} (score of "
                              f"{item.label}: {item.score:.3f}){others}\n{item.path}")  # fmt: skip
        self._preview.run(
            catalog_preview, self.state.catalog, item.image_id, item.path, self.workspace.cache_dir, PREVIEW,
            on_return=self._picture_arrived, on_error=lambda _exc: self.picture.setText("cannot show this image"),
        )  # fmt: skip

    def _picture_arrived(self, image: QImage) -> None:
        self._image = image
        plain.show_fitted(self.picture, self._image)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        plain.show_fitted(self.picture, self._image)

    # -- answers (undoable) ----------------------------------------------------------------------------------

    def yes(self) -> None:
        from core.catalog.answers import answer_yes

        self._answer("yes", answer_yes, "is")

    def no(self) -> None:
        from core.catalog.answers import answer_no

        self._answer("no", answer_no, "is not")

    def _answer(self, answer: str, write, verb: str) -> None:  # type: ignore[no-untyped-def]
        item = self.current()
        if item is None or self.editor is None or not self.marks.is_open(item.image_id):
            return
        image_id, label_id = item.image_id, item.label_id

        def build(catalog: Catalog) -> Edit:
            edit: Edit = write(catalog, [image_id], label_id)
            return edit

        self.editor.push(build, f"image {image_id} {verb} '{item.label}'")
        self.marks.decide(image_id, answer)
        self._next()

    def skip(self) -> None:
        item = self.current()
        if item is None or self.editor is None or not self.marks.is_open(item.image_id):
            return
        self.editor.stack.push(SkipCommand(self, item.image_id))
        self._next()

    def _next(self) -> None:
        """Select the next question not answered yet."""
        if self.report is None:
            return
        start = self.table.currentRow()
        for row in list(range(start + 1, self.table.rowCount())) + list(range(0, start)):
            if self.marks.is_open(self.report.suggestions[row].image_id):
                self.table.selectRow(row)
                return
        self._enable()

    def _show_mark(self, image_id: int, answer: str) -> None:
        mark_rows(self.table, self._ids, image_id, answer)
        self._summarise()
        self._enable()

    def _edited(self, edit: Edit) -> None:  # the view's own slots: Qt disconnects them when the tab goes
        self.marks.edited(edit)

    def _undone(self, edit: Edit) -> None:
        self.marks.undone(edit)
