"""The catalog browser: filter bar, thumbnail grid, detail pane and the label panel that annotates the selection."""

from __future__ import annotations

import functools
from array import array
from typing import TYPE_CHECKING

from PySide6.QtCore import QByteArray, QItemSelection, QItemSelectionModel, QPoint, Qt, QTimer, Signal, SignalInstance
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from core.catalog.records import PREDICTION_SORTS, SORTS, AttributeInfo, ImageFilter, Kind, LabelInfo
from workbench.viewmodels import settings
from workbench.viewmodels.requests import BrowseImages, BrowseLabel, BrowseRunTestImages, PredictRun, Request
from workbench.viewmodels.similar import MAX_SIMILAR_QUERY, SIMILAR_COUNT, Similar
from workbench.viewmodels.tab import Tab
from workbench.viewmodels.workspace import Workspace
from workbench.views.accept_dialog import AcceptDialog
from workbench.views.detail import DetailPane
from workbench.views.prediction_bar import PredictionBar, prediction_runs
from workbench.widgets import plain
from workbench.widgets.grid import ImageGridModel, ImageGridView
from workbench.widgets.job_runner import JobRunner
from workbench.workers.curation import predict_job, similar_job
from workbench.workers.tasks import Latest
from workbench.workers.torch_loading import import_analysis

if TYPE_CHECKING:
    from core.analysis.accept_preview import AcceptRow
    from core.catalog.edits import Edit
    from core.catalog.store import Catalog
    from core.curation.predict import PredictResult
    from core.curation.similar import SimilarResult
    from workbench.viewmodels.catalog_state import CatalogState
    from workbench.viewmodels.editor import Editor

TAB = Tab(title="Browse", menu="&Browse", shortcut="Ctrl+1", position=1, view="BrowserView")
SPLITTER_KEY = "window/browser-splitter"


def _accept_preview(catalog: Catalog, run_id: int, precision: float) -> list:
    """Worker thread: what accepting above thresholds would do, per label (core.analysis.accept_preview)."""
    import_analysis()
    from core.analysis.accept_preview import accept_preview

    return accept_preview(catalog, run_id, precision)


def _image_ids(catalog: Catalog, f: ImageFilter) -> array:
    """Worker thread (the query module, with SQLAlchemy, is imported there, after the window's first paint)."""
    from core.catalog.browse import image_ids

    return image_ids(catalog, f)


SPLIT_CHOICES = (("All splits", None), ("train", "train"), ("val", "val"), ("test", "test"), ("No split", "none"))
SOURCE_CHOICES = (("Any source", None), ("human", "human"), ("import", "import"), ("model", "model"))


SELECTION_SHARED = 10_000  # selected images told to the other tabs (the map highlights them)


