"""The Review tab: the test images a run got wrong, as a thumbnail gallery, and fixing their labels in place.

Single-label runs draw their confusion matrix; clicking a cell lists that cell's images (true label i predicted
as j), most confident first. Multi-label runs list a label's false positives or false negatives. With a second
run chosen, the gallery lists the images that run gets right and the reviewed run gets wrong (the source
paper's Fig. 4). Selected images can get a label (source ``human``) or the model's prediction (source
``model``) through the same undoable edits as the browser. Reviews are computed by ``core.analysis.review`` in a worker.
"""

from __future__ import annotations

from array import array
from collections import defaultdict
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor, QResizeEvent, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.analysis import review as core_review
from core.catalog.runs import display_name, finished_runs
from core.catalog.store import Catalog
from workbench.viewmodels.editor import Editor
from workbench.viewmodels.requests import Request, ReviewRun
from workbench.viewmodels.tab import Tab
from workbench.viewmodels.workspace import Workspace
from workbench.widgets import plain
from workbench.widgets.category_axis import elide_middle
from workbench.widgets.grid import ImageGridModel, ImageGridView
from workbench.widgets.vertical_label import VerticalLabel
from workbench.workers.tasks import Latest

if TYPE_CHECKING:
    from core.catalog.edits import Edit
    from workbench.workers.thumbnails import ThumbnailLoader

TAB = Tab(title="Review", menu="Re&view", shortcut="Ctrl+5", position=5, view="ReviewView")


def _finished_runs(catalog: Catalog) -> list[tuple[int, str, str]]:
    """Worker thread: the finished runs, newest first (what the tab opens on)."""
    runs = reversed(finished_runs(catalog))
    return [(r.id, f"run {r.id}: {display_name(r)} ({r.attribute})", r.attribute) for r in runs]


def _load(catalog: Catalog, run_id: int, other: int | None) -> tuple[core_review.Review, core_review.Review | None]:
    review = core_review.load_review(catalog, run_id)
    other_review = core_review.load_review(catalog, other) if other is not None else None
    return review, other_review


