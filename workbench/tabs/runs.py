"""The Runs tab: every run of the catalog (window or CLI), the runs x labels comparison and operating points.

A matrix, a seed set or variants trained together are one row of the table that opens to its runs; selecting that
row selects them all. Two or more selected finished runs of one attribute fill the comparison (per-label AP with
95% bootstrap intervals, best per label highlighted, paired differences to the chosen baseline marked where
significant, mean and spread of seed groups) and can be exported as CSV or Markdown; the selected runs' operating
points (thresholds at a target precision with intervals, PR curves with bands, thresholds picked on the curve and
saved with the run) are in their own tab (``operating_panel``). The table re-reads the catalog every few seconds
while shown, so runs started from the CLI appear too.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QColor, QHideEvent, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QPushButton,
    QSplitter,
    QTabWidget,
    QToolButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.analysis.compare import compare
from core.base.percent import percent
from core.catalog.records import RunStatus
from core.catalog.run_groups import KIND_NAMES, RunGroup, grouped
from core.catalog.runs import RunInfo, describe_settings, list_runs, settings, variant_name
from core.catalog.store import Catalog
from core.config import Oversampler
from workbench.viewmodels.requests import (
    BrowseRunTestImages,
    PlotRuns,
    PredictRun,
    Request,
    ResumeRun,
    ReviewRun,
)
from workbench.viewmodels.tab import Tab
from workbench.viewmodels.workspace import Workspace
from workbench.views.adjust_panel import AdjustPanel
from workbench.views.operating_panel import OperatingPanel
from workbench.widgets import plain
from workbench.widgets.comparison_table import ComparisonTable, export_table
from workbench.workers.tasks import Latest
from workbench.workers.torch_loading import import_analysis

TAB = Tab(title="Runs", menu="R&uns", shortcut="Ctrl+4", position=4, view="RunsView")
COLUMNS: tuple[str, ...] = ("run", "variant", "attribute", "status", "top-1", "ACSA", "GM", "macro AP")
COLUMNS += ("backbone", "settings", "duration", "date")  # the metrics before the long cells: in view at 1024 px
STATUS = COLUMNS.index("status")
METRIC_KEYS = {"top-1": "top1", "ACSA": "acsa", "GM": "gm", "macro AP": "macro_ap"}


RESUMABLE = (RunStatus.INTERRUPTED, RunStatus.CANCELLED, RunStatus.FAILED)


def _read_runs(catalog: Catalog) -> list[RunInfo]:
    return list_runs(catalog)


def _duration(seconds: float | None) -> str:
    return "–" if seconds is None else f"{seconds / 60:.1f} min" if seconds >= 90 else f"{seconds:.0f} s"


def _cells(run: RunInfo) -> list[str]:
    status = run.status + (f" ({run.epochs_done}/{run.epochs})" if run.status == RunStatus.RUNNING else "")
    cells = {"run": str(run.id), "variant": variant_name(run), "attribute": run.attribute, "status": status,
             "backbone": run.backbone, "settings": describe_settings(settings(run)),
             "duration": _duration(run.seconds), "date": f"{run.created_at:%Y-%m-%d %H:%M:%S}"}  # fmt: skip
    cells |= {name: percent(run.last.get(key)) for name, key in METRIC_KEYS.items()}
    return [cells[name] for name in COLUMNS]


def _shared(values: list[str]) -> str:
    return values[0] if len(set(values)) == 1 else "several"


def _group_cells(group: RunGroup) -> tuple[list[str], list[str]]:
    """A group's row (what its runs share, the seeds' mean or the best run of each metric) and its cells' tips."""
    runs = group.runs
    seconds = [run.seconds for run in runs if run.seconds is not None]
    cells = {"run": f"{group.ids[0]}–{group.ids[-1]}", "variant": f"{KIND_NAMES[group.kind]} · {len(runs)} runs",
             "attribute": _shared([run.attribute for run in runs]), "status": group.status(),
             "backbone": _shared([run.backbone for run in runs]),
             "settings": _shared([describe_settings(settings(run)) for run in runs]),
             "duration": _duration(sum(seconds) if seconds else None),
             "date": f"{runs[0].created_at:%Y-%m-%d %H:%M:%S}"}  # fmt: skip
    title = group.title()
    tips = {"run": title, "variant": title, "duration": "all its runs together", "date": "its first run"}
    for name, key in METRIC_KEYS.items():
        value, tips[name] = group.metric(key)
        cells[name] = percent(value)
    return [cells[name] for name in COLUMNS], [tips.get(name, "") for name in COLUMNS]


