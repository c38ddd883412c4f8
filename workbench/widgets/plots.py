"""Live training plots (pyqtgraph): losses and metrics per epoch, PR curves, per-class bars of several runs.

Curves are created once and updated with ``setData``; epoch data arrive from the training queue (or a run's
history read from the catalog) and the redraw is throttled to 10 Hz. Painting must stay cheap while a training
thread competes for the GIL, so:

* every view range is set by hand (the x axis spans the planned epochs, the loss axis only grows to "nice"
  bounds, the others are fixed at 0..1): an axis whose range did not change keeps its cached tick picture, which
  is most of a plot's paint time;
* a redraw updates one plot per event-loop turn (a few ms apart), so Qt paints one plot at a time instead of four;
* per-class bars are rebuilt only when the runs or labels change, otherwise their heights are set in place, and
  titles and captions are only set when their text changes.

The plots hold plain data only:

* **Loss**: train and test loss per epoch of the focused run.
* **Metrics**: top-1, ACSA, GM and macro AP per epoch of the focused run.
* **PR curves**: the picked label's curve and the head / medium / tail curves (the group's label pairs pooled:
  the source paper's majority / minority / severe-minority figures), from the latest evaluated epoch.
* **Per class**: accuracy or AP per label sorted by training count (the long tail left to right), one bar colour
  per run, several runs side by side.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QComboBox, QGridLayout, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from workbench.widgets import plain
from workbench.widgets.category_axis import CategoryAxis, elide_middle
from workbench.widgets.legend import LegendRow
from workbench.widgets.pyqtgraph_setup import pg

RUN_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b")
METRICS = (
    ("top1", "top-1", "#1f77b4"),
    ("acsa", "ACSA", "#ff7f0e"),
    ("gm", "GM", "#2ca02c"),
    ("macro_ap", "macro AP", "#d62728"),
)
GROUP_COLOURS = {"head": "#1f77b4", "medium": "#ff7f0e", "tail": "#d62728"}
MAX_RUNS = 4


def legend_names(runs: list[RunSeries]) -> list[str]:
    """ "run 7: nw", "run 8: ldam": each run's name without the parts every shown run shares (backbone, epochs, the
    minute it was made), what tells them apart in the legend's little room; one run keeps its whole name."""
    parts = [run.name.split(" · ") for run in runs]
    shared = set.intersection(*(set(p) for p in parts)) if len(runs) > 1 else set()
    return [
        f"run {run.run_id}: {' · '.join([x for x in p if x not in shared] or p[:1])}" for run, p in zip(runs, parts)
    ]


@dataclass
class RunSeries:
    """What the plots know about one run."""

    run_id: int
    name: str
    labels: list[str]
    counts: list[int]  # training images per label
    epochs: list[dict] = field(default_factory=list)  # epoch, train_loss, test_loss, top1, acsa, gm, macro_ap
    last: dict | None = None  # the latest epoch's full metrics (per_label with pr_curve, groups)
    planned: int = 0  # epochs the run will train (the x axis spans them from the start)

    def add_epoch(self, epoch: int, train_loss: float, test_loss: float, metrics: dict) -> None:
        self.epochs = [e for e in self.epochs if e["epoch"] != epoch]
        self.epochs.append(
            {
                "epoch": epoch,
                "train_loss": train_loss,
                "test_loss": test_loss,
                **{k: metrics.get(k) for k, _, _ in METRICS},
            }
        )
        if metrics.get("curves", True) or self.last is None:  # a head's quick epochs come without PR curves:
            self.last = metrics  # the plots keep the latest that has them


def _plot(title: str, left: str, bottom: str, axis: pg.AxisItem | None = None) -> pg.PlotWidget:
    plot = pg.PlotWidget(axisItems={"bottom": axis} if axis is not None else None)
    plot.setTitle(title)
    plot.setLabel("left", left)
    plot.setLabel("bottom", bottom)
    plot.showGrid(x=True, y=True, alpha=0.2)
    plot.setMenuEnabled(False)
    plot.disableAutoRange()  # ranges are set by hand: see the module's docstring
    return plot