class ReviewView(QWidget):
    status = Signal(str)

    def __init__(self, workspace: Workspace) -> None:
        super().__init__()
        self.workspace = workspace
        self.catalog: Catalog | None = None
        self.editor: Editor | None = None
        self.review: core_review.Review | None = None
        self.other: core_review.Review | None = None
        self.items: list[core_review.ReviewItem] = []
        self._runs_latest, self._load_latest = Latest(self), Latest(self)
        self._select: int | None = None  # a run asked for by review_run, kept until a newer list arrives
        self.fixed: set[int] = set()  # images relabelled or accepted since the run was read (and not undone)
        self._edits_of: dict[int, int] = {}  # image id -> edits of it applied since the run was read

        self._pickers()
        self._matrix()
        self._gallery(workspace.thumbs)
        for combo, length in ((self.run, 28), (self.versus, 20), (self.label, 14), (self.fix_label, 14)):
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(length)
        self.caption.setMinimumWidth(120)
        self.label_caption = plain.label("Label")
        self._arrange()
        self._buttons()
        self.status.connect(workspace.status)
        workspace.runsChanged.connect(self.refresh_runs)
        workspace.when_open(self._attach)

    def _pickers(self) -> None:
        self.run = QComboBox(toolTip="The run whose mistakes are listed")
        self.run.activated.connect(lambda _i: self.load())
        self.versus = QComboBox(toolTip="List the images this other run gets right and the reviewed run wrong")
        self.versus.activated.connect(lambda _i: self.load())
        self.label = QComboBox(toolTip="Multi-label runs: the label whose mistakes are listed")
        self.label.activated.connect(lambda _i: self._list())
        self.kind = QComboBox()
        self.kind.addItem("false positives", "fp")
        self.kind.addItem("false negatives", "fn")
        self.kind.activated.connect(lambda _i: self._list())

    def _matrix(self) -> None:
        self.matrix = QTableWidget(0, 0, toolTip="Rows: true label, columns: predicted. Click a cell for its images")
        self.matrix.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.matrix.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.matrix.cellClicked.connect(self.show_cell)
        # small cells that fit 10 labels and more without dragging (names elided; the whole name in the tooltip)
        for header in (self.matrix.horizontalHeader(), self.matrix.verticalHeader()):
            header.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
            header.setMinimumSectionSize(20)
        self.matrix.horizontalHeader().setDefaultSectionSize(34)
        self.matrix.verticalHeader().setDefaultSectionSize(24)
        self.matrix.setWordWrap(False)
        self.matrix_box = QWidget()
        grid = QGridLayout(self.matrix_box)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setSpacing(2)
        grid.addWidget(QLabel("predicted →", alignment=Qt.AlignmentFlag.AlignCenter), 0, 1)
        grid.addWidget(VerticalLabel("← true"), 1, 0)
        grid.addWidget(self.matrix, 1, 1)
        self.caption = plain.label("Pick a finished run.")
        self.caption.setWordWrap(True)

    def _gallery(self, thumbs: ThumbnailLoader) -> None:
        self.model = ImageGridModel(thumbs, self)
        self.gallery = ImageGridView()
        self.gallery.delegate.caption_lines = 2  # "74% t-shirt_top" over "← ankle_boot": both labels readable
        self.gallery.setModel(self.model)
        self.gallery.selectionModel().selectionChanged.connect(lambda *_a: self._selection_changed())
        self.fix_label = QComboBox(toolTip="The label to give the selected images")
        self.fix_button = QPushButton("Give label")
        self.accept_button = QPushButton("Accept prediction")
        self.accept_button.setToolTip("Give the selected images the label the model predicted (source: model)")
        self.fix_button.clicked.connect(self.fix_selected)
        self.accept_button.clicked.connect(self.accept_selected)

    def _arrange(self) -> None:
        controls = QHBoxLayout()
        for widget in (
            QLabel("Run"),
            self.run,
            QLabel("right in"),
            self.versus,
            self.label_caption,
            self.label,
            self.kind,
        ):
            controls.addWidget(widget)
        controls.addStretch(1)
        fixes = QHBoxLayout()  # the caption on a row of its own: the whole width to wrap in, not a narrow column
        fixes.addStretch(1)
        fixes.addWidget(self.fix_label)
        fixes.addWidget(self.fix_button)
        fixes.addWidget(self.accept_button)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(self.caption)
        right_layout.addLayout(fixes)
        right_layout.addWidget(self.gallery, 1)
        splitter = QSplitter()
        splitter.addWidget(self.matrix_box)
        splitter.addWidget(right)
        splitter.setSizes([440, 600])
        layout = QVBoxLayout(self)
        layout.addLayout(controls)
        layout.addWidget(splitter, 1)

    def _attach(self) -> None:
        self.catalog, self.editor = self.workspace.catalog, self.workspace.editor
        assert self.editor is not None
        self.editor.edited.connect(self._edited)
        self.editor.undone.connect(self._undone)
        self.refresh_runs()

    def handle(self, request: Request) -> None:
        if isinstance(request, ReviewRun):
            self.review_run(request.run_id)

    def showEvent(self, event: QShowEvent) -> None:
        self.refresh_runs()
        super().showEvent(event)

    # -- runs -------------------------------------------------------------------------------------------------

    def refresh_runs(self, select: int | None = None) -> None:
        """Re-read the finished runs; ``select`` a run to review (a later refresh does not forget it)."""
        if select is not None:
            self._select = select
        if self.catalog is not None:
            self._runs_latest.run(_finished_runs, self.catalog, on_return=self._runs)

    def _runs(self, runs: list[tuple[int, str, str]]) -> None:
        select, self._select = self._select, None
        current = select if select is not None else self.run.currentData()
        self.finished = runs
        keep = self.run.currentData()
        self.run.blockSignals(True)
        self.run.clear()
        for run_id, text, _attribute in runs:
            self.run.addItem(text, run_id)
        self.run.setCurrentIndex(max(0, self.run.findData(keep)))
        self.run.blockSignals(False)
        if runs:
            self.run.setCurrentIndex(max(0, self.run.findData(current)))
        self._fill_versus()
        stale = self.review is None or self.review.run_id != self.run.currentData() or select is not None
        if runs and stale:
            self.load()

    def review_run(self, run_id: int) -> None:
        self.refresh_runs(select=run_id)

    def _fill_versus(self) -> None:
        """The runs to compare with: the other finished runs of the reviewed run's attribute, never itself."""
        run_id = self.run.currentData()
        attribute = next((a for i, _t, a in getattr(self, "finished", []) if i == run_id), None)
        keep = self.versus.currentData()
        self.versus.blockSignals(True)
        self.versus.clear()
        self.versus.addItem("— (every mistake)", None)
        for other, text, other_attribute in getattr(self, "finished", []):
            if other != run_id and other_attribute == attribute:
                self.versus.addItem(text, other)
        self.versus.setCurrentIndex(max(0, self.versus.findData(keep)))
        self.versus.blockSignals(False)

    def load(self) -> None:
        self._fill_versus()
        run_id = self.run.currentData()
        if run_id is None or self.catalog is None:
            return
        other = self.versus.currentData()
        other = None if other == run_id else other
        self.caption.setText(f"Reading run {run_id}…")
        self._load_latest.run(
            _load,
            self.catalog,
            run_id,
            other,
            on_return=self._loaded,
            on_error=lambda exc: self.caption.setText(str(exc)),
        )

    def _loaded(self, result: tuple[core_review.Review, core_review.Review | None]) -> None:
        self.review, self.other = review, _other = result
        self.fixed.clear()
        self._edits_of.clear()
        multi = review.multi_label
        self.label.setVisible(multi)
        self.label_caption.setVisible(multi)
        self.kind.setVisible(multi)
        self.label.clear()
        for j, name in enumerate(review.labels):
            self.label.addItem(name, j)
        self.fix_label.clear()
        for name, label_id in zip(review.labels, review.label_ids):
            self.fix_label.addItem(name, label_id)
        self._draw_matrix()
        self._list()

    def _draw_matrix(self) -> None:
        review = self.review
        if review is None:
            return
        if review.multi_label:
            self.matrix_box.setVisible(False)
            return
        self.matrix_box.setVisible(True)
        matrix = core_review.confusion(review)
        c = len(review.labels)
        self.matrix.setRowCount(c)
        self.matrix.setColumnCount(c)
        # rows: "1 bell sleeve"; columns: the same numbers (the names in their tooltips), so ten and more fit
        self.matrix.setVerticalHeaderLabels(
            [f"{k + 1}  {elide_middle(name, 18)}" for k, name in enumerate(review.labels)]
        )
        self.matrix.setHorizontalHeaderLabels([str(k + 1) for k in range(c)])
        for k, name in enumerate(review.labels):
            for header in (self.matrix.horizontalHeaderItem(k), self.matrix.verticalHeaderItem(k)):
                if header is not None:
                    header.setToolTip(plain.tooltip(name))
        totals = matrix.sum(axis=1)
        for i in range(c):
            for j in range(c):
                n = int(matrix[i, j])
                share = n / totals[i] if totals[i] else 0.0
                item = QTableWidgetItem(str(n))
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                colour = QColor(60, 160, 90) if i == j else QColor(210, 70, 60)
                colour.setAlpha(int(30 + 200 * share) if n else 0)
                item.setBackground(QBrush(colour))
                item.setToolTip(
                    plain.tooltip(f"true {review.labels[i]}, predicted {review.labels[j]}: {n} ({100 * share:.0f}%)")
                )
                self.matrix.setItem(i, j, item)
        self._fit_matrix()

    def _fit_matrix(self) -> None:
        """Every column in view: the matrix takes the width its columns need (at most 55% of the tab), its columns
        narrower when that is not enough."""
        columns = self.matrix.columnCount()
        if columns == 0:
            return
        frame = 2 * self.matrix.frameWidth() + self.matrix.verticalScrollBar().sizeHint().width() + 4
        names = self.matrix.verticalHeader().sizeHint().width()
        room = int(0.55 * self.width()) - names - frame - 24  # the "← true" label beside it
        size = max(22, min(34, room // columns))
        self.matrix.horizontalHeader().setDefaultSectionSize(size)
        self.matrix_box.setMinimumWidth(names + frame + 24 + size * columns)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit_matrix()

    # -- listing ----------------------------------------------------------------------------------------------

    def _list(self) -> None:
        review = self.review
        if review is None:
            return
        if self.other is not None:
            items = core_review.right_in_a_wrong_in_b(self.other, review)
            what = f"right in run {self.other.run_id}, wrong in run {review.run_id}"
        elif review.multi_label:
            j = self.label.currentData() or 0
            fp = self.kind.currentData() == "fp"
            items = (core_review.false_positives if fp else core_review.false_negatives)(review, j)
            what = f"{'false positives' if fp else 'false negatives'} of {review.labels[j]}"
        else:
            items = core_review.misclassified(review)
            what = "every misclassified test image (click a matrix cell for one pair)"
        self.show_items(items, what)

    def show_cell(self, row: int, column: int) -> None:
        if self.review is None or self.review.multi_label:
            return
        items = core_review.cell(self.review, row, column)
        labels = self.review.labels
        self.show_items(items, f"true {labels[row]} predicted as {labels[column]}")

    def _caption(self, item: core_review.ReviewItem) -> str:
        fixed = "✓ " if item.image_id in self.fixed else ""
        # the confidence and the prediction on the first line, the true label on the second: each cut at its end
        predicted, truth = "/".join(item.predicted) or "–", "/".join(item.truth) or "–"
        return f"{fixed}{100 * item.confidence:.0f}% {predicted}\n← {truth}{' (fixed)' if fixed else ''}"

    def _edited(self, edit: Edit) -> None:
        """Images given a label here (or anywhere) since the review was read are marked fixed in the gallery."""
        self._count(edit, 1)

    def _undone(self, edit: Edit) -> None:
        """An undone edit no longer fixes its images (``edited`` counted the undo as an edit just before)."""
        self._count(edit, -2)

    def _count(self, edit: Edit, step: int) -> None:
        shown = {item.image_id: item for item in self.items}
        for image_id in edit.images:
            self._edits_of[image_id] = max(0, self._edits_of.get(image_id, 0) + step)
        self.fixed = {image_id for image_id, n in self._edits_of.items() if n > 0}
        changed = [image_id for image_id in edit.images if image_id in shown]
        self.model.set_captions({image_id: self._caption(shown[image_id]) for image_id in changed})

    def show_items(self, items: list[core_review.ReviewItem], what: str) -> None:
        if self.catalog is None or self.review is None:
            return
        self.items = items
        captions = {item.image_id: self._caption(item) for item in items}
        self.model.set_ids(self.catalog, array("q", [item.image_id for item in items]), None, captions)
        self.caption.setText(
            f"Run {self.review.run_id}: {what} — {len(items)} image"
            f"{'s' if len(items) != 1 else ''}, most confident first (caption: confidence, predicted ← true)"
        )
        self._buttons()

    # -- fixing -----------------------------------------------------------------------------------------------

    def _selected(self) -> list[core_review.ReviewItem]:
        return [self.items[row] for row in self.gallery.selected_rows() if row < len(self.items)]

    def _selection_changed(self) -> None:
        """The label "Give label" offers starts at the prediction of the selected images (when they share one)."""
        predicted = {tuple(item.predicted) for item in self._selected()}
        if len(predicted) == 1:
            (names,) = predicted
            if len(names) == 1:
                self.fix_label.setCurrentIndex(max(0, self.fix_label.findText(names[0])))
        self._buttons()

    def _buttons(self) -> None:
        has = bool(self.gallery.selectionModel().selectedIndexes()) if self.gallery.selectionModel() else False
        self.fix_button.setEnabled(has and self.fix_label.count() > 0)
        self.accept_button.setEnabled(has)

    def fix_selected(self) -> None:
        items = self._selected()
        label_id = self.fix_label.currentData()
        if items and label_id is not None and self.editor is not None:
            self.editor.assign([item.image_id for item in items], label_id, self.fix_label.currentText())

    def accept_selected(self) -> None:
        """Each selected image gets what the model predicted (one undoable command for the whole selection)."""
        items = self._selected()
        if not items or self.editor is None or self.review is None:
            return
        ids_of = dict(zip(self.review.labels, self.review.label_ids))
        groups: dict[str, list[int]] = defaultdict(list)
        for item in items:
            for name in item.predicted:
                groups[name].append(item.image_id)
        if not groups:
            self.status.emit("The model predicted no label for the selected images.")
            return
        stack = self.editor.stack
        stack.beginMacro(f"accept the model's prediction for {len(items)} image{'s' if len(items) != 1 else ''}")
        for name, image_ids in groups.items():
            self.editor.assign(image_ids, ids_of[name], name, source="model")
        stack.endMacro()