def _panel(header: list[tuple[QWidget, int]], body: QWidget) -> QWidget:
    """A row of widgets (with their stretch factors) above ``body``."""
    panel = QWidget()
    layout = QVBoxLayout(panel)
    layout.setContentsMargins(0, 0, 0, 0)
    row = QHBoxLayout()
    for widget, stretch in header:
        row.addWidget(widget, stretch)
    layout.addLayout(row)
    layout.addWidget(body)
    return panel


def _run_item(run: RunInfo) -> QTreeWidgetItem:
    item = QTreeWidgetItem(_cells(run))
    item.setData(0, Qt.ItemDataRole.UserRole, run.id)
    if run.message:
        item.setToolTip(STATUS, plain.tooltip(run.message))
    if run.status == RunStatus.FAILED:
        item.setForeground(STATUS, QBrush(QColor("#c0392b")))
    return item


def _children(item: QTreeWidgetItem) -> list[QTreeWidgetItem]:
    return [child for j in range(item.childCount()) if (child := item.child(j)) is not None]


def _group_item(group: RunGroup) -> QTreeWidgetItem:
    cells, tips = _group_cells(group)
    item = QTreeWidgetItem(cells)
    item.setData(0, Qt.ItemDataRole.UserRole + 1, group.batch)
    for column, tip in enumerate(tips):
        if tip:
            item.setToolTip(column, plain.tooltip(tip))
    font = item.font(0)
    font.setBold(True)
    for column in range(len(cells)):
        item.setFont(column, font)
    item.addChildren([_run_item(run) for run in group.runs])
    return item


def _compare_runs(catalog: Catalog, run_ids: list[int]) -> dict:
    """Worker thread: the comparison with intervals (core.analysis.compare), its libraries loaded quietly."""
    import_analysis()
    return compare(catalog, run_ids)


