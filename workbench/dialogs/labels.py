"""Managing labels and attributes: create, rename, merge and delete, each confirmed with counts and undoable."""

from __future__ import annotations

from functools import partial

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.catalog import edits
from core.catalog.browse import labels
from core.catalog.records import AttributeInfo, LabelInfo
from core.catalog.store import Catalog
from workbench.viewmodels.editor import Editor
from workbench.widgets import plain
from workbench.workers.tasks import Latest

KindRole = Qt.ItemDataRole.UserRole
IdRole = Qt.ItemDataRole.UserRole + 1


def _read_all(catalog: Catalog) -> list[tuple[AttributeInfo, list[LabelInfo]]]:
    return [(a, labels(catalog, a.id)) for a in catalog.attributes()]


class LabelsDialog(QDialog):
    def __init__(self, catalog: Catalog, editor: Editor, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Labels and attributes")
        self.resize(520, 520)
        self.catalog, self.editor = catalog, editor
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["name", "images", "kind"])
        self.tree.setColumnWidth(0, 260)
        self.tree.itemSelectionChanged.connect(self._selection_changed)
        self.buttons: dict[str, QPushButton] = {}
        column = QVBoxLayout()
        for key, text in (
            ("new_attribute", "New attribute…"),
            ("new_label", "New label…"),
            ("rename", "Rename…"),
            ("merge", "Merge into…"),
            ("delete", "Delete…"),
        ):
            button = QPushButton(text)
            button.clicked.connect(getattr(self, key))
            column.addWidget(button)
            self.buttons[key] = button
        column.addStretch(1)
        column.addWidget(QLabel("Every change can be undone\nwith Edit ▸ Undo (Ctrl+Z)."))
        body = QHBoxLayout()
        body.addWidget(self.tree, 1)
        body.addLayout(column)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(body)
        layout.addWidget(close)
        self._latest = Latest(self)
        self.data: list[tuple[AttributeInfo, list[LabelInfo]]] = []
        editor.edited.connect(self.reload)
        editor.failed.connect(lambda message: plain.warn(self, "Labels", message))
        self.reload()

    def reload(self, *_args: object) -> None:
        self._latest.run(_read_all, self.catalog, on_return=self._arrived)

    def _arrived(self, data: list[tuple[AttributeInfo, list[LabelInfo]]]) -> None:
        keep = self._selected()
        self.data = data
        self.tree.clear()
        for attribute, items in data:
            top = QTreeWidgetItem([attribute.name, f"{attribute.images:,}", f"{attribute.kind}-label"])
            top.setData(0, KindRole, "attribute")
            top.setData(0, IdRole, attribute.id)
            for info in items:
                child = QTreeWidgetItem([info.name, f"{info.count:,}", ""])
                child.setData(0, KindRole, "label")
                child.setData(0, IdRole, info.id)
                top.addChild(child)
                if keep == ("label", info.id):
                    self.tree.setCurrentItem(child)
            self.tree.addTopLevelItem(top)
            top.setExpanded(True)
            if keep == ("attribute", attribute.id):
                self.tree.setCurrentItem(top)
        self._selection_changed()

    def _selected(self) -> tuple[str, int] | None:
        item = self.tree.currentItem()
        return (item.data(0, KindRole), item.data(0, IdRole)) if item is not None else None

    def _attribute_of_selection(self) -> tuple[AttributeInfo, list[LabelInfo]] | None:
        item = self.tree.currentItem()
        if item is None:
            return None
        top = item.parent() or item
        return next((pair for pair in self.data if pair[0].id == top.data(0, IdRole)), None)

    def _selection_changed(self) -> None:
        selected = self._selected()
        self.buttons["new_label"].setEnabled(selected is not None)
        self.buttons["rename"].setEnabled(selected is not None)
        self.buttons["delete"].setEnabled(selected is not None)
        self.buttons["merge"].setEnabled(selected is not None and selected[0] == "label")

    def _label(self, label_id: int) -> LabelInfo | None:
        return next((info for _, items in self.data for info in items if info.id == label_id), None)

    # -- actions (each one undoable edit) --------------------------------------------------------------

    def new_attribute(self) -> None:
        name, ok = QInputDialog.getText(self, "New attribute", "Name:")
        if not ok or not name.strip():
            return
        kind, ok = QInputDialog.getItem(
            self,
            "New attribute",
            "Labels per image:",
            ["single (one label per image)", "multi (several labels per image)"],
            0,
            False,
        )
        if ok:
            kind = kind.split()[0]
            self.editor.push(lambda c: edits.create_attribute(c, name, kind), f"new attribute '{name}'")

    def new_label(self) -> None:
        pair = self._attribute_of_selection()
        if pair is None:
            return
        attribute = pair[0]
        name, ok = QInputDialog.getText(self, "New label", f"New label of '{attribute.name}':")
        if ok and name.strip():
            self.editor.push(lambda c: edits.create_label(c, attribute.id, name), f"new label '{name}'")

    def rename(self) -> None:
        selected = self._selected()
        if selected is None:
            return
        kind, id_ = selected
        current = self.tree.currentItem()
        old = current.text(0) if current is not None else ""
        name, ok = QInputDialog.getText(self, f"Rename {kind}", f"New name for '{old}':", text=old)
        if not ok or not name.strip() or name.strip() == old:
            return
        if kind == "attribute":
            self.editor.push(lambda c: edits.rename_attribute(c, id_, name), f"rename attribute '{old}'")
        else:
            self.editor.push(lambda c: edits.rename_label(c, id_, name), f"rename label '{old}'")

    def merge(self) -> None:
        selected = self._selected()
        pair = self._attribute_of_selection()
        if selected is None or selected[0] != "label" or pair is None:
            return
        source = self._label(selected[1])
        if source is None:
            return
        others = [info for info in pair[1] if info.id != source.id]
        if not others:
            QMessageBox.information(self, "Merge", "There is no other label to merge into.")
            return
        dialog = _ChooseLabel(others, f"Merge '{source.name}' ({source.count:,} images) into:", self)
        if dialog.exec() != QDialog.DialogCode.Accepted or dialog.choice() is None:
            return
        target = dialog.choice()
        if target is not None and plain.ask(
            self,
            "Merge labels",
            f"Move the {source.count:,} images of '{source.name}' to "
            f"'{target.name}' ({target.count:,} images) and delete '{source.name}'?",
        ):
            self.editor.push(
                lambda c: edits.merge_labels(c, [source.id], into=target.id),
                f"merge '{source.name}' into '{target.name}'",
            )

    def delete(self) -> None:
        selected = self._selected()
        if selected is None:
            return
        kind, id_ = selected
        if kind == "attribute":
            attribute = next(a for a, _ in self.data if a.id == id_)
            text = (
                f"Delete the attribute '{attribute.name}', its {attribute.labels} labels and the labels of "
                f"{attribute.images:,} images? Runs trained on it keep their results."
            )
            build = partial(edits.delete_attribute, attribute_id=id_)
        else:
            info = self._label(id_)
            if info is None:
                return
            text = f"Delete the label '{info.name}' and take it off {info.count:,} images?"
            build = partial(edits.delete_label, label_id=id_)
        if plain.ask(self, f"Delete {kind}", text):
            self.editor.push(build, f"delete {kind}")


class _ChooseLabel(QDialog):
    def __init__(self, options: list[LabelInfo], prompt: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Choose a label")
        self.list = QListWidget()
        for info in options:
            item = QListWidgetItem(f"{info.name}   ({info.count:,})")
            item.setData(Qt.ItemDataRole.UserRole, info)
            self.list.addItem(item)
        self.list.setCurrentRow(0)
        self.list.itemDoubleClicked.connect(self.accept)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(plain.label(prompt))
        layout.addWidget(self.list)
        layout.addWidget(buttons)

    def choice(self) -> LabelInfo | None:
        item = self.list.currentItem()
        choice: LabelInfo | None = item.data(Qt.ItemDataRole.UserRole) if item is not None else None
        return choice
