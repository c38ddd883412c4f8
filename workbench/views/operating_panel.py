"""The Runs tab's operating points: for the selected finished runs, per label the threshold reaching a target
precision with 95% bootstrap intervals of the precision and recall it gives, and the threshold saved with the run;
for the selected row, the label's PR curve with its bootstrap band, where a click picks the threshold of the nearest
curve point and saves it with the run. Saved thresholds are exported beside the model (Export model…) and used by
Accept predictions. Everything is computed on worker threads.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDoubleSpinBox,
    QHBoxLayout,
    QHeaderView,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.analysis.compare import MIN_TEST_IMAGES
from core.analysis.compare_exports import percent_number
from core.base import csv_cells
from core.base.percent import percent_text
from workbench.widgets import file_dialogs, plain
from workbench.workers.tasks import Latest
from workbench.workers.torch_loading import import_analysis, import_training

if TYPE_CHECKING:
    from core.analysis.operating_points import OperatingPoint
    from core.catalog.store import Catalog

COLUMNS = ("run", "label", "test positives", "AP", "threshold", "precision [95%]", "recall [95%]", "saved")
TOO_FEW = QColor("#8a8a8a")


def _points(catalog: Catalog, run_ids: list[int], target: float) -> list[tuple[int, list]]:
    """Worker thread: each run's operating points (core.analysis.operating_points)."""
    import_analysis()
    from core.analysis.operating_points import operating_points

    return [(run_id, operating_points(catalog, run_id, target)) for run_id in run_ids]


def _save(catalog: Catalog, run_id: int, thresholds: dict[int, float | None], chosen: str) -> None:
    from core.catalog.run_thresholds import save_thresholds

    save_thresholds(catalog, run_id, thresholds, chosen)


def _export(location: str, run_id: int, fmt: str, out: str, target: float) -> str:
    """Worker thread: the run's model and its thresholds beside it (as ``tailor export-model``); its own catalog."""
    import_training()
    from core.catalog.store import Catalog
    from core.training.model_card import export_package

    with Catalog(location) as catalog:
        written = export_package(catalog, run_id, fmt, out, target)
    model, card = written["model"], written["card_markdown"].name
    return f"Run {run_id}'s model written to {model} (its preprocessing and labels inside), its model card to {card}"


def points_csv(rows: list[tuple[int, list]], target: float) -> str:
    """The table as CSV: percentages with one decimal, thresholds to 4 places, the intervals beside."""
    out = io.StringIO()
    writer = csv_cells.writer(out)
    writer.writerow(["run_id", "label", "test_positives", "too_few_to_compare", "ap_pct", "threshold",
                     "precision_pct", "precision_low_pct", "precision_high_pct", "recall_pct", "recall_low_pct",
                     "recall_high_pct", "target_precision_pct", "saved_threshold", "saved_chosen",
                     "saved_recall_pct"])  # fmt: skip
    for run_id, points in rows:
        for p in points:
            m, s = p.at_target, p.saved
            pc = (m.precision_ci if m and m.precision_ci else None) or [None, None]
            rc = (m.recall_ci if m and m.recall_ci else None) or [None, None]
            number = percent_number
            writer.writerow(
                [run_id, p.label, p.positives, "yes" if p.positives < MIN_TEST_IMAGES else "", number(p.ap),
                 "" if m is None else round(m.threshold, 4), number(m.precision if m else None), number(pc[0]),
                 number(pc[1]), number(m.recall if m else None), number(rc[0]), number(rc[1]), number(target),
                 "" if s is None else round(s.threshold, 4), p.chosen or "", number(s.recall if s else None)]
            )  # fmt: skip
    return out.getvalue()