class RunsView(QWidget):
    status = Signal(str)

    def __init__(self, workspace: Workspace) -> None:
        super().__init__()
        self.workspace = workspace
        self.catalog: Catalog | None = None
        self.runs: list[RunInfo] = []
        self.table_data: dict | None = None
        self._runs_latest, self._compare_latest = Latest(self), Latest(self)
        self._duplicates_latest = Latest(self)
        self._duplicates_checked: dict[int, str] = {}  # run id -> its warning ("" none), for this catalog
        top, compare_box = self._runs_panel(), self._compare_panel()
        self.compare_caption.setWordWrap(True)  # long captions wrap instead of widening the window
        self.operating = OperatingPanel()
        self.operating.status.connect(self.status)
        self.bottom = QTabWidget(documentMode=True)  # each table gets the whole width: every column readable
        self.bottom.addTab(compare_box, "Comparison")
        self.bottom.addTab(self.operating, "Operating points")
        self.adjust = AdjustPanel()
        self.adjust.keep.connect(self.keep_adjusted)
        self.bottom.addTab(self.adjust, "Post-hoc adjustment")
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(top)
        splitter.addWidget(self.bottom)
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 3)
        splitter.setSizes([260, 340])  # the runs table shows several runs, the comparison the rest
        layout = QVBoxLayout(self)
        layout.addWidget(splitter)
        self._poll = QTimer(self, interval=5000)
        self._poll.timeout.connect(self.refresh)
        self.status.connect(workspace.status)
        workspace.runsChanged.connect(self.refresh)
        workspace.when_open(self._attach)
        self._buttons()

    def _runs_panel(self) -> QWidget:
        self.table = QTreeWidget(columnCount=len(COLUMNS), uniformRowHeights=True, allColumnsShowFocus=True)
        self.table.setHeaderLabels(COLUMNS)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.header().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.header().setStretchLastSection(False)
        self.table.itemSelectionChanged.connect(self._selection_changed)
        self.plot_button = QPushButton("Show in plots")
        self.review_button = QPushButton("Review mistakes")
        self.resume_button = QPushButton(
            "Resume",
            toolTip="Continue an interrupted, cancelled or failed run from "
            "its last epoch checkpoint (it joins the Train tab's queue)",
        )
        self.resume_button.clicked.connect(self._resume)
        self.browse_button = QPushButton(
            "Browse its test images", toolTip="Show the images this run was tested on in the Browse tab"
        )
        self.browse_button.clicked.connect(lambda: self._ask(BrowseRunTestImages(self.selected_ids()[0])))
        self.plot_button.clicked.connect(lambda: self._ask(PlotRuns(tuple(self.selected_ids()))))
        self.review_button.clicked.connect(lambda: self._ask(ReviewRun(self.selected_ids()[0])))
        self.predict_button = QToolButton(text="Predict", popupMode=QToolButton.ToolButtonPopupMode.InstantPopup)
        self.predict_button.setToolTip("Store this run's predictions in the catalog; Browse then shows, filters and "
                                       "accepts them")  # fmt: skip
        menu = QMenu(self.predict_button)
        for text, scope in (
            ("Unlabeled images", "unlabeled"),
            ("All images", "all"),
            ("The images Browse shows", "shown"),
        ):
            menu.addAction(text, self._predictor(scope))
        self.predict_button.setMenu(menu)
        self.duplicates_note = plain.label(wordWrap=True)
        self.duplicates_note.setStyleSheet("color: #b35c00")
        self.duplicates_note.setVisible(False)
        body = QWidget()
        column = QVBoxLayout(body)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.table, 1)
        column.addWidget(self.duplicates_note)
        return _panel(
            [
                (plain.ElidedLabel("Runs of this catalog (from the window and the CLI)"), 1),  # gives way to buttons
                (self.resume_button, 0),
                (self.browse_button, 0),
                (self.plot_button, 0),
                (self.review_button, 0),
                (self.predict_button, 0),
            ],
            body,
        )

    def _compare_panel(self) -> QWidget:
        self.baseline = QComboBox(toolTip="Differences are to this run")
        self.baseline.currentIndexChanged.connect(lambda _i: self._compare())
        self.csv_button = QPushButton("Export CSV…")
        self.markdown_button = QPushButton("Export Markdown…")
        self.csv_button.clicked.connect(lambda: self.export("csv"))
        self.markdown_button.clicked.connect(lambda: self.export("md"))
        self.compare_table = ComparisonTable()
        self.compare_caption = plain.label("Select two or more finished runs of one attribute to compare them.")
        return _panel(
            [
                (self.compare_caption, 1),
                (QLabel("Baseline"), 0),
                (self.baseline, 0),
                (self.csv_button, 0),
                (self.markdown_button, 0),
            ],
            self.compare_table,
        )

    def _attach(self) -> None:
        self.catalog = self.workspace.catalog
        self._duplicates_checked = {}
        self.refresh()

    def _predictor(self, scope: str) -> Callable[[], None]:
        return lambda: self._ask(PredictRun(self.selected_ids()[0], scope))

    def _ask(self, request: Request) -> None:
        self.workspace.request(request)

    def keep_adjusted(self, run_id: int, tau: float) -> None:
        """Record a run's post-hoc logit adjustment (the slider) as a derived run, through the training queue."""
        run = next((r for r in self.runs if r.id == run_id), None)
        if self.workspace.queue is not None and run is not None:
            self.workspace.queue.keep_adjusted(run, tau)
            self.status.emit(f"Recording run {run_id} adjusted with τ = {tau:.2f} as a new run…")

    def showEvent(self, event: QShowEvent) -> None:
        self.refresh()
        self._poll.start()
        super().showEvent(event)

    def hideEvent(self, event: QHideEvent) -> None:
        self._poll.stop()
        super().hideEvent(event)

    # -- runs -------------------------------------------------------------------------------------------------

    def refresh(self) -> None:
        if self.catalog is not None:
            self._runs_latest.run(
                _read_runs,
                self.catalog,
                on_return=self._runs_arrived,
                on_error=lambda exc: self.status.emit(f"Cannot read runs: {exc}"),
            )

    def _runs_arrived(self, runs: list[RunInfo]) -> None:
        if runs == self.runs:
            return
        selected = {self._key(item) for item in self.table.selectedItems()}
        opened = {self._key(item) for item in self._items() if item.isExpanded()}
        self.runs = runs
        self.table.blockSignals(True)
        self.table.clear()
        self.table.addTopLevelItems(
            [_group_item(item) if isinstance(item, RunGroup) else _run_item(item) for item in grouped(runs)]
        )
        for item in self._items():
            item.setSelected(self._key(item) in selected)
            item.setExpanded(self._key(item) in opened)
        self.table.blockSignals(False)
        self._selection_changed()

    def _items(self) -> list[QTreeWidgetItem]:
        """Every row: the runs and groups at the top, and each group's runs."""
        top = _children(self.table.invisibleRootItem())
        return top + [child for item in top for child in _children(item)]

    @staticmethod
    def _key(item: QTreeWidgetItem) -> object:
        """A run row's run id, a group row's batch id (what a refresh keeps selected and open)."""
        run_id = item.data(0, Qt.ItemDataRole.UserRole)
        return run_id if run_id is not None else item.data(0, Qt.ItemDataRole.UserRole + 1)

    def _ids_of(self, item: QTreeWidgetItem) -> list[int]:
        run_id = item.data(0, Qt.ItemDataRole.UserRole)
        if run_id is not None:
            return [int(run_id)]
        return [int(child.data(0, Qt.ItemDataRole.UserRole)) for child in _children(item)]

    def row_count(self) -> int:
        """The table's rows at the top: single runs and groups (a group's runs are under it)."""
        return self.table.topLevelItemCount()

    def selected_ids(self) -> list[int]:
        """The selected runs in the table's order (a selected group: all its runs)."""
        chosen = {run_id for item in self.table.selectedItems() for run_id in self._ids_of(item)}
        return [run.id for run in self.runs if run.id in chosen]

    def select_runs(self, run_ids: list[int]) -> None:
        self.table.clearSelection()
        for item in self._items():
            if item.data(0, Qt.ItemDataRole.UserRole) in run_ids:
                item.setSelected(True)
                parent = item.parent()
                if parent is not None:
                    parent.setExpanded(True)

    def _selected_finished(self) -> list[int]:
        finished = {run.id for run in self.runs if run.status == RunStatus.FINISHED}
        return [i for i in self.selected_ids() if i in finished]

    def _resumable(self) -> RunInfo | None:
        """The one selected run when it can be continued (the oversampler's and head-only runs are re-run, not
        resumed)."""
        ids = self.selected_ids()
        run = next((r for r in self.runs if ids and r.id == ids[0]), None)
        if (
            len(ids) == 1
            and run
            and run.status in RESUMABLE
            and run.loss != Oversampler.CONVEX_GAN
            and not run.config.head_only  # seconds to train again; no checkpoint is kept
        ):
            return run
        return None

    def _resume(self) -> None:
        run = self._resumable()
        if run is not None:
            self._ask(ResumeRun(run))

    def _buttons(self) -> None:
        ids = self.selected_ids()
        finished = self._selected_finished()
        self.resume_button.setEnabled(self._resumable() is not None)
        self.plot_button.setEnabled(bool(finished))
        self.review_button.setEnabled(bool(finished) and finished[0] == (ids[0] if ids else None))
        self.browse_button.setEnabled(len(ids) == 1 and bool(finished))
        self.predict_button.setEnabled(len(ids) == 1 and bool(finished))
        comparable = self.table_data is not None
        self.csv_button.setEnabled(comparable)
        self.markdown_button.setEnabled(comparable)

    def _selection_changed(self) -> None:
        finished = self._selected_finished()
        current = self.baseline.currentData()
        self.baseline.blockSignals(True)
        self.baseline.clear()
        for run_id in finished:
            self.baseline.addItem(f"run {run_id}", run_id)
        self.baseline.setCurrentIndex(max(0, self.baseline.findData(current)))
        self.baseline.blockSignals(False)
        self._compare()
        self.operating.show_runs(self.catalog, finished)
        ids = self.selected_ids()
        one = ids[0] if len(ids) == 1 and ids == finished else None
        if one != self.adjust.wanted:
            self.adjust.show_run(self.catalog, one)
        self._check_duplicates(one)
        self._buttons()

    def _check_duplicates(self, run_id: int | None) -> None:
        """Warn when the selected run's test images have twins in its training split (worker thread)."""
        from workbench.workers.curation import duplicate_warning

        if run_id is not None and run_id in self._duplicates_checked:  # a finished run's splits do not change:
            self._show_duplicates(self._duplicates_checked[run_id])  # the 5-s refresh while training re-selects
            return
        self.duplicates_note.setVisible(False)
        if run_id is None or self.catalog is None:
            return

        def arrived(text: str) -> None:
            self._duplicates_checked[run_id] = text
            if self.selected_ids() == [run_id]:
                self._show_duplicates(text)

        self._duplicates_latest.run(
            duplicate_warning, self.catalog, run_id, on_return=arrived, on_error=lambda _exc: None
        )

    def _show_duplicates(self, text: str) -> None:
        self.duplicates_note.setText(text)
        self.duplicates_note.setVisible(bool(text))

    # -- comparison -------------------------------------------------------------------------------------------

    def _compare(self) -> None:
        finished = self._selected_finished()
        if len(finished) < 2 or self.catalog is None:
            self.table_data = None
            self.compare_table.clear_table()
            self.compare_caption.setText("Select two or more finished runs of one attribute to compare them.")
            self._buttons()
            return
        baseline = self.baseline.currentData()
        ordered = [baseline] + [i for i in finished if i != baseline] if baseline in finished else finished
        self.compare_caption.setText(
            f"Comparing {len(ordered)} runs on the test images they share (bootstrap intervals)…"
        )
        self._compare_latest.run(
            _compare_runs, self.catalog, ordered, on_return=self._compared, on_error=self._compare_failed
        )

    def _compare_failed(self, exc: BaseException) -> None:
        self.table_data = None
        self.compare_table.clear_table()
        self.compare_caption.setText(str(exc))
        self._buttons()

    def _compared(self, table: dict) -> None:
        self.table_data = table
        self.compare_table.show_table(table)
        differ = table.get("differences") or []
        note = f"\n⚠ These runs differ in settings, not only in variant: {'; '.join(differ)}" if differ else ""
        self.compare_caption.setText(self.compare_table.caption() + note)
        self._buttons()

    def export(self, kind: str, path: str | None = None) -> str | None:
        if self.table_data is None:
            return None
        written, message = export_table(self, self.table_data, kind, path, self._export_path(f"comparison.{kind}"))
        if message:
            self.status.emit(message)
        return written

    def _export_path(self, name: str) -> str:
        """A file dialog's start: ``name`` in the catalog's folder (a URL catalog: the working folder)."""
        location = self.catalog.location if self.catalog is not None else ""
        if location and "://" not in str(location):
            return str(Path(location).expanduser().resolve().parent / name)
        return name
