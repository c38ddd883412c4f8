"""The Runs tab's post-hoc adjustment: a slider of the logit-adjustment strength tau on one selected finished run;
top-1, ACSA, GM and the per-class accuracies (as trained beside adjusted) follow it live, computed in a worker from
the run's stored test scores (core.analysis.posthoc); **Keep as run** records it (``tailor adjust RUN --tau T``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QHBoxLayout, QPushButton, QSlider, QVBoxLayout, QWidget

from core.base.percent import percent
from core.catalog.store import Catalog
from workbench.widgets import plain
from workbench.workers.tasks import Latest
from workbench.workers.torch_loading import import_analysis

if TYPE_CHECKING:
    from core.analysis.posthoc import SliderData

STEPS_PER_UNIT = 20  # tau in steps of 0.05
MAX_TAU = 3.0


def _load(catalog: Catalog, run_id: int) -> tuple[SliderData, dict]:
    import_analysis()
    from core.analysis.posthoc import slider_data

    data = slider_data(catalog, run_id)
    return data, data.at(0.0)


def _evaluate(data: SliderData, tau: float) -> tuple[float, dict]:
    return tau, data.at(tau)


class AdjustPanel(QWidget):
    keep = Signal(int, float)  # run id, tau: record the adjusted run

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.catalog: Catalog | None = None
        self.wanted: int | None = None
        self.data: SliderData | None = None
        self.trained: dict | None = None
        self.current: dict | None = None
        self._load_latest, self._eval_latest = Latest(self), Latest(self)
        self.caption = plain.label("Select one finished run to adjust its scores after training.")
        self.caption.setWordWrap(True)
        self.slider = QSlider(Qt.Orientation.Horizontal, minimum=0, maximum=int(MAX_TAU * STEPS_PER_UNIT))
        self.slider.setToolTip("Logit adjustment: predict with logits − τ · log(training frequency); 0 = as trained")
        self.slider.valueChanged.connect(self._moved)
        self.tau_label = plain.label("τ = 0")
        self.metrics = plain.label("")
        self.keep_button = QPushButton("Keep as run", toolTip="Record the adjusted scores as a new run")
        self.keep_button.clicked.connect(self._keep)
        row = QHBoxLayout()
        row.addWidget(plain.label("τ"))
        row.addWidget(self.slider, 1)
        row.addWidget(self.tau_label)
        row.addWidget(self.keep_button)
        self.plot = self._plot()
        layout = QVBoxLayout(self)
        layout.addWidget(self.caption)
        layout.addLayout(row)
        layout.addWidget(self.metrics)
        layout.addWidget(self.plot, 1)
        self._enable(False)

    def _plot(self) -> Any:  # a pyqtgraph PlotWidget
        from workbench.widgets.category_axis import CategoryAxis
        from workbench.widgets.pyqtgraph_setup import pg

        self.axis = CategoryAxis()
        plot = pg.PlotWidget(axisItems={"bottom": self.axis})
        plot.setTitle("Per class accuracy: as trained (grey) and adjusted (blue)")
        plot.setYRange(0, 1)
        plot.setMouseEnabled(False, False)
        self.bars_trained = pg.BarGraphItem(x=[], height=[], width=0.38, brush=(150, 150, 150))
        self.bars_adjusted = pg.BarGraphItem(x=[], height=[], width=0.38, brush=(31, 119, 180))
        plot.addItem(self.bars_trained)
        plot.addItem(self.bars_adjusted)
        return plot

    def _enable(self, on: bool) -> None:
        self.slider.setEnabled(on)
        self.keep_button.setEnabled(on and self.slider.value() > 0)

    def show_run(self, catalog: Catalog | None, run_id: int | None) -> None:
        """The run to adjust (None: nothing selected, or not exactly one finished run); its scores are read when
        this panel is shown (a selection in the Runs table costs nothing while another tab is up)."""
        self.catalog, self.wanted, self.data, self.current = catalog, run_id, None, None
        self._enable(False)
        if catalog is None or run_id is None:
            self.caption.setText("Select one finished run to adjust its scores after training.")
            self.metrics.setText("")
            return
        if self.isVisible():
            self._load()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self.wanted is not None and self.data is None:
            self._load()

    def _load(self) -> None:
        self.caption.setText(f"Loading run {self.wanted}'s test scores…")
        self._load_latest.run(_load, self.catalog, self.wanted, on_return=self._loaded, on_error=self._failed)

    def _failed(self, exc: BaseException) -> None:  # Latest(self) delivers nothing once the window has closed
        self.caption.setText(str(exc))
        self.metrics.setText("")

    def _loaded(self, result: tuple[SliderData, dict]) -> None:
        self.data, self.trained = data, _trained = result
        self.caption.setText(
            f"{data.name}: move τ to trade head accuracy for tail accuracy (Menon et al. 2021); τ = 1 "
            "balances the training frequencies. Computed from the stored test scores; nothing is retrained."
        )
        self.axis.set_names(data.labels, [f" ({n})" for n in data.train_counts])
        self.plot.setXRange(-0.6, len(data.labels) - 0.4)
        self._enable(True)
        self._moved(self.slider.value())

    @property
    def tau(self) -> float:
        return float(self.slider.value()) / STEPS_PER_UNIT

    def _moved(self, _value: int) -> None:
        self.tau_label.setText(f"τ = {self.tau:.2f}")
        self.keep_button.setEnabled(self.data is not None and self.tau > 0)
        if self.data is not None:
            self._eval_latest.run(_evaluate, self.data, self.tau, on_return=self._evaluated, on_error=self._failed)

    def _evaluated(self, result: tuple[float, dict]) -> None:
        if self.data is None:
            return
        tau, metrics = result
        self.current = metrics
        before = self.trained or {}
        parts = [
            f"{name} {percent(before.get(key), '%')} → {percent(metrics.get(key), '%')}"
            for name, key in (("top-1", "top1"), ("ACSA", "acsa"), ("GM", "gm"))
        ]
        self.metrics.setText(f"τ = {tau:.2f}: " + " · ".join(parts))
        order = range(len(self.data.labels))
        trained = [before["per_label"][i]["accuracy"] or 0 for i in order] if before else []
        adjusted = [metrics["per_label"][i]["accuracy"] or 0 for i in order]
        self.bars_trained.setOpts(x=[i - 0.2 for i in order], height=trained)
        self.bars_adjusted.setOpts(x=[i + 0.2 for i in order], height=adjusted)

    def _keep(self) -> None:
        if self.data is not None and self.tau > 0:
            self.keep.emit(self.data.run_id, self.tau)
