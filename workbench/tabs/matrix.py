"""The Matrix tab: every chosen head variant x seed trained on one feature store in one action, then the runs x
labels table (labels by training count, tail on the right) with 95% bootstrap intervals and differences to a
baseline variant, and a plot of one run's per-label differences against the labels' training counts with their
intervals as error bars. The same computation as ``tailor matrix`` (``core.experiments.matrix``); the training
runs on a worker with a progress dialog and Cancel (the main window starts it: ``trainMatrix``).
"""

from __future__ import annotations

import html
import math
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QPushButton,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from core.analysis.compare import too_few
from core.catalog.records import Kind
from core.config import MATRIX_VARIANTS, OVERSAMPLERS, SINGLE_LABEL_ONLY
from workbench.viewmodels.tab import Tab
from workbench.viewmodels.workspace import Workspace
from workbench.widgets import plain
from workbench.widgets.comparison_table import ComparisonTable, export_table
from workbench.widgets.job_runner import JobRunner
from workbench.widgets.variant_checks import check_only, variant_checks
from workbench.workers.experiments import matrix_job
from workbench.workers.tasks import Latest
from workbench.workers.torch_loading import import_training

if TYPE_CHECKING:
    from core.catalog.store import Catalog
    from core.experiments.matrix import MatrixPlan
    from workbench.viewmodels.catalog_state import CatalogState

TAB = Tab(title="Matrix", menu="Variant &matrix", shortcut="Ctrl+7", position=7, view="MatrixView")
TICKS = (1, 3, 10, 30, 100, 300, 1000, 3000, 10_000, 30_000, 100_000, 300_000, 1_000_000)
NO_RUN_HINT = (
    "Train one run of this attribute first (heads on a pretrained backbone are fastest): the matrix trains every "
    "variant on that run's features."
)


def _sources(catalog: Catalog, attribute: str) -> list[tuple[int, str]]:
    """Worker thread: the feature sources of the attribute's finished runs."""
    import_training()
    from core.experiments.matrix import feature_sources

    return [(s.run_id, s.text) for s in feature_sources(catalog, attribute)]


