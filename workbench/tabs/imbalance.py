"""The imbalance view: the long-tailed label histogram, its head/medium/tail bands and the class weights.

Counts are read by a worker (:meth:`core.catalog.store.Catalog.label_counts`); the statistics are
:func:`core.analysis.imbalance.summarize`, the same function ``tailor stats`` prints, so the window and the CLI agree.
Clicking a bar asks the browser to show that label's images.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QSlider,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.analysis.imbalance import SCHEMES, GroupRule, summarize
from core.catalog.records import LabelCounts
from core.config import DEFAULT_BETA
from workbench.viewmodels.catalog_state import CatalogState
from workbench.viewmodels.requests import BrowseLabel
from workbench.viewmodels.tab import Tab
from workbench.viewmodels.workspace import Workspace
from workbench.widgets import plain
from workbench.widgets.category_axis import CategoryAxis
from workbench.widgets.legend import LegendRow
from workbench.widgets.pyqtgraph_setup import pg
from workbench.workers.tasks import Latest

if TYPE_CHECKING:
    from core.catalog.store import Catalog

TAB = Tab(title="Imbalance", menu="&Imbalance", shortcut="Ctrl+2", position=2, view="ImbalanceView")
GROUP_COLOURS = {"head": "#4C72B0", "medium": "#DD8452", "tail": "#C44E52"}
SCHEME_COLOURS = {"nw": "#8C8C8C", "ifw": "#C44E52", "isw": "#DD8452", "iew": "#4C72B0"}
SPLITS = (("All splits", None), ("train", "train"), ("val", "val"), ("test", "test"))


def beta_from_slider(value: int) -> float:
    """Slider 0..400 -> beta = 1 - 10**-(1 + value/100): 0.9 ... 0.99999, evenly in log(1 - beta)."""
    return float(1.0 - 10.0 ** (-(1.0 + value / 100.0)))


def slider_from_beta(beta: float) -> int:
    return int(round((-math.log10(1.0 - beta) - 1.0) * 100))


LOG_BASE = math.log10(0.5)  # where the log-scale bars start: half an image


def _counts_and_total(
    catalog: Catalog, attribute: str, split: str | None, auto: bool
) -> tuple[LabelCounts, int]:  # fmt: skip
    """Worker thread: images per label, and all images of the split (the status bar's count for all splits);
    ``auto``: of the training split when the catalog has one (what ``tailor stats`` shows by default)."""
    if auto:
        from core.cli.stats import shown_split

        split = shown_split(catalog, None)
    return catalog.label_counts(attribute, split), catalog.image_count(split)


class _Bars:
    """One BarGraphItem updated with setData (created once)."""

    def __init__(self, plot: pg.PlotItem, width: float = 0.8) -> None:
        self.item = pg.BarGraphItem(x=[], height=[], width=width, brushes=[])
        plot.addItem(self.item)

    def set(self, x: ArrayLike, heights: ArrayLike, brushes: Sequence[Any], width: float, base: float = 0.0) -> None:
        # one pen for all bars; pyqtgraph cannot take empty per-bar lists, so an empty plot gets one brush
        self.item.setOpts(
            x=np.asarray(x, dtype=float),
            y0=base,
            height=np.asarray(heights, dtype=float),
            width=width,
            brushes=list(brushes) or None,
            brush=None if brushes else pg.mkBrush("w"),
            pen=pg.mkPen(None),
            pens=None,
        )


class ImbalanceView(QWidget):
    labelClicked = Signal(int)  # label id: Browse shows its images

    def __init__(self, workspace: Workspace) -> None:
        super().__init__()
        self.workspace = workspace
        self.state: CatalogState | None = None
        self.counts: LabelCounts | None = None
        self.auto_split = True  # show the training split when the catalog has one, until a person chooses
        self.stats: dict | None = None
        self.total_images = 0  # in the catalog (the split shown), labeled or not
        self._latest = Latest(self)
        top = self._controls()
        self._count_plot()
        weights_header = self._weight_plot()
        self._build_table()
        plots = QWidget()
        plots_layout = QVBoxLayout(plots)
        plots_layout.setContentsMargins(0, 0, 0, 0)
        plots_layout.addWidget(self.count_plot, 1)
        plots_layout.addLayout(weights_header)
        plots_layout.addWidget(self.weight_plot, 1)  # its names axis takes a share
        self.splitter = splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(plots)
        splitter.addWidget(self.table)
        splitter.setStretchFactor(0, 1)
        splitter.setSizes([800, 420])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(top)
        layout.addWidget(self.summary)
        layout.addWidget(splitter, 1)

        self.split.currentIndexChanged.connect(self._split_chosen)
        self.rule.currentIndexChanged.connect(self._recompute)
        self.log.toggled.connect(self._draw)
        self.beta.valueChanged.connect(self._recompute)
        self._update_beta_label()
        self.labelClicked.connect(lambda label_id: workspace.request(BrowseLabel(label_id)))
        workspace.when_open(self._attach)

    def _controls(self) -> QHBoxLayout:
        self.split = QComboBox()
        for text, value in SPLITS:
            self.split.addItem(text, value)
        self.log = QCheckBox("Log scale")
        self.log.setChecked(True)
        self.rule = QComboBox()
        self.rule.addItem("Groups: thirds of log range", "log")
        self.rule.addItem("Groups: >100 / <20 images", "shots")
        self.summary = QLabel(textFormat=Qt.TextFormat.RichText)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.beta = QSlider(Qt.Orientation.Horizontal, minimum=0, maximum=400, value=slider_from_beta(DEFAULT_BETA))
        self.beta.setToolTip("beta of the effective number (1 - beta^n) / (1 - beta) used by iew")
        self.beta_label = QLabel()
        top = QHBoxLayout()
        for widget in (self.split, self.rule, self.log):
            top.addWidget(widget)
        top.addStretch(1)
        return top

    def _count_plot(self) -> None:
        self.count_axis = CategoryAxis()  # every bar named (the weights below repeat the names)
        self.count_plot = pg.PlotWidget(axisItems={"bottom": self.count_axis})
        self.count_plot.setMenuEnabled(False)
        self.count_plot.setLabel("left", "images")
        self.count_plot.showGrid(y=True, alpha=0.25)
        self.count_bars = _Bars(self.count_plot.getPlotItem())
        self.hover = pg.TextItem(anchor=(0, 1))
        self.count_plot.addItem(self.hover, ignoreBounds=True)
        self.count_plot.scene().sigMouseClicked.connect(self._clicked)
        self.count_plot.scene().sigMouseMoved.connect(self._moved)

    def _weight_plot(self) -> QHBoxLayout:
        self.name_axis = CategoryAxis()
        self.weight_plot = pg.PlotWidget(axisItems={"bottom": self.name_axis})
        self.weight_plot.setMenuEnabled(False)
        self.weight_plot.setLabel("left", "weight")
        self.weight_plot.showGrid(y=True, alpha=0.25)
        self.weight_plot.setXLink(self.count_plot)
        self.weight_bars = {scheme: _Bars(self.weight_plot.getPlotItem()) for scheme in SCHEMES}
        legend = LegendRow()
        legend.set_entries([(SCHEME_COLOURS[s], s, False, True) for s in SCHEMES])
        weights_header = QHBoxLayout()
        weights_header.addWidget(QLabel("Class weights per scheme:"))
        weights_header.addWidget(legend, 1)
        weights_header.addWidget(self.beta_label)
        weights_header.addWidget(self.beta, 1)
        return weights_header

    def _build_table(self) -> None:
        self.table = QTableWidget(0, 4 + len(SCHEMES))
        self.table.setHorizontalHeaderLabels(["label", "images", "group", "eff. n", *SCHEMES])
        for col, tip in enumerate(
            ["", "", "head / medium / tail", "effective number of images (1 - β^n) / (1 - β)"]
            + [f"class weight of {s} (mean 1)" for s in SCHEMES]
        ):
            if tip:
                header = self.table.horizontalHeaderItem(col)
                if header is not None:
                    header.setToolTip(tip)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.cellDoubleClicked.connect(self._table_clicked)

    # -- data ------------------------------------------------------------------------------------------

    def _split_chosen(self) -> None:
        self.auto_split = False  # a person chose: kept until another catalog opens
        self.reload()

    def _attach(self) -> None:
        """Follow the catalog's state; the window refreshes it after every edit, so edits reach the view too."""
        self.state = state = self.workspace.state
        assert state is not None
        self.auto_split = True
        state.changed.connect(self.reload)
        if state.loaded:
            self.reload()

    @property
    def beta_value(self) -> float:
        return beta_from_slider(self.beta.value())

    def reload(self) -> None:
        state = self.state
        if state is None or state.attribute is None:
            self.counts = None
            self._recompute()
            return
        name, split = state.attribute.name, self.split.currentData()
        self._latest.run(
            _counts_and_total,
            state.catalog,
            name,
            split,
            self.auto_split,
            on_return=self._arrived,
            on_error=lambda exc: self.summary.setText(f"<i>{plain.escape(exc)}</i>"),
        )

    def _arrived(self, result: tuple[LabelCounts, int]) -> None:
        self.counts, self.total_images = result
        shown = self.split.findData(self.counts.split)
        if shown >= 0 and shown != self.split.currentIndex():  # the training split chosen for the person
            self.split.blockSignals(True)
            self.split.setCurrentIndex(shown)
            self.split.blockSignals(False)
        self._recompute()

    def _update_beta_label(self) -> None:
        self.beta_label.setText(f"β = {self.beta_value:.5g}")

    def _recompute(self) -> None:
        self._update_beta_label()
        counts = self.counts
        if counts is None:
            self.stats = None
        else:
            rule = GroupRule.parse(self.rule.currentData())
            self.stats = summarize(
                counts.attribute,
                counts.kind,
                [c.name for c in counts.labels],
                [c.count for c in counts.labels],
                images=counts.images,
                split=counts.split,
                beta=self.beta_value,
                rule=rule,
            )
        self._draw()

    # -- drawing ---------------------------------------------------------------------------------------

    def bar_values(self) -> list[tuple[str, int]]:
        """(label, count) in drawing order: what the histogram shows (tests compare it with ``tailor stats``)."""
        return [(item["name"], item["count"]) for item in self.stats["labels"]] if self.stats else []

    def _draw(self) -> None:
        stats = self.stats
        labels = stats["labels"] if stats else []
        n = len(labels)
        x = np.arange(n)
        counts = np.array([item["count"] for item in labels], dtype=float)
        log = self.log.isChecked()
        # on the log scale the bars start at half an image, so a label with one image has a visible bar
        base = LOG_BASE if log else 0.0
        tops = np.log10(np.maximum(counts, 1.0)) if log else counts
        heights = np.where(counts > 0, tops - base, 0.0) if log else counts
        brushes = [pg.mkBrush(GROUP_COLOURS[item["group"]]) for item in labels]
        self.count_bars.set(x, heights, brushes, 0.8, base=base)
        self.name_axis.set_names([item["name"] for item in labels])
        self.count_axis.set_names([item["name"] for item in labels])
        left = self.count_plot.getAxis("left")
        if log and n:
            top = int(math.ceil(max(tops.max(), 1.0)))
            left.setTicks([[(k, f"{10**k:,}") for k in range(top + 1)], []])
        else:
            left.setTicks(None)
        width = 0.8 / len(SCHEMES)
        for i, scheme in enumerate(SCHEMES):
            values = [item["weights"][scheme] or 0.0 for item in labels]
            self.weight_bars[scheme].set(
                x - 0.4 + width * (i + 0.5), values, [pg.mkBrush(SCHEME_COLOURS[scheme])] * n, width
            )
        if n:
            self.count_plot.setXRange(-0.6, n - 0.4, padding=0)
            high = float(tops.max()) if n else 0.0
            self.count_plot.setYRange(base, high * 1.08 if high > 0 else 1, padding=0)
            self.weight_plot.enableAutoRange(axis="y")
        self.hover.setText("")
        self._summary()
        self._table()

    def _summary(self) -> None:
        stats = self.stats
        if stats is None:
            self.summary.setText("<i>No attribute to show.</i>")
            return
        ratio = stats["imbalance_ratio"]
        ratio_text = f"{ratio:,.1f} : 1" if ratio is not None else "–"
        groups = " ".join(
            f"<span style='color:{GROUP_COLOURS[g]}'>■</span> {g} {stats['groups'][g]}" for g in GROUP_COLOURS
        )
        empty = f" · <b>{len(stats['empty_labels'])}</b> empty" if stats["empty_labels"] else ""
        split = "all splits" if stats["split"] in (None, "all") else f"{stats['split']} split"
        unlabeled = max(self.total_images - stats["images"], 0)
        self.summary.setText(
            f"<b>{plain.escape(stats['attribute'])}</b> ({split}): {stats['images']:,} of {self.total_images:,} "
            f"images labeled ({unlabeled:,} unlabeled) · "
            f"{len(stats['labels'])} labels · imbalance ratio <b>{ratio_text}</b> · "
            f"{groups}{empty}"
        )

    def _table(self) -> None:
        labels = self.stats["labels"] if self.stats else []
        self.table.setSortingEnabled(False)
        self.table.setRowCount(len(labels))
        for row, item in enumerate(labels):
            values = [item["name"], item["count"], item["group"], item["effective_number"]] + [
                item["weights"][s] for s in SCHEMES
            ]
            for col, value in enumerate(values):
                cell = QTableWidgetItem()
                if isinstance(value, float):
                    cell.setData(Qt.ItemDataRole.DisplayRole, round(value, 1 if col == 3 else 2))
                elif value is None:
                    cell.setText("–")
                else:
                    cell.setData(Qt.ItemDataRole.DisplayRole, value)
                if col == 2:
                    cell.setForeground(pg.mkColor(GROUP_COLOURS[value]))
                self.table.setItem(row, col, cell)
        self.table.setSortingEnabled(True)
        self.table.sortItems(1, Qt.SortOrder.DescendingOrder)  # the long tail, as in the plot
        self._fit_table()

    def _fit_table(self) -> None:
        """Give the table the width of its columns (every weight visible), the plots the rest, up to half."""
        self.table.resizeColumnsToContents()
        needed = self.table.horizontalHeader().length() + self.table.verticalScrollBar().sizeHint().width() + 4
        total = sum(self.splitter.sizes())
        if total > 0:
            table = min(needed, total // 2)
            self.splitter.setSizes([total - table, table])

    # -- interaction -----------------------------------------------------------------------------------

    def _index_at(self, scene_pos: QPointF) -> int | None:
        if not self.stats or not self.count_plot.sceneBoundingRect().contains(scene_pos):
            return None
        point = self.count_plot.getPlotItem().vb.mapSceneToView(scene_pos)
        index = int(round(point.x()))
        return index if 0 <= index < len(self.stats["labels"]) and abs(point.x() - index) <= 0.45 else None

    def _label_id(self, name: str) -> int | None:
        return next((c.label_id for c in self.counts.labels if c.name == name), None) if self.counts else None

    def _clicked(self, event: Any) -> None:  # a pyqtgraph mouse click
        index = self._index_at(event.scenePos())
        if index is not None and self.stats is not None:
            label_id = self._label_id(self.stats["labels"][index]["name"])
            if label_id is not None:
                self.labelClicked.emit(label_id)

    def _table_clicked(self, row: int, _column: int) -> None:
        cell = self.table.item(row, 0)
        label_id = self._label_id(cell.text()) if cell is not None else None
        if label_id is not None:
            self.labelClicked.emit(label_id)

    def _moved(self, scene_pos: QPointF) -> None:
        index = self._index_at(scene_pos)
        if index is None or self.stats is None:
            self.hover.setText("")
            return
        item = self.stats["labels"][index]
        weights = ", ".join(f"{s} {item['weights'][s]:.2f}" for s in SCHEMES if item["weights"][s] is not None)
        self.hover.setText(
            f"{item['name']}: {item['count']:,} images ({item['share']:.1%}), {item['group']}\n"
            f"{weights}\nclick to browse"
        )
        point = self.count_plot.getPlotItem().vb.mapSceneToView(scene_pos)
        self.hover.setPos(point.x(), point.y())
