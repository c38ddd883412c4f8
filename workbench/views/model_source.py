"""The Train tab's choice of what is trained: the whole network or heads on frozen features, the backbone and its
pretrained weights, with what each backbone's ImageNet weights cost (present in the torch cache, or the size of
the download) once the training engine is loaded.

On a CPU the default is heads on a pretrained backbone when ImageNet weights are present (a useful model in
minutes); otherwise training from scratch, with one line saying why.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QButtonGroup, QComboBox, QHBoxLayout, QRadioButton, QWidget

from core.config import BACKBONES, TIMM_SUGGESTED, TrainConfig
from workbench.widgets import file_dialogs, plain
from workbench.workers.tasks import run_function

CHOICES = BACKBONES + TIMM_SUGGESTED
PREFERRED_FOR_HEADS = ("timm:efficientnet_lite0", "efficientnet_b0", "timm:convnext_tiny", "resnet50", "resnet18")


def weights_table() -> dict[str, tuple[bool, str]]:
    """Per offered backbone: (ImageNet weights present, what a user reads). Imports torchvision and timm: run it
    in a worker."""
    from core.training.weights import source_for

    table = {}
    for name in CHOICES:
        try:
            source = source_for(name)
        except Exception as exc:  # a timm without that model, a torchvision without its weights enum
            table[name] = (False, f"no ImageNet weights known ({type(exc).__name__})")
            continue
        table[name] = (False, "no ImageNet weights") if source is None else (source.present, source.describe())
    return table


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
        group = QButtonGroup(self)
        group.addButton(self.whole)
        group.addButton(self.heads)
        self.mode = QWidget()
        row = QHBoxLayout(self.mode)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.whole)
        row.addWidget(self.heads)
        row.addStretch(1)
        self.backbone = QComboBox(toolTip="torchvision networks, and timm models as timm:NAME")
        self.backbone.addItems(CHOICES)
        self.pretrained = QComboBox(
            toolTip="ImageNet weights are downloaded once into the torch cache (a dialog shows the progress); "
            "or a weights file; without them the network starts from random weights"
        )
        self.pretrained.addItem("none (random initialisation)", None)
        self.pretrained.addItem("ImageNet (downloaded once)", "imagenet")
        self.pretrained.addItem("weights file…", "file")
        self.pretrained.activated.connect(self._pretrained_chosen)
        self.pretrained_file: str | None = None
        self.weights_note = plain.label("", wordWrap=True)
        self.weights_note.setEnabled(False)  # a quiet hint
        self.notice = plain.label("", wordWrap=True)
        self.notice.setVisible(False)
        self.table: dict[str, tuple[bool, str]] | None = None
        self.user_chose = False
        for signal in (self.backbone.currentTextChanged, self.pretrained.currentIndexChanged):
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
        self.pretrained.setCurrentIndex(max(0, self.pretrained.findData(pretrained)))

    def check(self) -> None:
        """Raises ValueError when heads are asked for without pretrained weights."""
        if self.heads.isChecked() and not self.chosen_pretrained():
            raise ValueError("heads on frozen features need pretrained weights (ImageNet or a weights file)")

    # -- what the weights cost --------------------------------------------------------------------------------

    def look_up_weights(self) -> None:
        """Find (in a worker) which backbones have ImageNet weights in the cache; the engine must be loaded."""
        if self.table is None:
            run_function(weights_table, on_return=self.weights_known, owner=self)

    def weights_known(self, table: dict[str, tuple[bool, str]]) -> None:
        self.table = table
        self._update_note()
        self.changed.emit()

    def present(self) -> list[str]:
        return [name for name in PREFERRED_FOR_HEADS if self.table and self.table.get(name, (False, ""))[0]]

    def cpu_default(self) -> TrainConfig | None:
        """Heads on the first backbone whose ImageNet weights are present (None: none is), and the notice."""
        if self.table is None:
            return None
        present = self.present()
        if present:
            self.show_notice(
                f"Heads on frozen features of {present[0]} (its ImageNet weights are here): a model in minutes "
                "on this CPU. Choose “whole network” to train every layer."
            )
            return TrainConfig(attribute="", backbone=present[0], pretrained="imagenet", head_only=True, epochs=30,
                               batch_size=256, image_size=128, device="cpu")  # fmt: skip
        self.show_notice(
            "Training from scratch: no pretrained ImageNet weights on this machine yet. Heads on frozen features "
            "(a model in minutes) need them: choose Pretrained “ImageNet” (downloaded once) or a weights file."
        )
        return None

    def show_notice(self, text: str) -> None:
        self.notice.setText(text)
        self.notice.setVisible(bool(text))

    def _update_note(self) -> None:
        name = self.backbone.currentText()
        pretrained = self.pretrained.currentData()
        if pretrained == "file":
            text = f"Weights from {self.pretrained_file or 'a file'}"
        elif self.table is None:
            text = "ImageNet weights: looking in the torch cache once the engine is loaded…"
        else:
            known = self.table.get(name, (False, "unknown"))[1]
            text = f"ImageNet weights of {name}: {known}"
            if pretrained == "imagenet" and not self.table.get(name, (False, ""))[0]:
                text += " (downloaded when the run starts)"
        if self.heads.isChecked() and not pretrained:
            text = "Heads on frozen features need pretrained weights: choose ImageNet or a weights file"
        self.weights_note.setText(text)