class OperatingPanel(QWidget):
    status = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.catalog: Catalog | None = None
        self.run_ids: list[int] = []
        self.rows: list[tuple[int, list[OperatingPoint]]] = []
        self.flat: list[tuple[int, OperatingPoint]] = []  # per table row
        self.shown_target = 0.6
        self._latest, self._writes, self._exports = Latest(self), Latest(self), Latest(self)
        self.target = QDoubleSpinBox(minimum=0.05, maximum=1.0, singleStep=0.05, value=0.6, decimals=2)
        self.target.setToolTip("Per-label thresholds reaching this precision on the test set")
        self.target.valueChanged.connect(lambda _v: self.refresh())
        self.caption = plain.label(wordWrap=True)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.itemSelectionChanged.connect(self._plot)
        self.save_button = QPushButton("Save at target", toolTip="Save every label's threshold at the target "
                                       "precision with the selected row's run")  # fmt: skip
        self.clear_button = QPushButton("Forget saved", toolTip="Forget the selected label's saved threshold")
        self.csv_button = QPushButton("Export CSV…")
        self.model_button = QPushButton("Export model…", toolTip="The selected row's run as ONNX or TorchScript, "
                                        "with its thresholds in a JSON beside it")  # fmt: skip
        self.save_button.clicked.connect(self.save_at_target)
        self.clear_button.clicked.connect(self.forget)
        self.csv_button.clicked.connect(lambda: self.export_csv())
        self.model_button.clicked.connect(lambda: self.export_model())
        self.plot: Any = None  # a pyqtgraph PlotWidget, made with the first curve (pyqtgraph loads then)
        self._layout()
        self._enable()

    def _layout(self) -> None:
        header = QHBoxLayout()
        header.addWidget(self.caption, 1)
        header.addWidget(plain.label("Target precision"))
        header.addWidget(self.target)
        for button in (self.save_button, self.clear_button, self.csv_button, self.model_button):
            header.addWidget(button)
        self.split = QSplitter()
        self.split.addWidget(self.table)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(header)
        layout.addWidget(self.split, 1)

    def _enable(self) -> None:
        selected = self.selected()
        self.save_button.setEnabled(selected is not None)
        self.clear_button.setEnabled(selected is not None and selected[1].saved is not None)
        self.csv_button.setEnabled(bool(self.rows))
        self.model_button.setEnabled(selected is not None)

    # -- data ------------------------------------------------------------------------------------------------

    def show_runs(self, catalog: Catalog | None, run_ids: list[int]) -> None:
        self.catalog, self.run_ids = catalog, run_ids
        self.refresh()

    def refresh(self) -> None:
        if not self.run_ids or self.catalog is None:
            self.rows, self.flat = [], []
            self.table.setRowCount(0)
            self.caption.setText("Select finished runs for their per-label operating points.")
            self._plot()
            self._enable()
            return
        target = self.target.value()
        self.caption.setText(f"Computing operating points at {100 * target:.0f}% precision…")
        self._latest.run(
            _points,
            self.catalog,
            list(self.run_ids),
            target,
            on_return=lambda rows: self._arrived(target, rows),
            on_error=lambda exc: self.caption.setText(str(exc)),
        )

    def _arrived(self, target: float, rows: list[tuple[int, list[OperatingPoint]]]) -> None:
        keep = self.selected()
        self.rows, self.shown_target = rows, target
        self.flat = [(run_id, p) for run_id, points in rows for p in points]
        self.table.blockSignals(True)
        self.table.setRowCount(len(self.flat))
        for r, (run_id, p) in enumerate(self.flat):
            self._fill(r, run_id, p)
        self.table.blockSignals(False)
        if keep is not None:
            for r, (run_id, p) in enumerate(self.flat):
                if (run_id, p.label_id) == (keep[0], keep[1].label_id):
                    self.table.selectRow(r)
        self.caption.setText(
            f"Score thresholds reaching {100 * target:.0f}% precision on the test set, with 95% bootstrap intervals "
            "of the precision and recall they give; click a label's curve to pick and save its threshold"
        )
        self._plot()
        self._enable()

    def _fill(self, r: int, run_id: int, p: OperatingPoint) -> None:
        few = p.positives < MIN_TEST_IMAGES
        m, s = p.at_target, p.saved
        saved = "–" if s is None else f"{s.threshold:.3f} ({p.chosen}): recall {percent_text(s.recall, s.recall_ci)}"
        cells = [
            str(run_id),
            p.label,
            f"{p.positives} (too few to compare)" if few else str(p.positives),
            percent_text(p.ap),
            "not reached" if m is None else f"{m.threshold:.3f}",
            "–" if m is None else percent_text(m.precision, m.precision_ci),
            "–" if m is None else percent_text(m.recall, m.recall_ci),
            saved,
        ]
        for c, text in enumerate(cells):
            item = QTableWidgetItem(text)
            item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
            if few:
                item.setForeground(QBrush(TOO_FEW))
                item.setToolTip(plain.tooltip(f"only {p.positives} test images: the intervals are wide"))
            self.table.setItem(r, c, item)

    def selected(self) -> tuple[int, OperatingPoint] | None:
        rows = self.table.selectionModel().selectedRows()
        if not rows or rows[0].row() >= len(self.flat):
            return None
        return self.flat[rows[0].row()]

    # -- the curve -------------------------------------------------------------------------------------------

    def _ensure_plot(self) -> Any:
        if self.plot is None:
            from workbench.widgets.pyqtgraph_setup import pg

            self.plot = pg.PlotWidget()
            self.plot.setXRange(0, 1)
            self.plot.setYRange(0, 1.02)
            self.plot.setLabel("bottom", "recall")
            self.plot.setLabel("left", "precision")
            self.plot.showGrid(x=True, y=True, alpha=0.25)
            edge = pg.mkPen(40, 110, 200, 90)  # drawn (a curve without a pen has no path to fill between)
            self.band_low = pg.PlotDataItem(pen=edge)
            self.band_high = pg.PlotDataItem(pen=edge)
            self.band = pg.FillBetweenItem(self.band_low, self.band_high, brush=pg.mkBrush(40, 110, 200, 60))
            self.curve = pg.PlotDataItem(pen=pg.mkPen((40, 110, 200), width=2))
            self.target_mark = pg.ScatterPlotItem(size=11, brush=pg.mkBrush(230, 140, 20), symbol="o")
            self.saved_mark = pg.ScatterPlotItem(size=13, brush=pg.mkBrush(30, 160, 60), symbol="star")
            for item in (self.band_low, self.band_high, self.band, self.curve, self.target_mark, self.saved_mark):
                self.plot.addItem(item)
            self.plot.scene().sigMouseClicked.connect(self._clicked)
            self.split.addWidget(self.plot)
            self.split.setSizes([560, 440])
        return self.plot

    def _plot(self) -> None:
        selected = self.selected()
        if selected is None and self.plot is None:
            self._enable()
            return
        plot = self._ensure_plot()
        import html

        if selected is None:
            for item in (self.band_low, self.band_high, self.curve):
                item.setData([], [])
            self.target_mark.setData([], [])
            self.saved_mark.setData([], [])
            plot.setTitle("")
            self._enable()
            return
        run_id, p = selected
        band = [(r, lo, hi) for r, lo, hi in zip(p.band["recall"], p.band["low"], p.band["high"]) if lo is not None]
        self.band_low.setData([b[0] for b in band], [b[1] for b in band])
        self.band_high.setData([b[0] for b in band], [b[2] for b in band])
        self.curve.setData(p.curve["recall"], p.curve["precision"])
        m, s = p.at_target, p.saved
        self.target_mark.setData([m.recall] if m else [], [m.precision or 0] if m else [])
        self.saved_mark.setData([s.recall] if s else [], [s.precision or 0] if s else [])
        plot.setTitle(html.escape(f"run {run_id} · {p.label}: PR, 95% band"))
        self._enable()

    def _clicked(self, event: Any) -> None:  # a pyqtgraph mouse click
        selected = self.selected()
        if selected is None or self.plot is None:
            return
        point = self.plot.getPlotItem().vb.mapSceneToView(event.scenePos())
        self.pick(float(point.x()))

    def pick(self, recall: float) -> float | None:
        """Save the selected label's threshold at the curve point nearest ``recall`` (a click on the curve)."""
        from core.analysis.operating_points import threshold_at

        selected = self.selected()
        if selected is None or self.catalog is None:
            return None
        run_id, p = selected
        threshold = threshold_at(p, min(max(recall, 0.0), 1.0))
        if threshold is None:
            return None
        self._write(run_id, {p.label_id: threshold}, "picked on the curve",
                    f"Run {run_id}: {p.label}'s threshold set to {threshold:.4f}")  # fmt: skip
        return threshold

    def save_at_target(self) -> None:
        selected = self.selected()
        if selected is None:
            return
        run_id = selected[0]
        points = dict(self.rows).get(run_id, [])
        chosen = {p.label_id: p.at_target.threshold for p in points if p.at_target is not None}
        target = self.shown_target
        self._write(run_id, chosen, f"at {target:.0%} precision",
                    f"Run {run_id}: {len(chosen)} thresholds at {target:.0%} precision saved")  # fmt: skip

    def forget(self) -> None:
        selected = self.selected()
        if selected is not None:
            run_id, p = selected
            self._write(run_id, {p.label_id: None}, "", f"Run {run_id}: {p.label}'s saved threshold forgotten")

    def _write(self, run_id: int, thresholds: dict, chosen: str, done: str) -> None:
        if self.catalog is None:
            return

        def written(_result: object) -> None:
            self.status.emit(done)
            self.refresh()

        self._writes.run(_save, self.catalog, run_id, thresholds, chosen, on_return=written,
                         on_error=lambda exc: self.status.emit(f"Cannot save the threshold: {exc}"))  # fmt: skip

    # -- exports ---------------------------------------------------------------------------------------------

    def export_csv(self, path: str | None = None) -> str | None:
        if not self.rows:
            return None
        if path is None:
            path = file_dialogs.save_file(self, "Export operating points", "thresholds.csv", "CSV (*.csv)")
            if not path:
                return None
        try:
            Path(path).write_text(points_csv(self.rows, self.shown_target), encoding="utf-8")
        except OSError as exc:
            self.status.emit(f"Cannot write {path}: {exc.strerror}")
            return None
        self.status.emit(f"Operating points written to {path}")
        return path

    def export_model(self, path: str | None = None, on_done=None) -> None:  # type: ignore[no-untyped-def]
        """The selected row's run as ONNX (``.onnx``) or TorchScript, its thresholds JSON beside (worker thread).
        The file dialog asks before replacing a file; the thresholds file beside it is refused if it exists."""
        from core.analysis.operating_points import thresholds_path

        selected = self.selected()
        if selected is None or self.catalog is None:
            return
        run_id = selected[0]
        if path is None:
            path = file_dialogs.save_file(self, f"Export run {run_id}'s model", f"run{run_id}.onnx",
                                          "ONNX (*.onnx);;TorchScript (*.pt)")  # fmt: skip
            if not path:
                return
        if thresholds_path(path).exists():
            self.status.emit(f"{thresholds_path(path)} exists; choose another name (it is never written over)")
            return
        fmt = "onnx" if path.endswith(".onnx") else "torchscript"

        def finished(text: str) -> None:
            self.status.emit(text)
            if on_done is not None:
                on_done(text)

        self.status.emit(f"Exporting run {run_id}'s model…")
        self._exports.run(_export, self.catalog.location, run_id, fmt, path, self.shown_target, on_return=finished,
                          on_error=lambda exc: self.status.emit(f"Cannot export run {run_id}: {exc}"))  # fmt: skip