class FilterBar(QWidget):
    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = QComboBox(minimumContentsLength=14)
        self.label.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.has = QComboBox()
        self.has.addItem("has", True)
        self.has.addItem("has not", False)
        self.split = QComboBox()
        for text, value in SPLIT_CHOICES:
            self.split.addItem(text, value)
        self.unlabeled = QCheckBox("Unlabeled only")
        self.source = QComboBox()
        for text, value in SOURCE_CHOICES:
            self.source.addItem(text, value)
        self.text = QLineEdit(placeholderText="Path contains…", clearButtonEnabled=True)
        self.sort = QComboBox()
        for key, text in SORTS.items():
            if key not in PREDICTION_SORTS:  # those are the prediction bar's
                self.sort.addItem(f"Sort: {text}", key)
        self.count = plain.label()
        self.run_id: int | None = None
        self.run_chip = QPushButton(toolTip="Showing only the images this run was tested on: click to show all")
        self.run_chip.setVisible(False)
        self.run_chip.clicked.connect(lambda: self.set_run(None))
        self.subset: str | None = None  # the chip of a subset Browse shows (similar images, a map selection)
        self.similar_chip = QPushButton()
        self.similar_chip.setVisible(False)
        self.similar_chip.clicked.connect(lambda: self.set_subset(None))
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        for widget in (
            self.similar_chip,
            self.run_chip,
            self.has,
            self.label,
            self.split,
            self.unlabeled,
            self.source,
            self.text,
            self.sort,
        ):
            layout.addWidget(widget)
        layout.addStretch(1)
        layout.addWidget(self.count)
        self._debounce = QTimer(self, singleShot=True, interval=250)
        self._debounce.timeout.connect(self.changed)
        self.text.textChanged.connect(self._debounce.start)
        for combo in (self.label, self.has, self.split, self.source, self.sort):
            combo.currentIndexChanged.connect(self._changed)
        self.unlabeled.toggled.connect(self._changed)
        self._quiet = False

    def _changed(self, *_args: object) -> None:
        if not self._quiet:
            self.changed.emit()

    def set_labels(self, labels: list[LabelInfo], keep: int | None) -> None:
        self._quiet = True
        self.label.clear()
        self.label.addItem("any label", None)
        for info in labels:
            self.label.addItem(f"{info.name} ({info.count:,})", info.id)
        index = self.label.findData(keep) if keep is not None else 0
        self.label.setCurrentIndex(max(index, 0))
        self._quiet = False

    def show_unlabeled(self) -> None:
        """Only the images without a label of the attribute, any label filter off (the caller applies)."""
        self._quiet = True
        self.has.setCurrentIndex(0)
        self.label.setCurrentIndex(0)
        self.unlabeled.setChecked(True)
        self._quiet = False

    def select_label(self, label_id: int | None) -> None:
        self._quiet = True
        self.has.setCurrentIndex(0)
        self.unlabeled.setChecked(False)
        index = self.label.findData(label_id)
        self.label.setCurrentIndex(max(index, 0))
        self._quiet = False
        self.changed.emit()

    def set_run(self, run_id: int | None) -> None:
        """Show only the test images of run ``run_id`` (None: every image)."""
        self.run_id = run_id
        self.run_chip.setText(f"Test images of run {run_id}  ✕" if run_id is not None else "")
        self.run_chip.setVisible(run_id is not None)
        self.changed.emit()

    def set_similar(self, count: int | None) -> None:
        """Show the images like ``count`` chosen ones (None: every image)."""
        plural = "s" if count != 1 else ""
        tip = "the images most like the chosen ones, nearest first (the distance before each caption)"
        self.set_subset(f"Similar to {count} image{plural}" if count is not None else None, tip)

    def set_subset(self, title: str | None, tip: str = "") -> None:
        """Show only a subset of the images, named by ``title`` on its chip (None: every image)."""
        self.subset = title
        self.similar_chip.setText(f"{title}  ✕" if title is not None else "")
        self.similar_chip.setToolTip(f"Showing {tip or title}: click to show all" if title else "")
        self.similar_chip.setVisible(title is not None)
        self.changed.emit()

    def current(self, attribute_id: int | None) -> ImageFilter:
        return ImageFilter(
            run_id=self.run_id,
            attribute_id=attribute_id,
            label_id=self.label.currentData(),
            has_label=bool(self.has.currentData()),
            split=self.split.currentData(),
            unlabeled=self.unlabeled.isChecked(),
            source=self.source.currentData(),
            text=self.text.text(),
            sort=self.sort.currentData(),
        )


