"""The Train tab: the run settings, the **Train** button, the queue with progress and Cancel, and the live plots.

The device is detected in a separate, isolated process (``core.training.devices.probe_arguments``: it imports torch, the
window does not); the defaults follow it (a quick CPU setting, or the source paper's DenseNet-121 at 224 px on a GPU).
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QProgressDialog,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from core.catalog.records import Kind
from core.config import (
    HEAD_LOSSES,
    LOSSES,
    OVERSAMPLERS,
    SINGLE_LABEL_ONLY,
    Loss,
    OversampleConfig,
    TrainConfig,
    defaults_for,
)
from core.experiments.seeds import MAX_SEEDS
from core.training.devices import describe
from core.training.events import (
    BatchProgress,
    Decoding,
    EpochFinished,
    Event,
    FeatureProgress,
    Note,
    RunStarted,
    WeightsDownload,
)
from workbench.viewmodels import settings
from workbench.viewmodels.catalog_state import CatalogState
from workbench.viewmodels.requests import PlotRuns, Request, ResumeRun
from workbench.viewmodels.tab import Tab
from workbench.viewmodels.workspace import Workspace
from workbench.views.model_source import ModelSource
from workbench.widgets import plain, settings_form
from workbench.widgets.plots import LivePlots, RunSeries
from workbench.widgets.settings_form import Setting, bound
from workbench.widgets.variant_checks import check_only, variant_checks
from workbench.workers.tasks import Latest
from workbench.workers.training_queue import ACTIVE, Job, JobStatus, TrainingQueue

if TYPE_CHECKING:
    from core.catalog.store import Catalog

TAB = Tab(title="Train", menu="&Train", shortcut="Ctrl+3", position=3, view="TrainingPanel")

STATUS_MARKS = {"queued": "…", "starting": "▶", "running": "▶", "finished": "✓", "failed": "✗", "cancelled": "■"}


def _eta(seconds: float) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "–"
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


def learning_rate(text: str) -> float | None:
    """The learning rate typed (empty: the loss's default); raises ValueError."""
    lr = float(text) if text.strip() else None
    if lr is not None and lr <= 0:
        raise ValueError("learning rate must be positive")
    return lr


def _run_series(catalog: Catalog, run_ids: list[int]) -> list[RunSeries]:
    """Worker thread: what the plots show of finished runs: names, training counts, epochs, last metrics."""
    from core.catalog.runs import display_name, epochs, get_run

    series = []
    for run_id in run_ids:
        run = get_run(catalog, run_id)
        names, counts = [label.name for label in run.labels], [label.train for label in run.labels]
        series.append(RunSeries(run.id, display_name(run), names, counts, epochs(catalog, run_id), run.last or None))
    return series


class TrainingPanel(QWidget):
    runEnded = Signal(object)  # Job, after it finished, failed or was cancelled
    status = Signal(str)

    def __init__(self, workspace: Workspace) -> None:
        super().__init__()
        self.workspace = workspace
        self.state: CatalogState | None = None
        self.queue: TrainingQueue | None = None
        self.device_kind = "cpu"
        self.device_text = "detecting…"
        self.detecting = True
        self.restored = False
        self.heads_defaulted = False
        self.source = ModelSource(self)
        self.backbone, self.pretrained = self.source.backbone, self.source.pretrained
        self.source.changed.connect(self._weights_known)
        self.download: QProgressDialog | None = None

        self.attribute = QComboBox(toolTip="The attribute whose labels the runs learn")
        self.variants = self._variants_list()
        self.gan_box = self._gan_box()
        settings_box = self._settings_box()
        self._arrange(settings_box, self._queue_box())
        self.apply_defaults(defaults_for("cpu"))
        self._buttons()
        self.restore_settings(settings.train_settings())
        self.untouched = settings_form.remembered(self.settings())  # the form before anyone changed it
        self.train_button.clicked.connect(lambda: settings.save_train_settings(self.saved_settings()))
        workspace.closing.connect(lambda: settings.save_train_settings(self.saved_settings()))
        self.status.connect(workspace.status)
        self.runEnded.connect(lambda _job: workspace.runsChanged.emit())
        self._histories = Latest(self)
        self.probe = workspace.probe
        if self.probe.result is not None:
            self._device_found(self.probe.result)
        else:
            self.probe.found.connect(self._device_found)
            self.probe.start()
        workspace.when_open(self._attach)

    def _variants_list(self) -> QWidget:
        """Every variant as a check box, all visible at once (three columns)."""
        gan = (
            "An nw run, then Phase 2 of the convex-GAN oversampler on its features: a second "
            "run whose head is fine-tuned on real and synthetic minority features"
        )
        box, self.variant_boxes = variant_checks(
            LOSSES + OVERSAMPLERS,
            checked=lambda loss: loss == Loss.NW,
            tips=dict.fromkeys(OVERSAMPLERS, gan),
            changed=self._variants_changed,
            tip="One run per checked variant, on the same split and seed",
            spacing=(10, 2),
        )
        return box

    def _gan_box(self) -> QGroupBox:
        """The convex-GAN's own settings, shown while it is checked."""
        defaults = OversampleConfig()
        self.gan_epochs = QSpinBox(minimum=1, maximum=1000, value=defaults.epochs, toolTip="Phase 2 epochs")
        self.gan_head_loss = QComboBox(toolTip="Loss of the fine-tuned classifier (mse: the paper's baseline)")
        self.gan_head_loss.addItems(HEAD_LOSSES)
        self.gan_samples = QSpinBox(
            minimum=0,
            maximum=10_000,
            specialValueText="auto",
            toolTip="N_s: real features mixed into each synthetic one (auto: min(100, smallest label - 1))",
        )
        form = QFormLayout()
        form.addRow("Phase 2 epochs", self.gan_epochs)
        form.addRow("Head loss", self.gan_head_loss)
        form.addRow("N_s", self.gan_samples)
        box = QGroupBox("Convex-GAN (Phase 2)")
        box.setLayout(form)
        box.setVisible(False)
        return box

    def _variants_changed(self) -> None:
        self.gan_box.setVisible(any(self.variant_boxes[v].isChecked() for v in OVERSAMPLERS))

    def oversample_config(self) -> OversampleConfig:
        return OversampleConfig(**settings_form.fields(self.settings(), "oversample"))

    def _settings_box(self) -> QGroupBox:
        self.epochs = QSpinBox(minimum=1, maximum=1000)
        self.batch_size = QSpinBox(minimum=1, maximum=4096)
        self.lr = QLineEdit(placeholderText="default")
        self.lr_hint = plain.label(
            "Empty: Adam 1e-3 (fine-tuning pretrained weights: 1e-5, multi-label 1e-4; heads: 1e-3)", wordWrap=True
        )
        self.lr_hint.setEnabled(False)  # drawn as a quiet hint
        self.image_size = QSpinBox(minimum=16, maximum=1024, singleStep=16)
        self.beta = QDoubleSpinBox(
            decimals=5, minimum=0.0, maximum=0.99999, singleStep=0.001, toolTip="Effective-number beta (iew, cb-focal)"
        )
        self.device = plain.label(self.device_text)
        self.seed = QSpinBox(minimum=0, maximum=2**31 - 1, toolTip="Seed of the split, the weights and the batches")
        self.seed_count = QSpinBox(
            minimum=1,
            maximum=MAX_SEEDS,
            prefix="× ",
            suffix=" seeds",
            toolTip="Train each variant with this many seeds (seed, seed + 1, ...), all on the first seed's "
            "train/test split: the Runs tab then shows their mean and spread beside the intervals",
        )
        self.train_button = QPushButton("Train")
        self.train_button.setDefault(True)
        self.train_button.clicked.connect(self.train)

        form = QFormLayout()
        form.addRow(self.source.notice)
        form.addRow("Attribute", self.attribute)
        form.addRow("Train", self.source.mode)
        form.addRow("Variants", self.variants)
        form.addRow("Backbone", self.backbone)
        form.addRow("Pretrained", self.pretrained)
        form.addRow("Normalization", self.source.normalization)
        form.addRow("", self.source.weights_note)
        form.addRow("Epochs", self.epochs)
        form.addRow("Batch size", self.batch_size)
        form.addRow("Learning rate", self.lr)
        form.addRow("", self.lr_hint)
        form.addRow("Image size", self.image_size)
        form.addRow("Beta", self.beta)
        form.addRow("Device", self.device)
        seeds = QHBoxLayout()
        seeds.addWidget(self.seed, 1)
        seeds.addWidget(self.seed_count, 1)
        form.addRow("Seed", seeds)
        settings_box = QGroupBox("Run settings")
        settings_box.setLayout(form)
        return settings_box

    def _queue_box(self) -> QGroupBox:
        self.jobs = QListWidget(toolTip="Runs of this session: the running one, then those waiting")
        self.jobs.setWordWrap(True)  # a row's whole title and message, never cut off
        self.up = QPushButton("Up")
        self.down = QPushButton("Down")
        self.remove = QPushButton("Remove")
        self.cancel_button = QPushButton("Cancel run")
        self.up.clicked.connect(lambda: self._move(-1))
        self.down.clicked.connect(lambda: self._move(1))
        self.remove.clicked.connect(self._remove)
        self.cancel_button.clicked.connect(self.cancel)
        self.jobs.currentRowChanged.connect(lambda _r: self._buttons())
        self.progress = QProgressBar(textVisible=True)
        self.progress_text = plain.label("Nothing is training.", wordWrap=True)
        # a long message (an unbroken path) never widens the settings pane: it wraps, or is cut (the queue keeps it)
        self.progress_text.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        buttons = QHBoxLayout()
        for button in (self.up, self.down, self.remove):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(self.cancel_button)
        queue_box = QGroupBox("Queue")
        queue_layout = QVBoxLayout(queue_box)
        queue_layout.addWidget(self.jobs, 1)
        queue_layout.addLayout(buttons)
        queue_layout.addWidget(self.progress)
        queue_layout.addWidget(self.progress_text)
        return queue_box

    def _arrange(self, settings_box: QGroupBox, queue_box: QGroupBox) -> None:
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(settings_box)
        left_layout.addWidget(self.gan_box)
        left_layout.addWidget(self.train_button)
        left_layout.addWidget(queue_box, 1)
        self.plots = LivePlots()
        scroll = QScrollArea(widgetResizable=True, frameShape=QFrame.Shape.NoFrame)
        scroll.setWidget(left)  # the form never forces a tall window
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(left.minimumSizeHint().width() + scroll.verticalScrollBar().sizeHint().width())
        self.splitter = QSplitter()
        self.splitter.addWidget(scroll)
        self.splitter.addWidget(self.plots)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([340, 900])
        layout = QVBoxLayout(self)
        layout.addWidget(self.splitter)

    # -- catalog ----------------------------------------------------------------------------------------------

    def _attach(self) -> None:
        self.state, self.queue = state, queue = self.workspace.state, self.workspace.queue
        assert state is not None and queue is not None
        state.changed.connect(self._state_changed)
        queue.changed.connect(self._queue_changed)
        queue.runEvent.connect(self._event)
        queue.jobEnded.connect(self._job_ended)
        queue.prepared.connect(self._prepared)
        self._state_changed()
        self._queue_changed()
        if self.isVisible():
            self._prepare()

    def handle(self, request: Request) -> None:
        if isinstance(request, PlotRuns):
            self.plot_runs(list(request.run_ids))
        elif isinstance(request, ResumeRun) and self.queue is not None:
            self.queue.resume(request.run)
            self.status.emit(f"Run {request.run.id} will continue from its last checkpoint")

    def plot_runs(self, run_ids: list[int]) -> None:
        """Show finished runs' curves and overlaid per-class bars in the plots (read by a worker)."""
        if self.workspace.catalog is None or not run_ids:
            return

        def arrived(runs: list[RunSeries]) -> None:
            self.plots.show_runs(runs, focus=runs[0].run_id)

        self._histories.run(
            _run_series,
            self.workspace.catalog,
            run_ids,
            on_return=arrived,
            on_error=lambda exc: self.status.emit(str(exc)),
        )

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        QTimer.singleShot(300, self._prepare)  # after the tab's first paint, which the import would slow down

    def _prepare(self) -> None:
        """Import torch in the background once the user looks at this tab: the first run then starts at once;
        then look up which backbones have ImageNet weights in the cache."""
        if not self.isVisible() or self.queue is None:
            return
        self.source.look_up_bundled()  # no torch needed: the default for heads before the engine loads
        if self.queue.prepare():
            if self.queue.running is None:
                self.progress_text.setText("Loading the training engine (torch)…")
        elif self.queue.engine_ready():
            self.source.look_up_weights()

    def _prepared(self, error: str) -> None:
        if not error:
            self.source.look_up_weights()
        if self.queue is not None and self.queue.running is None and not self.queue.waiting():
            self.progress_text.setText(
                f"Cannot load the training engine: {error}" if error else "Ready to train. Nothing is training."
            )

    def _state_changed(self) -> None:
        state = self.state
        if state is None:
            return
        current = self.attribute.currentText() or (state.attribute.name if state.attribute else "")
        self.attribute.clear()
        for info in state.attributes:
            self.attribute.addItem(info.name, info.kind)
        index = self.attribute.findText(current)
        self.attribute.setCurrentIndex(max(index, 0))
        self._buttons()

    # -- settings ---------------------------------------------------------------------------------------------

    def settings(self) -> tuple[Setting, ...]:
        """Every setting of the tab, declared once: what is remembered, restored, shown as defaults and asked for."""
        source = self.source
        return (
            Setting("variants", self.checked_variants, self.set_variants),
            Setting("head_only", source.heads.isChecked, source.set_heads, field="head_only"),
            Setting("mirrored_views", source.mirrored_views, source.set_mirrored, field="mirrored_views"),
            Setting("backbone", *bound(self.backbone), field="backbone"),
            Setting("pretrained", source.chosen_pretrained, source.set_pretrained, "pretrained"),
            Setting("normalization", source.chosen_normalization, source.set_normalization, "normalization"),
            Setting("epochs", *bound(self.epochs), field="epochs"),
            Setting("batch_size", *bound(self.batch_size), field="batch_size"),
            Setting("lr", *bound(self.lr), field="lr", to_field=learning_rate, from_field=lambda v: v or ""),
            Setting("image_size", *bound(self.image_size), field="image_size"),
            Setting("beta", *bound(self.beta), field="beta"),
            Setting("seed", *bound(self.seed), field="seed"),
            Setting("seed_count", *bound(self.seed_count)),
            Setting("gan_epochs", *bound(self.gan_epochs), field="epochs", config="oversample"),
            Setting("gan_head_loss", *bound(self.gan_head_loss), field="head_loss", config="oversample"),
            Setting("gan_samples", *bound(self.gan_samples), field="samples", config="oversample",
                    to_field=lambda n: n or None, from_field=lambda n: n or 0),
        )  # fmt: skip

    def apply_defaults(self, config: TrainConfig) -> None:
        settings_form.show(self.settings(), config)

    def _device_found(self, found: dict) -> None:
        self.detecting = False
        self.device_text = describe(found)
        self.device_kind = "cuda" if found.get("cuda") else "mps" if found.get("mps") else "cpu"
        self.device.setText(self.device_text)
        if self.device_kind != "cpu" and not self.restored:  # a user's own settings win over the GPU defaults
            self.apply_defaults(defaults_for(self.device_kind))
        self._weights_known()
        self._buttons()

    def _weights_known(self) -> None:
        """On a CPU, once the device and the weights in the cache are known: heads on a pretrained backbone when
        its weights are here, else training from scratch with a notice (never over the user's own choice)."""
        if self.detecting or self.device_kind != "cpu" or self.restored or self.source.user_chose:
            return
        if self.heads_defaulted or settings_form.remembered(self.settings()) != self.untouched:
            return  # once, and never over a value changed meanwhile (the device probe takes seconds)
        heads = self.source.cpu_default()
        if heads is not None:
            self.heads_defaulted = True
            self.apply_defaults(heads)

    def checked_variants(self) -> list[str]:
        return [loss for loss, check in self.variant_boxes.items() if check.isChecked()]

    def set_variants(self, losses: list[str]) -> None:
        check_only(self.variant_boxes, losses)

    # -- remembered between sessions (workbench.viewmodels.settings) ------------------------------------------

    def saved_settings(self) -> dict:
        return settings_form.remembered(self.settings())

    def restore_settings(self, saved: dict) -> None:
        """Put back what :meth:`saved_settings` gave (unknown or broken values are skipped)."""
        self.restored = bool(saved)
        settings_form.restore(self.settings(), saved)

    def config(self) -> TrainConfig:
        """The settings as a configuration (loss filled in per variant when queued); raises ValueError."""
        self.source.check()
        fields = settings_form.fields(self.settings())
        return replace(defaults_for(self.device_kind), attribute=self.attribute.currentText(), **fields)

    # -- queue ------------------------------------------------------------------------------------------------

    def train(self) -> list[Job]:
        if self.queue is None:
            return []
        try:
            config = self.config()
        except ValueError as exc:
            self.status.emit(f"Cannot train: {exc}")
            return []
        variants = self.checked_variants()
        if self.attribute.currentData() == Kind.MULTI:
            skipped = [v for v in variants if v in SINGLE_LABEL_ONLY]
            variants = [v for v in variants if v not in SINGLE_LABEL_ONLY]
            if skipped:
                self.status.emit(f"{', '.join(skipped)}: single-label attributes only; not queued")
        if not variants:
            self.status.emit("Check at least one variant to train.")
            return []
        seeds = [config.seed + k for k in range(self.seed_count.value())]
        jobs = self.queue.enqueue(config, variants, self.oversample_config(), seeds=seeds)
        self.status.emit(f"Queued {len(jobs)} run{'s' if len(jobs) != 1 else ''} on {config.attribute}")
        return jobs

    def cancel(self) -> None:
        if self.queue is not None and self.queue.running is not None:
            self.queue.cancel()

    def _selected_job(self) -> Job | None:
        item = self.jobs.currentItem()
        job: Job | None = item.data(Qt.ItemDataRole.UserRole) if item is not None else None
        return job

    def _move(self, offset: int) -> None:
        job = self._selected_job()
        if job is not None and self.queue is not None:
            self.queue.move(job, offset)
            self._select(job)

    def _remove(self) -> None:
        job = self._selected_job()
        if job is not None and self.queue is not None:
            self.queue.remove(job)

    def _select(self, job: Job) -> None:
        for row in range(self.jobs.count()):
            if self.jobs.item(row).data(Qt.ItemDataRole.UserRole) is job:
                self.jobs.setCurrentRow(row)

    def _queue_changed(self) -> None:
        if self.queue is None:
            return
        selected = self._selected_job()
        self.jobs.blockSignals(True)
        self.jobs.clear()
        for job in self.queue.jobs:
            run = f"run {job.run_id} · " if job.run_id else ""
            text = f"{STATUS_MARKS.get(job.status, '')} {run}{job.title} — {job.status}"
            if job.message:
                text += f": {job.message}"
            item = QListWidgetItem(text)
            item.setData(Qt.ItemDataRole.UserRole, job)
            item.setToolTip(text)
            self.jobs.addItem(item)
        self.jobs.blockSignals(False)
        if selected is not None:
            self._select(selected)
        self._buttons()
        if self.queue.running is None:
            self.progress.setRange(0, 1)
            self.progress.setValue(0)
            self.progress.setFormat("")

    def _buttons(self) -> None:
        job = self._selected_job()
        waiting = job is not None and job.status == JobStatus.QUEUED
        self.up.setEnabled(waiting)
        self.down.setEnabled(waiting)
        self.remove.setEnabled(job is not None and job.status not in ACTIVE)
        self.cancel_button.setEnabled(self.queue is not None and self.queue.running is not None)
        ready = self.queue is not None and self.attribute.count() > 0 and not self.detecting
        self.train_button.setEnabled(ready)
        if self.detecting:
            why = "Detecting the device (GPU or CPU) in the background; Train is enabled in a moment"
        elif self.queue is None or self.attribute.count() == 0:
            why = "No attribute to train on yet: import labeled images first"
        else:
            why = "Queue one run per checked variant"
        self.train_button.setToolTip(why)
        self.train_button.setText("Train (detecting the device…)" if self.detecting else "Train")

    def _event(self, event: Event) -> None:
        if isinstance(event, WeightsDownload):
            self._downloading(event)
            return
        if self.download is not None:
            self.download.close()
            self.download = None
        if isinstance(event, RunStarted):
            self.plots.start_run(
                RunSeries(
                    event.run_id,
                    f"{event.loss} · {event.backbone}",
                    event.labels,
                    list(event.train_counts),
                    planned=event.epochs,
                )
            )
            self.progress_text.setText(
                f"Run {event.run_id}: {event.loss} on {event.device}, {event.train_images} training images"
            )
        elif isinstance(event, Decoding):
            self.progress.setRange(0, event.total)
            self.progress.setValue(event.done)
            self.progress.setFormat("decoding images %v / %m")
        elif isinstance(event, FeatureProgress):
            self.progress.setRange(0, event.total)
            self.progress.setValue(event.done)
            stored = f" ({event.cached:,} stored)" if event.cached else ""
            self.progress.setFormat(f"Features %v / %m{stored}")
        elif isinstance(event, BatchProgress):
            total = event.epochs * event.batches
            self.progress.setRange(0, total)
            self.progress.setValue(event.epoch * event.batches + event.batch)
            self.progress.setFormat(
                f"epoch {event.epoch + 1}/{event.epochs} · batch {event.batch}/{event.batches}"
                f" · ETA {_eta(event.eta_seconds)}"
            )
            self.progress_text.setText(f"loss {event.loss:.4f} · {event.images_per_second:.0f} images/s")
        elif isinstance(event, EpochFinished):
            self.plots.add_epoch(event.run_id, event.epoch, event.train_loss, event.test_loss, event.metrics)
        elif isinstance(event, Note):  # which path the feature pass runs, a damaged chunk set aside
            self.progress_text.setText(event.message)

    def _downloading(self, event: WeightsDownload) -> None:
        """A dialog with the download's progress and Cancel (which cancels the run that needs the weights)."""
        if self.download is None:
            self.download = QProgressDialog(self)
            self.download.setWindowTitle("Downloading pretrained weights")
            self.download.setCancelButtonText("Cancel")
            self.download.setMinimumDuration(0)
            self.download.canceled.connect(lambda: self.cancel())
        name = event.url.rsplit("/", 1)[-1]
        total = f" of {event.total / 1e6:.1f} MB" if event.total else ""
        self.download.setLabelText(f"{name}: {event.done / 1e6:.1f}{total}\ninto {event.path}")
        self.download.setRange(0, max(1, event.total // 1024))
        self.download.setValue(min(event.done // 1024, max(1, event.total // 1024)))
        self.download.show()

    def _job_ended(self, job: Job) -> None:
        if self.download is not None:
            self.download.close()
            self.download = None
        text = {"finished": "finished", "failed": f"failed: {job.message}", "cancelled": "cancelled"}.get(
            job.status, job.status
        )
        self.progress_text.setText(f"Run {job.run_id or '–'} {text}")
        self.status.emit(f"Run {job.run_id or '–'} ({job.config.loss}) {text}")
        self.runEnded.emit(job)
