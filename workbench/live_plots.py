"""Live training plots (pyqtgraph): losses and metrics per epoch, PR curves, per-class bars of several runs.

Curves are created once and updated with ``setData``; epoch data arrive from the training queue (or a run's
history read from the catalog) and the redraw is throttled to 10 Hz. The plots hold plain data only:

* **Loss**: train and test loss per epoch of the focused run.
* **Metrics**: top-1, ACSA, GM and macro AP per epoch of the focused run.
* **PR curves**: the picked label's curve and the head / medium / tail curves (the group's label pairs pooled:
  the source paper's majority / minority / severe-minority figures), from the latest evaluated epoch.
* **Per class**: accuracy or AP per label sorted by training count (the long tail left to right), one bar colour
  per run, several runs side by side.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QComboBox, QGridLayout, QHBoxLayout, QLabel, QVBoxLayout, QWidget

RUN_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b")
METRICS = (("top1", "top-1", "#1f77b4"), ("acsa", "ACSA", "#ff7f0e"), ("gm", "GM", "#2ca02c"),
           ("macro_ap", "macro AP", "#d62728"))
GROUP_COLOURS = {"head": "#1f77b4", "medium": "#ff7f0e", "tail": "#d62728"}
MAX_RUNS = 4


@dataclass
class RunSeries:
    """What the plots know about one run."""

    run_id: int
    name: str
    labels: list[str]
    counts: list[int]  # training images per label
    epochs: list[dict] = field(default_factory=list)  # epoch, train_loss, test_loss, top1, acsa, gm, macro_ap
    last: dict | None = None  # the latest epoch's full metrics (per_label with pr_curve, groups)

    def add_epoch(self, epoch: int, train_loss: float, test_loss: float, metrics: dict) -> None:
        self.epochs = [e for e in self.epochs if e["epoch"] != epoch]
        self.epochs.append({"epoch": epoch, "train_loss": train_loss, "test_loss": test_loss,
                            **{k: metrics.get(k) for k, _, _ in METRICS}})
        self.last = metrics


def _plot(title: str, left: str, bottom: str) -> pg.PlotWidget:
    plot = pg.PlotWidget()
    plot.setTitle(title)
    plot.setLabel("left", left)
    plot.setLabel("bottom", bottom)
    plot.showGrid(x=True, y=True, alpha=0.2)
    plot.setMenuEnabled(False)
    return plot


def _values(items, key):
    return [float("nan") if item.get(key) is None else float(item[key]) for item in items]


class LivePlots(QWidget):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.series: dict[int, RunSeries] = {}
        self.focus: int | None = None
        self._redraw = QTimer(self, interval=100, singleShot=True)  # at most 10 redraws a second
        self._redraw.timeout.connect(self._draw)

        self.loss = _plot("Loss", "loss", "epoch")
        self.loss.addLegend(offset=(-10, 10))
        self.train_curve = self.loss.plot([], [], pen=pg.mkPen("#1f77b4", width=2), symbol="o", symbolSize=5,
                                          name="train")
        self.test_curve = self.loss.plot([], [], pen=pg.mkPen("#ff7f0e", width=2, style=Qt.PenStyle.DashLine),
                                         symbol="o", symbolSize=5, name="test")
        self.metrics = _plot("Test metrics", "value", "epoch")
        self.metrics.setYRange(0, 1)
        self.metrics.addLegend(offset=(-10, -10))
        self.metric_curves = {key: self.metrics.plot([], [], pen=pg.mkPen(colour, width=2), symbol="o",
                                                     symbolSize=5, name=name) for key, name, colour in METRICS}
        self.pr = _plot("Precision-recall (latest epoch)", "precision", "recall")
        self.pr.setXRange(0, 1)
        self.pr.setYRange(0, 1.02)
        self.pr.addLegend(offset=(-10, -10))
        self.label_curve = self.pr.plot([], [], pen=pg.mkPen("#444444", width=3), name="label")
        self.group_curves = {g: self.pr.plot([], [], pen=pg.mkPen(c, width=2, style=Qt.PenStyle.DashLine),
                                             name=f"{g} (pooled)") for g, c in GROUP_COLOURS.items()}
        self.bars = _plot("Per class (sorted by training images)", "accuracy", "")
        self.bars.setYRange(0, 1)
        self.bars.addLegend(offset=(-10, 10))
        self._bar_items: list[pg.BarGraphItem] = []
        self._bar_runs: list[int] = []

        self.label_picker = QComboBox(toolTip="The label whose PR curve is drawn")
        self.label_picker.currentIndexChanged.connect(lambda _i: self._schedule())
        self.bar_metric = QComboBox(toolTip="What the per-class bars show")
        self.bar_metric.addItem("accuracy", "accuracy")
        self.bar_metric.addItem("average precision", "ap")
        self.bar_metric.currentIndexChanged.connect(lambda _i: self._schedule())
        self.caption = QLabel("Train a run or pick runs in the Runs tab to see their curves.")
        self.caption.setWordWrap(True)

        controls = QHBoxLayout()
        controls.addWidget(self.caption, 1)
        controls.addWidget(QLabel("PR curve of"))
        controls.addWidget(self.label_picker)
        controls.addWidget(QLabel("Bars:"))
        controls.addWidget(self.bar_metric)
        grid = QGridLayout()
        grid.addWidget(self.loss, 0, 0)
        grid.addWidget(self.metrics, 0, 1)
        grid.addWidget(self.pr, 1, 0)
        grid.addWidget(self.bars, 1, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(controls)
        layout.addLayout(grid, 1)

    # -- data in ----------------------------------------------------------------------------------------------

    def show_runs(self, runs: list[RunSeries], focus: int | None = None) -> None:
        """Replace what is shown (the Runs tab's selection); the focused run's curves are drawn."""
        self.series = {run.run_id: run for run in runs[-MAX_RUNS:]}
        self.focus = focus if focus in self.series else (runs[-1].run_id if runs else None)
        self._labels_changed()
        self._schedule()

    def start_run(self, run: RunSeries) -> None:
        """A run started training: it joins the shown runs (the oldest leaves past four) and takes the focus."""
        self.series[run.run_id] = run
        while len(self.series) > MAX_RUNS:
            self.series.pop(next(iter(self.series)))
        self.focus = run.run_id
        self._labels_changed()
        self._schedule()

    def add_epoch(self, run_id: int, epoch: int, train_loss: float, test_loss: float, metrics: dict) -> None:
        run = self.series.get(run_id)
        if run is not None:
            run.add_epoch(epoch, train_loss, test_loss, metrics)
            self._schedule()

    def focused(self) -> RunSeries | None:
        return self.series.get(self.focus) if self.focus is not None else None

    # -- drawing ----------------------------------------------------------------------------------------------

    def _schedule(self) -> None:
        if not self._redraw.isActive():
            self._redraw.start()

    def _labels_changed(self) -> None:
        run = self.focused()
        names = run.labels if run else []
        current = self.label_picker.currentText()
        self.label_picker.blockSignals(True)
        self.label_picker.clear()
        order = sorted(range(len(names)), key=lambda j: run.counts[j]) if run else []
        for j in order:  # rarest first: the tail is what a user looks at
            self.label_picker.addItem(f"{names[j]} ({run.counts[j]})", j)
        index = next((i for i in range(self.label_picker.count())
                      if self.label_picker.itemText(i) == current), 0)
        self.label_picker.setCurrentIndex(index)
        self.label_picker.blockSignals(False)

    def _draw(self) -> None:
        run = self.focused()
        epochs = run.epochs if run else []
        x = [e["epoch"] + 1 for e in epochs]
        self.train_curve.setData(x, _values(epochs, "train_loss"))
        self.test_curve.setData(x, _values(epochs, "test_loss"))
        for key, curve in self.metric_curves.items():
            curve.setData(x, _values(epochs, key))
        last = run.last if run else None
        j = self.label_picker.currentData()
        curve = None
        if last is not None and j is not None and j < len(last["per_label"]):
            curve = last["per_label"][j].get("pr_curve")
        self.label_curve.setData(curve["recall"] if curve else [], curve["precision"] if curve else [])
        if run is not None and j is not None:
            ap = last["per_label"][j].get("ap") if last else None
            self.pr.setTitle(f"Precision-recall of {run.labels[j]}" + (f": AP {ap:.3f}" if ap is not None else ""))
        groups = (last or {}).get("groups") or {}
        for group, item in self.group_curves.items():
            pooled = (groups.get(group) or {}).get("pr_curve")
            item.setData(pooled["recall"] if pooled else [], pooled["precision"] if pooled else [])
        self._draw_bars()
        if run is not None:
            done = len(epochs)
            self.caption.setText(f"Run {run.run_id} ({run.name}): {done} epoch{'s' if done != 1 else ''} evaluated"
                                 + (f"; bars: {', '.join(str(r) for r in self.series)}" if len(self.series) > 1
                                    else ""))

    def _draw_bars(self) -> None:
        for item in self._bar_items:
            self.bars.removeItem(item)
        self._bar_items.clear()
        self._bar_runs.clear()
        legend = self.bars.plotItem.legend
        if legend is not None:
            legend.clear()
        key = self.bar_metric.currentData()
        self.bars.setLabel("left", "accuracy" if key == "accuracy" else "AP")
        reference = self.focused()
        runs = [r for r in self.series.values() if r.last is not None and r.labels == (reference.labels
                                                                                          if reference else r.labels)]
        if not runs:
            self.bars.getAxis("bottom").setTicks([[]])
            return
        order = sorted(range(len(runs[0].labels)), key=lambda j: -runs[0].counts[j])  # head left, tail right
        width = 0.8 / len(runs)
        for k, run in enumerate(runs):
            heights = [run.last["per_label"][j].get(key) or 0.0 for j in order]
            xs = [i - 0.4 + width * (k + 0.5) for i in range(len(order))]
            colour = QColor(RUN_COLOURS[k % len(RUN_COLOURS)])
            item = pg.BarGraphItem(x=xs, height=heights, width=width * 0.95, brush=colour, pen=pg.mkPen(None),
                                   name=f"run {run.run_id} ({run.name})")
            self.bars.addItem(item)
            self._bar_items.append(item)
            self._bar_runs.append(run.run_id)
        ticks = [(i, f"{runs[0].labels[j]}\n{runs[0].counts[j]}") for i, j in enumerate(order)]
        self.bars.getAxis("bottom").setTicks([ticks])
        self.bars.setXRange(-0.6, len(order) - 0.4, padding=0)

    def bar_heights(self) -> dict[int, list[float]]:
        """Per shown run: the bar heights left to right (tests)."""
        return {run_id: list(item.opts["height"]) for run_id, item in zip(self._bar_runs, self._bar_items)}