def _values(items: list[dict], key: str) -> list[float]:
    return [float("nan") if item.get(key) is None else float(item[key]) for item in items]


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 x 10^k that is >= value (an axis top that does not move on every epoch)."""
    if not math.isfinite(value) or value <= 0:
        return 1.0
    scale = 10 ** math.floor(math.log10(value))
    return float(next(step * scale for step in (1, 2, 2.5, 5, 10) if step * scale >= value * (1 - 1e-12)))


STEP_GAP_MS = 4  # between the plots of one redraw: each is painted in its own event-loop turn


class LivePlots(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.series: dict[int, RunSeries] = {}
        self.focus: int | None = None
        self._redraw = QTimer(self, interval=100, singleShot=True)  # at most 10 redraws a second
        self._redraw.timeout.connect(self._draw)
        self._step_timer = QTimer(self, interval=STEP_GAP_MS, singleShot=True)
        self._step_timer.timeout.connect(self._step)
        self._steps: list = []
        self._ranges: dict[int, tuple] = {}
        self._bar_layout: tuple | None = None

        self._plots()
        self._controls()
        self.flush()  # the empty plots get their ranges

    def _plots(self) -> None:
        """The four plots and their curves, created once; redraws only ``setData`` them."""
        self.loss = _plot("Loss", "loss", "epoch")
        self.loss_legend = LegendRow()
        self.loss_legend.set_entries([("#1f77b4", "train", False, False), ("#ff7f0e", "test", True, False)])
        self.train_curve = self.loss.plot(
            [], [], pen=pg.mkPen("#1f77b4", width=2), symbol="o", symbolSize=5, name="train"
        )
        self.test_curve = self.loss.plot(
            [], [], pen=pg.mkPen("#ff7f0e", width=2, style=Qt.PenStyle.DashLine), symbol="o", symbolSize=5, name="test"
        )
        self.metrics = _plot("Test metrics", "value", "epoch")
        self.metrics_legend = LegendRow()
        self.metrics_legend.set_entries([(colour, name, False, False) for _key, name, colour in METRICS])
        self.metric_curves = {
            key: self.metrics.plot([], [], pen=pg.mkPen(colour, width=2), symbol="o", symbolSize=5, name=name)
            for key, name, colour in METRICS
        }
        self._pr_title = "PR, latest epoch"
        self.pr = _plot(self._pr_title, "precision", "recall")
        self.pr.setRange(xRange=(0, 1), yRange=(0, 1.02), padding=0)
        self.pr_legend = LegendRow()
        self.label_curve = self.pr.plot([], [], pen=pg.mkPen("#444444", width=3), name="label")
        self.group_curves = {
            g: self.pr.plot([], [], pen=pg.mkPen(c, width=2, style=Qt.PenStyle.DashLine), name=f"{g} (pooled)")
            for g, c in GROUP_COLOURS.items()
        }
        self.bar_axis = CategoryAxis()
        self.bars = _plot("Per class, head → tail", "accuracy", "", axis=self.bar_axis)
        self.bars_legend = LegendRow()
        self._bar_items: list[pg.BarGraphItem] = []
        self._bar_runs: list[int] = []

    def _controls(self) -> None:
        self.label_picker = QComboBox(toolTip="The label whose PR curve is drawn")
        self.label_picker.currentIndexChanged.connect(lambda _i: self._schedule())
        self.bar_metric = QComboBox(toolTip="What the per-class bars show")
        self.bar_metric.addItem("accuracy", "accuracy")
        self.bar_metric.addItem("average precision", "ap")
        self.bar_metric.currentIndexChanged.connect(lambda _i: self._schedule())
        # one line ending in "…" when long: a new caption never changes the layout (which would resize, and so
        # repaint, all four plots) and is never cut in the middle of a word
        self.caption = plain.ElidedLabel("Train a run or pick runs in the Runs tab to see their curves.")

        controls = QHBoxLayout()
        controls.addWidget(self.caption, 1)
        controls.addWidget(QLabel("PR curve of"))
        controls.addWidget(self.label_picker)
        controls.addWidget(QLabel("Bars:"))
        controls.addWidget(self.bar_metric)
        grid = QGridLayout()
        grid.setSpacing(6)
        cells = (
            (self.loss_legend, self.loss),
            (self.metrics_legend, self.metrics),
            (self.pr_legend, self.pr),
            (self.bars_legend, self.bars),
        )
        for k, (legend, plot) in enumerate(cells):  # each legend above its plot: it never covers a curve
            cell = QVBoxLayout()
            cell.setSpacing(0)
            cell.addWidget(legend)
            cell.addWidget(plot, 1)
            grid.addLayout(cell, k // 2, k % 2)
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
        counts = run.counts if run else []
        for j in sorted(range(len(names)), key=lambda j: counts[j]):  # rarest first: the tail is what a user looks at
            self.label_picker.addItem(f"{names[j]} ({counts[j]})", j)
        index = next((i for i in range(self.label_picker.count()) if self.label_picker.itemText(i) == current), 0)
        self.label_picker.setCurrentIndex(index)
        self.label_picker.blockSignals(False)

    def _draw(self) -> None:
        """Start a staged redraw: one plot per event-loop turn (a newer redraw restarts the sequence)."""
        self._steps = [self._draw_losses, self._draw_metrics, self._draw_pr, self._draw_bars, self._draw_caption]
        self._step()

    def _step(self) -> None:
        if self._steps:
            self._steps.pop(0)()
        if self._steps:
            self._step_timer.start()

    def flush(self) -> None:
        """Draw everything now (tests, screenshots)."""
        self._redraw.stop()
        self._step_timer.stop()
        self._draw()
        while self._steps:
            self._step()

    def _set_range(
        self, plot: pg.PlotWidget, x: tuple[float, float], y: tuple[float, float], epochs: bool = False
    ) -> None:
        if self._ranges.get(id(plot)) != (x, y):  # an unchanged range keeps the axes' cached pictures
            self._ranges[id(plot)] = (x, y)
            low, high = y
            plot.setRange(xRange=x, yRange=(low - 0.03 * (high - low), high), padding=0)  # the 0 tick shows
            if epochs:  # whole epochs only
                span = x[1] - x[0]
                step = next((s for s in (1, 2, 5, 10, 20, 50, 100, 200, 500) if span / s <= 12), 1000)
                plot.getAxis("bottom").setTickSpacing(step, step)

    def _epoch_span(self, run: RunSeries | None) -> tuple[float, float]:
        n = max(run.planned if run else 0, len(run.epochs) if run else 0, 1)
        return (0.5, n + 0.5)

    def _draw_losses(self) -> None:
        run = self.focused()
        epochs = run.epochs if run else []
        x = [e["epoch"] + 1 for e in epochs]
        train, test = _values(epochs, "train_loss"), _values(epochs, "test_loss")
        self.train_curve.setData(x, train)
        self.test_curve.setData(x, test)
        top = max((v for v in train + test if math.isfinite(v)), default=1.0)
        self._set_range(self.loss, self._epoch_span(run), (0.0, nice_ceiling(top * 1.05)), epochs=True)

    def _draw_metrics(self) -> None:
        run = self.focused()
        epochs = run.epochs if run else []
        x = [e["epoch"] + 1 for e in epochs]
        for key, curve in self.metric_curves.items():
            curve.setData(x, _values(epochs, key))
        self._set_range(self.metrics, self._epoch_span(run), (0.0, 1.02), epochs=True)

    def _draw_pr(self) -> None:
        run = self.focused()
        last = run.last if run else None
        j = self.label_picker.currentData()
        curve = None
        if last is not None and j is not None and j < len(last["per_label"]):
            curve = last["per_label"][j].get("pr_curve")
        self.label_curve.setData(curve["recall"] if curve else [], curve["precision"] if curve else [])
        title = (
            f"PR of {plain.escape(elide_middle(run.labels[j], 24))}"
            if run is not None and j is not None
            else self._pr_title
        )
        if title != self.pr.plotItem.titleLabel.text:
            self.pr.setTitle(title)
        ap = (
            last["per_label"][j].get("ap")
            if last is not None and j is not None and j < len(last["per_label"])
            else None
        )
        name = run.labels[j] if run is not None and j is not None and j < len(run.labels) else "label"
        entries = [("#444444", name if ap is None else f"{name}: AP {ap:.3f}", False, False)]
        entries += [(GROUP_COLOURS[g], f"{g} (pooled)", True, False) for g in self.group_curves]
        self.pr_legend.set_entries(entries)
        groups = (last or {}).get("groups") or {}
        for group, item in self.group_curves.items():
            pooled = (groups.get(group) or {}).get("pr_curve")
            item.setData(pooled["recall"] if pooled else [], pooled["precision"] if pooled else [])

    def _draw_caption(self) -> None:
        run = self.focused()
        if run is None:
            return
        done = len(run.epochs)
        text = f"Run {run.run_id} ({run.name}): {done} epoch{'s' if done != 1 else ''} evaluated" + (
            f"; bars: {', '.join(str(r) for r in self.series)}" if len(self.series) > 1 else ""
        )
        if text != self.caption.text():
            self.caption.setText(text)

    def _draw_bars(self) -> None:
        key = self.bar_metric.currentData()
        reference = self.focused()
        runs = [
            r
            for r in self.series.values()
            if r.last is not None and r.labels == (reference.labels if reference else r.labels)
        ]
        order = sorted(range(len(runs[0].labels)), key=lambda j: -runs[0].counts[j]) if runs else []  # head left
        heights = [[(run.last or {})["per_label"][j].get(key) or 0.0 for j in order] for run in runs]
        layout = (key, tuple(r.run_id for r in runs), tuple(runs[0].labels) if runs else ())
        if layout == self._bar_layout:  # the same runs and labels: new heights only
            for item, values in zip(self._bar_items, heights):
                item.setOpts(height=values)
            return
        self._bar_layout = layout
        for item in self._bar_items:
            self.bars.removeItem(item)
        self._bar_items.clear()
        self._bar_runs.clear()
        self.bars.setLabel("left", "accuracy" if key == "accuracy" else "AP")
        self.bars_legend.set_entries(
            [(RUN_COLOURS[k % len(RUN_COLOURS)], name, False, True) for k, name in enumerate(legend_names(runs))]
        )
        if not runs:
            self.bar_axis.set_names([])
            return
        width = 0.8 / len(runs)
        for k, (run, values) in enumerate(zip(runs, heights)):
            xs = [i - 0.4 + width * (k + 0.5) for i in range(len(order))]
            colour = QColor(RUN_COLOURS[k % len(RUN_COLOURS)])
            item = pg.BarGraphItem(
                x=xs,
                height=values,
                width=width * 0.95,
                brush=colour,
                pen=pg.mkPen(None),
            )
            self.bars.addItem(item)
            self._bar_items.append(item)
            self._bar_runs.append(run.run_id)
        self.bar_axis.set_names([runs[0].labels[j] for j in order], [f" ({runs[0].counts[j]})" for j in order])
        self._set_range(self.bars, (-0.6, len(order) - 0.4), (0.0, 1.02))

    def bar_heights(self) -> dict[int, list[float]]:
        """Per shown run: the bar heights left to right (tests)."""
        return {run_id: list(item.opts["height"]) for run_id, item in zip(self._bar_runs, self._bar_items)}