class LabelPanel(QWidget):
    """The current attribute's labels: click (or press 1-9) to label the selection; remove and clear below."""

    assign = Signal(int)
    remove = Signal(int)
    clear = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = QLabel(wordWrap=True)
        self.list = QListWidget()
        self.list.setAlternatingRowColors(True)
        # a click picks a label; Apply, Enter (or a double-click) or its number key gives it to the selection
        self.list.itemActivated.connect(lambda item: self.assign.emit(item.data(Qt.ItemDataRole.UserRole)))
        self.list.currentItemChanged.connect(lambda *_: self._update_apply_text())
        self.assign_button = QPushButton("Apply")
        self.remove_button = QPushButton("Remove")
        self.clear_button = QPushButton("Clear all")
        self.assign_button.setToolTip("Give the highlighted label to the selected images (Enter, or its number key)")
        self.remove_button.setToolTip("Take the highlighted label off the selected images")
        self.clear_button.setToolTip("Take every label of this attribute off the selected images (key 0)")
        self.assign_button.clicked.connect(lambda: self._emit(self.assign))
        self.remove_button.clicked.connect(lambda: self._emit(self.remove))
        self.clear_button.clicked.connect(self.clear)
        buttons = QHBoxLayout()
        for button in (self.assign_button, self.remove_button, self.clear_button):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 0, 6, 6)
        layout.addWidget(self.title)
        layout.addWidget(self.list, 1)
        layout.addLayout(buttons)
        self.set_labels(None, [], 0)

    def _emit(self, signal: SignalInstance) -> None:
        item = self.list.currentItem()
        if item is not None:
            signal.emit(item.data(Qt.ItemDataRole.UserRole))

    def set_labels(
        self, attribute: AttributeInfo | None, labels: list[LabelInfo], selected: int, has: tuple[str, ...] = ()
    ) -> None:
        """``has``: the labels the selected image has (one image selected), marked with a tick and in bold."""
        current = self.list.currentItem().data(Qt.ItemDataRole.UserRole) if self.list.currentItem() else None
        self.list.blockSignals(True)
        self.list.clear()
        bold = self.list.font()
        bold.setBold(True)
        for number, info in enumerate(labels, start=1):
            key = f"{number}  " if number <= 9 else "    "
            mark = "✓ " if info.name in has else ""
            item = QListWidgetItem(f"{key}{mark}{info.name}   ({info.count:,})")
            item.setData(Qt.ItemDataRole.UserRole, info.id)
            item.setData(Qt.ItemDataRole.UserRole + 1, info.name)
            if mark:
                item.setFont(bold)
            item.setToolTip(
                plain.tooltip(
                    f"Pick, then Apply or Enter to label the selected images '{info.name}'"
                    + (f" (or key {number})" if number <= 9 else "")
                    + ("\nThe selected image has this label" if mark else "")
                )
            )
            self.list.addItem(item)
            if info.id == current or (current is None and mark):
                self.list.setCurrentItem(item)
        self.list.blockSignals(False)
        self.image_labels = has
        self._update_apply_text()
        if attribute is None:
            self.title.setText("<b>No attribute yet.</b> Import images or create one under Labels ▸ Manage.")
        else:
            kind = "one label per image" if attribute.kind == Kind.SINGLE else "several labels per image"
            self.title.setText(f"<b>{plain.escape(attribute.name)}</b> ({kind}) · {selected:,} selected")
        enabled = attribute is not None and selected > 0
        for button in (self.assign_button, self.remove_button, self.clear_button):
            button.setEnabled(enabled)
        self.selected = selected

    def _update_apply_text(self) -> None:
        item = self.list.currentItem()
        name = item.data(Qt.ItemDataRole.UserRole + 1) if item is not None else ""
        self.assign_button.setText(f"Apply '{name if len(name) <= 18 else name[:17] + '…'}'" if name else "Apply")