class MatrixView(QWidget):
    status = Signal(str)

    def __init__(self, workspace: Workspace) -> None:
        super().__init__()
        self.workspace = workspace
        self.runner = JobRunner(self)
        self.runner.running_changed.connect(workspace.busy)
        self.runner.failed.connect(lambda message: plain.warn(self, "Variant matrix", message))
        self.state: CatalogState | None = None
        self.table_data: dict | None = None
        self._sources = Latest(self)
        self.features = QComboBox(minimumContentsLength=34, toolTip="Whose features every head trains on")
        self.seed = QSpinBox(minimum=0, maximum=2**31 - 1, toolTip="The first seed; its split serves every seed")
        self.seed_count = QSpinBox(minimum=1, maximum=20, value=3, prefix="× ", suffix=" seeds")
        self.epochs = QSpinBox(minimum=1, maximum=1000, value=30, toolTip="Epochs of each head")
        self.baseline = QComboBox(toolTip="Differences are to this variant's first run")
        self.train_button = QPushButton("Train matrix")
        self.train_button.clicked.connect(self.train)
        self.csv_button = QPushButton("Export CSV…")
        self.markdown_button = QPushButton("Export Markdown…")
        self.csv_button.clicked.connect(lambda: self.export("csv"))
        self.markdown_button.clicked.connect(lambda: self.export("md"))
        self.measure = QComboBox(toolTip="The per-label value whose differences the plot shows")
        self.measure.addItem("AP", "ap")
        self.measure.addItem("accuracy", "accuracy")
        self.measure.currentIndexChanged.connect(lambda _i: self._plot())
        self.caption = plain.label("", wordWrap=True)
        self.table = ComparisonTable()
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.itemSelectionChanged.connect(self._plot)
        self.plot = None  # built with the first table (pyqtgraph loads then)
        self._layout()
        self._enable()
        self.status.connect(workspace.status)
        workspace.when_open(self._attach)

    def _variant_boxes(self) -> QWidget:
        gan = "Phase 2 of the convex-GAN on the nw head of the same seed; crt is its control"
        box, self.variant_boxes = variant_checks(
            MATRIX_VARIANTS,
            checked=lambda _v: True,
            tips=dict.fromkeys(OVERSAMPLERS, gan),
            changed=self._variants_changed,
        )
        return box

    def _layout(self) -> None:
        form = QFormLayout()
        form.addRow("Features of", self.features)
        form.addRow("Variants", self._variant_boxes())
        seeds = QHBoxLayout()
        seeds.addWidget(self.seed, 1)
        seeds.addWidget(self.seed_count, 1)
        form.addRow("Seed", seeds)
        form.addRow("Epochs", self.epochs)
        form.addRow("Baseline", self.baseline)
        form.addRow(self.train_button)
        settings = QWidget()
        settings.setLayout(form)
        settings.setMaximumWidth(380)
        self.features.setMinimumContentsLength(24)
        self.features.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        header = QHBoxLayout()
        header.addWidget(self.caption, 1)
        header.addWidget(plain.label("Plot"))
        header.addWidget(self.measure)
        header.addWidget(self.csv_button)
        header.addWidget(self.markdown_button)
        results = QWidget()
        column = QVBoxLayout(results)
        column.setContentsMargins(0, 0, 0, 0)
        column.addLayout(header)
        self.results_split = QSplitter(Qt.Orientation.Vertical)
        self.results_split.addWidget(self.table)
        column.addWidget(self.results_split, 1)
        splitter = QSplitter()
        splitter.addWidget(settings)
        splitter.addWidget(results)
        splitter.setStretchFactor(1, 3)
        splitter.setSizes([300, 900])
        layout = QVBoxLayout(self)
        layout.addWidget(splitter)
        self._variants_changed()

    # -- wiring ----------------------------------------------------------------------------------------------

    def _attach(self) -> None:
        self.state = state = self.workspace.state
        assert state is not None
        self.show_table(None)
        state.changed.connect(self._state_changed)
        if state.loaded:
            self._state_changed()

    def showEvent(self, event: QShowEvent) -> None:
        self._state_changed()  # runs finished since: new feature sources
        super().showEvent(event)

    def _state_changed(self) -> None:
        attribute = self.state.attribute if self.state else None
        if attribute is None or self.state is None:
            self.features.clear()
            self._enable()
            return
        for variant, check in self.variant_boxes.items():
            check.setEnabled(attribute.kind != Kind.MULTI or variant not in SINGLE_LABEL_ONLY)
        self._sources.run(_sources, self.state.catalog, attribute.name, on_return=self._sources_arrived)

    def _sources_arrived(self, sources: list[tuple[int, str]]) -> None:
        keep = self.features.currentData()
        self.features.clear()
        for run_id, text in sources:
            self.features.addItem(text, run_id)
        if keep is not None and self.features.findData(keep) >= 0:
            self.features.setCurrentIndex(self.features.findData(keep))
        self._enable()

    def variants(self) -> list[str]:
        return [v for v, check in self.variant_boxes.items() if check.isChecked() and check.isEnabled()]

    def set_variants(self, variants: list[str]) -> None:
        check_only(self.variant_boxes, variants)

    def _variants_changed(self) -> None:
        current = self.baseline.currentText()
        self.baseline.clear()
        self.baseline.addItems(self.variants())
        index = self.baseline.findText(current if current else "nw")
        self.baseline.setCurrentIndex(max(index, self.baseline.findText("nw"), 0))
        self._enable()

    def _enable(self) -> None:
        attribute = self.state.attribute if self.state else None
        ready = attribute is not None and self.features.count() > 0 and bool(self.variants())
        self.train_button.setEnabled(ready)
        if attribute is not None and self.features.count() == 0:
            self.caption.setText(NO_RUN_HINT)
        elif self.caption.text() == NO_RUN_HINT:  # a run arrived: the hint no longer applies
            self.caption.setText("Choose the variants and seeds, then Train matrix.")
        for button in (self.csv_button, self.markdown_button):
            button.setEnabled(self.table_data is not None)

    def plan(self) -> MatrixPlan:
        """What the Train matrix button trains."""
        from core.experiments.matrix import MatrixPlan

        attribute = self.state.attribute if self.state else None
        assert attribute is not None
        return MatrixPlan(
            attribute=attribute.name,
            features_of=self.features.currentData(),
            variants=tuple(self.variants()),
            seeds=tuple(self.seed.value() + k for k in range(self.seed_count.value())),
            epochs=self.epochs.value(),
            baseline=self.baseline.currentText() or self.variants()[0],
        )

    def train(self) -> None:
        """Train the matrix on a worker (progress with Cancel), then show the table."""
        if not self.train_button.isEnabled() or self.features.currentData() is None or not self.workspace.location:
            return
        plan = self.plan()
        self.runner.start(
            f"Training {plan.runs} heads of '{plan.attribute}' for the matrix",
            matrix_job,
            self.workspace.location,
            plan,
            on_result=self._trained,
        )

    def _trained(self, table: dict | None) -> None:
        if table is None:
            self.status.emit("Variant matrix cancelled; the runs that finished are in the Runs tab")
        else:
            self.show_table(table)
            self.status.emit(f"Variant matrix: {len(table['rows'])} runs compared")
        self.workspace.runsChanged.emit()

    # -- results ---------------------------------------------------------------------------------------------

    def show_table(self, table: dict | None) -> None:
        self.table_data = table
        if table is None:
            self.table.clear_table()
            self.caption.setText("")
            self._plot()
            self._enable()
            return
        self.table.show_table(table)
        matrix = table.get("matrix", {})
        seeds = ", ".join(str(s) for s in matrix.get("seeds", []))
        self.caption.setText(
            f"{len(table['rows'])} runs, seeds {seeds}; labels by training count (tail on the right); [a–b]: 95% "
            f"interval; second line: difference to {matrix.get('baseline_variant', '')} (run {table['baseline']}), "
            "▲ / ▼ where significant"
        )
        self.caption.setToolTip(plain.tooltip(self.table.caption()))
        best = max(range(len(table["rows"])), key=lambda r: table["rows"][r]["acsa"] or 0)
        self.table.selectRow(best)
        if (cell := self.table.item(best, 0)) is not None:
            self.table.scrollToItem(cell)
        self._plot()
        self._enable()

    def _ensure_plot(self) -> Any:  # a pyqtgraph PlotWidget
        if self.plot is None:
            from workbench.widgets.pyqtgraph_setup import pg

            plot = pg.PlotWidget()
            plot.showGrid(x=True, y=True, alpha=0.25)
            plot.addLine(y=0, pen=pg.mkPen((128, 128, 128), style=Qt.PenStyle.DashLine))
            plot.setLabel("bottom", "training images of the label (log scale)")
            plot.getAxis("bottom").setTicks([[(math.log10(n), f"{n:,}") for n in TICKS]])
            self.names: list = []
            self.points = pg.ScatterPlotItem(size=9)
            self.bars = pg.ErrorBarItem(beam=0.04)
            plot.addItem(self.bars)
            plot.addItem(self.points)
            self.results_split.addWidget(plot)
            self.results_split.setSizes([560, 300])
            self.plot = plot
        return self.plot

    def plotted(self) -> dict:
        """What the plot shows: the run, and per label its training count, difference and interval (points)."""
        table = self.table_data
        rows = self.table.selectionModel().selectedRows() if table else []
        if not table or not rows or rows[0].row() >= len(table["rows"]):
            return {}
        row = table["rows"][rows[0].row()]
        key = self.measure.currentData()
        deltas, intervals = row.get(f"{key}_delta") or [], row.get(f"{key}_delta_ci") or []
        points = []
        for j, count in enumerate(table["train_counts"]):
            delta = deltas[j] if j < len(deltas) else None
            if delta is None or count <= 0:
                continue
            ci = intervals[j] if j < len(intervals) and intervals[j] else [delta, delta]
            points.append((table["labels"][j], count, 100 * delta, 100 * ci[0], 100 * ci[1], too_few(table, j)))
        return {"run_id": row["run_id"], "variant": row.get("variant", row["loss"]), "points": points}

    def _plot(self) -> None:
        shown = self.plotted()
        if self.plot is None and not shown:
            return
        plot = self._ensure_plot()
        from workbench.widgets.pyqtgraph_setup import pg

        points = shown.get("points", [])
        x = [math.log10(p[1]) for p in points]
        y = [p[2] for p in points]
        colours = [pg.mkBrush(140, 140, 140) if p[5] else pg.mkBrush(40, 110, 200) for p in points]
        self.points.setData(x=x, y=y, brush=colours, data=[p[0] for p in points])
        self.bars.setData(
            x=_array(x),
            y=_array(y),
            top=_array([p[4] - p[2] for p in points]),
            bottom=_array([p[2] - p[3] for p in points]),
        )
        for item in self.names:
            plot.removeItem(item)
        self.names = []
        for p, px, py in zip(points, x, y):
            name = pg.TextItem(p[0], color=(110, 110, 110), anchor=(0.5, 1.4))  # plain text: catalog names as typed
            name.setPos(px, py)
            plot.addItem(name)
            self.names.append(name)
        name = self.measure.currentText()
        base = self.table_data["matrix"]["baseline_variant"] if self.table_data else ""
        title = (
            f"run {shown['run_id']} {shown['variant']} − {base}: {name} difference per label (points)" if shown else ""
        )
        plot.setTitle(html.escape(title))  # pyqtgraph titles are rich text
        plot.setLabel("left", f"Δ {name} (points), 95% interval")

    def export(self, kind: str, path: str | None = None) -> str | None:
        if self.table_data is None:
            return None
        written, message = export_table(self, self.table_data, kind, path, f"matrix.{kind}")
        if message:
            self.status.emit(message)
        return written


def _array(values: list[float]) -> Any:  # a NumPy array (NumPy loads with the first plot)
    import numpy as np

    return np.asarray(values, dtype=float)