class BrowserView(QWidget):
    """Grid + filters + detail + labels; shows a label's or a run's images, and a run's predictions, when another
    tab asks (:meth:`handle`)."""

    status = Signal(str)

    def __init__(self, workspace: Workspace) -> None:
        super().__init__()
        self.workspace = workspace
        self.state: CatalogState | None = None
        self.editor: Editor | None = None
        self.filters = FilterBar()
        self.predictions = PredictionBar()
        self.model = ImageGridModel(workspace.thumbs, self)
        self.grid = ImageGridView()
        self.grid.setModel(self.model)
        self.detail = DetailPane(workspace.cache_dir)
        self.labels = LabelPanel()
        side = QSplitter(Qt.Orientation.Vertical)
        side.addWidget(self.detail)
        side.addWidget(self.labels)
        side.setSizes([420, 300])
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.grid)
        self.splitter.addWidget(side)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([900, 320])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.filters)
        layout.addWidget(self.predictions)
        layout.addWidget(self.splitter, 1)
        self._query = Latest(self)
        self._shown_filter: ImageFilter | None = None
        self._select_when_shown: set[int] = set()  # images a request asked to select once they are listed
        self._selection_timer = QTimer(self, singleShot=True, interval=60)
        self._selection_timer.timeout.connect(self._selection_settled)
        self.filters.changed.connect(self.apply_filter)
        self.predictions.changed.connect(self.apply_filter)
        self.predictions.acceptSelection.connect(self.accept_selection)
        self.predictions.acceptAbove.connect(self.accept_above)
        self._runs_query = Latest(self)
        self._preview = Latest(self)
        self.accept_dialog: AcceptDialog | None = None
        self.grid.selectionModel().selectionChanged.connect(lambda *_: self._selection_timer.start())
        self.grid.digitPressed.connect(self._digit)
        self.grid.customContextMenuRequested.connect(self._context_menu)
        self.labels.assign.connect(self.assign_label)
        self.labels.remove.connect(self.remove_label)
        self.labels.clear.connect(self.clear_labels)
        self.select_all = QAction("Select all", self, shortcut="Ctrl+A")
        self.select_all.triggered.connect(self.grid.selectAll)
        self.grid.addAction(self.select_all)
        self.find_similar_action = QAction(
            "Find similar", self, shortcut="F", toolTip="Show the images most like the selected ones, nearest first"
        )
        self.find_similar_action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        self.find_similar_action.triggered.connect(self.find_similar)
        self.grid.addAction(self.find_similar_action)
        self.similar: Similar | None = None
        self.similar_runner = JobRunner(self)
        self.similar_runner.running_changed.connect(workspace.busy)
        self.similar_runner.failed.connect(lambda message: plain.warn(self, "Find similar", message))
        self.predict_runner = JobRunner(self)
        self.predict_runner.running_changed.connect(workspace.busy)
        self.predict_runner.failed.connect(lambda message: plain.warn(self, "Predict", message))
        self.status.connect(workspace.status)
        workspace.contribute("&Edit", self.select_all)
        workspace.closing.connect(self._save_settings)
        self._restore_settings()
        workspace.when_open(self._attach)

    # -- wiring ----------------------------------------------------------------------------------------

    def _attach(self) -> None:
        self.state, self.editor = self.workspace.state, self.workspace.editor
        assert self.state is not None and self.editor is not None
        self.state.changed.connect(self._state_changed)
        self.editor.edited.connect(self._edited)
        if self.state.loaded:
            self._state_changed()

    def _restore_settings(self) -> None:
        splitter = settings.settings().value(SPLITTER_KEY)
        if isinstance(splitter, QByteArray):
            self.splitter.restoreState(splitter)

    def _save_settings(self) -> None:
        settings.settings().setValue(SPLITTER_KEY, self.splitter.saveState())

    def handle(self, request: Request) -> None:
        if isinstance(request, BrowseImages):
            self.show_images(request)
        elif isinstance(request, BrowseLabel):
            self.show_label(request.label_id)
        elif isinstance(request, BrowseRunTestImages):
            self.show_run_test_images(request.run_id)
        elif isinstance(request, PredictRun):
            self.predict(request.run_id, request.scope)

    def predict(self, run_id: int, scope: str) -> None:
        """Store a run's predictions (``unlabeled``, ``all`` images, or those shown here) on a worker, then show
        them."""
        if self.workspace.location is None:
            return
        shown = self.model.all_ids() if scope == "shown" else None
        what = f"the {len(shown):,} images Browse shows" if shown is not None else f"{scope} images"
        self.predict_runner.start(
            f"Predicting {what} with run {run_id}",
            predict_job,
            self.workspace.location,
            run_id,
            scope,
            shown,
            on_result=lambda result: self._predicted(run_id, result, scope),
        )

    def _predicted(self, run_id: int, result: PredictResult, scope: str = "all") -> None:
        if result.cancelled:
            self.status.emit(f"Prediction with run {run_id} cancelled; nothing was written")
            return
        unlabeled = scope == "unlabeled"
        if unlabeled:  # what was predicted is what to look at: the unlabeled images, not the labelled ones first
            self.filters.show_unlabeled()
        shown = "the unlabeled ones" if unlabeled else "them"
        self.status.emit(
            f"Run {run_id} predicted {len(result.image_ids):,} images in {result.seconds:.1f} s; Browse shows "
            f"{shown} with their predictions (Predictions row)"
        )
        self.refresh_predictions(run_id)

    def _state_changed(self) -> None:
        state = self.state
        if state is None:
            return
        previous = self.model.attribute_id
        self.filters.set_labels(
            state.labels, self.filters.label.currentData() if previous == state.attribute_id else None
        )
        self.labels.set_labels(state.attribute, state.labels, len(self.grid.selected_rows()), self.labels.image_labels)
        self.predictions.set_labels(state.labels)
        if previous != state.attribute_id or self.model.catalog is not state.catalog:  # another catalog: its ids
            self.refresh_predictions(None, apply=False)
            self.apply_filter()

    def refresh_predictions(self, select: int | None = None, apply: bool = True) -> None:
        """Read which runs of the attribute have stored predictions (``select``: show that run's)."""
        state = self.state
        if state is None or state.attribute_id is None:
            self.predictions.set_runs([], None)
            return
        keep = select if select is not None else self.predictions.run_id

        def arrived(runs: list[tuple[int, str]]) -> None:
            before = self.predictions.run_id
            self.predictions.set_runs(runs, keep)
            if apply or self.predictions.run_id != before:
                self.apply_filter()

        self._runs_query.run(prediction_runs, state.catalog, state.attribute_id, on_return=arrived)

    def apply_filter(self) -> None:
        if self.state is None:
            return
        f = self.predictions.apply(self.filters.current(self.state.attribute_id))
        self.filters.count.setText("counting…")
        self._query.run(
            _image_ids,
            self.state.catalog,
            f,
            on_return=lambda ids: self._ids_arrived(f, ids),
            on_error=lambda exc: self.status.emit(f"Filter failed: {exc}"),
        )

    def _ids_arrived(self, f: ImageFilter, ids: array) -> None:
        prefixes = None
        if self.filters.subset is None:
            self.similar = None
        elif self.similar is not None:  # the similar images the other filters let through, nearest first
            ids, prefixes = self.similar.within(ids)
        same_filter = f == self._shown_filter  # read again after an edit: keep the place and the selection
        self._shown_filter = f
        keep = set(self.grid.selected_ids()) if len(ids) and same_filter else set()
        scroll = self.grid.verticalScrollBar().value() if same_filter else 0
        if self.state is None:
            return
        self.model.set_ids(self.state.catalog, ids, f.attribute_id, prediction_run=f.prediction_run,
                           prefixes=prefixes)  # fmt: skip
        self.detail.prediction_run = f.prediction_run
        total = len(ids)
        self.filters.count.setText(f"{total:,} image{'s' if total != 1 else ''}")
        asked, self._select_when_shown = self._select_when_shown, set()
        keep = asked or keep
        if keep and len(keep) <= 5000:
            selection = QItemSelection()
            for row, image_id in enumerate(ids):
                if image_id in keep:
                    selection.select(self.model.index(row), self.model.index(row))
            self.grid.selectionModel().select(selection, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        self.grid.verticalScrollBar().setValue(scroll)
        first = next((row for row, image_id in enumerate(ids) if image_id in asked), None) if asked else None
        if first is not None:
            self.grid.scrollTo(self.model.index(first))
        self._selection_settled()

    @property
    def listed(self) -> bool:
        """Whether the grid lists the open catalog's images (the first query of the catalog has answered)."""
        return self._shown_filter is not None and self.state is not None and self.model.catalog is self.state.catalog

    def show_label(self, label_id: int | None) -> None:
        self.filters.select_label(label_id)

    def show_run_test_images(self, run_id: int) -> None:
        self.filters.set_run(run_id)

    # -- selection and annotation ----------------------------------------------------------------------

    def _selection_settled(self) -> None:
        rows = self.grid.selected_rows()
        self.workspace.browseSelection.emit(tuple(self.model.image_id(r) for r in rows[:SELECTION_SHARED]))
        if self.state is not None:
            info = self.model.row_info(rows[0]) if len(rows) == 1 else None
            has = info.labels if info is not None and self.model.attribute_id == self.state.attribute_id else ()
            self.labels.set_labels(self.state.attribute, self.state.labels, len(rows), has)
        if len(rows) == 1 and self.state is not None:
            self.detail.show_image(self.state.catalog, self.model.image_id(rows[0]))
        elif rows:
            self.detail.show_selection(len(rows))
        else:
            self.detail.show_nothing("Select an image to see it here.")

    def _digit(self, number: int) -> None:
        if self.state is None or self.state.attribute is None:
            return
        if number == 0:
            self.clear_labels()
        elif number <= len(self.state.labels):
            self.assign_label(self.state.labels[number - 1].id)

    def assign_label(self, label_id: int) -> None:
        ids = self.grid.selected_ids()
        info = self.state.label(label_id) if self.state else None
        if not ids or info is None or self.state is None or self.editor is None:
            self.status.emit("Select images first, then choose a label.")
            return
        seen = self.model.seen_labels(ids) if self.model.attribute_id == self.state.attribute_id else None
        self.editor.assign(ids, label_id, info.name, seen=seen)

    def remove_label(self, label_id: int) -> None:
        ids = self.grid.selected_ids()
        info = self.state.label(label_id) if self.state else None
        if ids and info is not None and self.editor is not None:
            self.editor.remove(ids, label_id, info.name)

    def clear_labels(self) -> None:
        ids = self.grid.selected_ids()
        attribute = self.state.attribute if self.state else None
        if ids and attribute is not None and self.editor is not None:
            self.editor.clear(ids, attribute.id, attribute.name)

    def accept_selection(self, run_id: int) -> None:
        ids = self.grid.selected_ids()
        if not ids or self.editor is None:
            self.status.emit("Select images first, then accept their predictions.")
            return

        def build(catalog: Catalog) -> Edit:
            from core.catalog.model_edits import accept_predictions

            return accept_predictions(catalog, run_id, ids).edit

        self.editor.push(build, f"accept run {run_id}'s predictions on {len(ids):,} images")

    def accept_above(self, run_id: int, precision: float) -> None:
        """Preview per label (worker: operating points need scikit-learn), then accept the checked labels."""
        if self.state is None:
            return
        self.status.emit(f"Measuring run {run_id}'s thresholds at {precision:.0%} precision…")
        self._preview.run(
            _accept_preview,
            self.state.catalog,
            run_id,
            precision,
            on_return=lambda rows: self._show_accept_preview(run_id, precision, rows),
            on_error=lambda exc: self.status.emit(f"Cannot accept: {exc}"),
        )

    def _show_accept_preview(self, run_id: int, precision: float, rows: list[AcceptRow]) -> None:
        from core.analysis.compare import MIN_TEST_IMAGES

        self.status.emit("")
        dialog = AcceptDialog(run_id, rows, MIN_TEST_IMAGES, self)
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.accepted.connect(lambda: self._accept_checked(run_id, precision, dialog.thresholds()))
        dialog.finished.connect(dialog.deleteLater)
        self.accept_dialog = dialog
        dialog.open()

    def _accept_checked(self, run_id: int, precision: float, thresholds: dict[int, float | None]) -> None:
        if self.editor is None:
            return

        def build(catalog: Catalog) -> Edit:
            from core.catalog.model_edits import accept_predictions

            return accept_predictions(catalog, run_id, None, thresholds).edit

        self.editor.push(build, f"accept run {run_id}'s predictions at {precision:.0%} precision")

    def _edited(self, edit: Edit) -> None:
        f = self.predictions.apply(self.filters.current(self.state.attribute_id if self.state else None))
        if f.label_id is not None or f.unlabeled or f.source is not None or f.disagrees:
            self.apply_filter()  # membership may have changed
        else:
            self.model.reload_rows(edit.images)
        self.detail.refresh()

    def show_images(self, request: BrowseImages) -> None:
        """Show only these images (a map selection), in their order; ``select``: select them once shown."""
        self.similar = Similar((), request.image_ids, {})
        if request.select:
            self._select_when_shown = set(request.image_ids)
        self.filters.set_subset(request.title, f"{request.title} (the other filters narrow them)")

    # -- similar images ---------------------------------------------------------------------------------

    def find_similar(self) -> None:
        """Search (on a worker, the feature pass first where needed) the images most like the selected ones."""
        chosen = self.grid.selected_ids()
        if self.workspace.location is None or self.state is None or not chosen:
            self.status.emit("Find similar: select one or more images first")
            return
        if len(chosen) > MAX_SIMILAR_QUERY:
            self.status.emit(f"Find similar: select at most {MAX_SIMILAR_QUERY} images")
            return
        attribute = self.state.attribute.name if self.state.attribute is not None else None
        plural = "s" if len(chosen) != 1 else ""
        self.similar_runner.start(
            f"Finding the images most like the {len(chosen)} selected{plural}",
            similar_job, self.workspace.location, chosen, SIMILAR_COUNT, attribute,
            on_result=lambda result: self._similar_found(chosen, result),
        )  # fmt: skip

    def _similar_found(self, chosen: list[int], result: SimilarResult) -> None:
        if result.cancelled:
            self.status.emit("Find similar cancelled (the features computed so far are kept)")
            return
        self.similar = Similar.of(chosen, result)
        self.filters.set_similar(len(chosen))
        self.status.emit(
            f"The {len(result.neighbours):,} images most like the {len(chosen)} chosen, nearest first "
            f"(features: {result.features}; {result.computed:,} computed, {result.seconds:.1f} s)"
        )

    def _context_menu(self, position: QPoint) -> None:
        if self.state is None or self.state.attribute is None or not self.grid.selected_rows():
            return
        menu = QMenu(self)
        apply_menu = menu.addMenu("Label as")
        remove_menu = menu.addMenu("Remove label")
        for number, info in enumerate(self.state.labels, start=1):
            text = f"&{number} {info.name}" if number <= 9 else info.name
            apply_menu.addAction(text, functools.partial(self.assign_label, info.id))
            remove_menu.addAction(info.name, functools.partial(self.remove_label, info.id))
        menu.addAction(f"Clear '{self.state.attribute.name}'", self.clear_labels)
        menu.addSeparator()
        menu.addAction(self.find_similar_action)
        menu.addAction(self.select_all)
        menu.exec(self.grid.viewport().mapToGlobal(position))
