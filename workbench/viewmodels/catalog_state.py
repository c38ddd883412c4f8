"""What the views of one open catalog share: the catalog, its attributes, the current attribute and its labels.

Everything is read by workers; views listen to the signals and get plain dataclasses.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from core.catalog.browse import labels
from core.catalog.records import AttributeInfo, LabelInfo
from core.catalog.store import Catalog
from workbench.workers.tasks import Latest


def _read(catalog: Catalog, attribute_id: int | None) -> tuple[list[AttributeInfo], int | None, list[LabelInfo]]:
    attributes = catalog.attributes()
    ids = [a.id for a in attributes]
    if attribute_id not in ids:
        attribute_id = ids[0] if ids else None
    return attributes, attribute_id, (labels(catalog, attribute_id) if attribute_id is not None else [])


class CatalogState(QObject):
    changed = Signal()  # attributes, current attribute or its labels (and their counts) changed
    error = Signal(str)

    def __init__(self, catalog: Catalog, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.catalog = catalog
        self.attributes: list[AttributeInfo] = []
        self.attribute_id: int | None = None
        self.labels: list[LabelInfo] = []
        self._latest = Latest(self)
        self.loaded = False

    @property
    def attribute(self) -> AttributeInfo | None:
        return next((a for a in self.attributes if a.id == self.attribute_id), None)

    def label(self, label_id: int) -> LabelInfo | None:
        return next((item for item in self.labels if item.id == label_id), None)

    def refresh(self) -> None:
        self._latest.run(
            _read,
            self.catalog,
            self.attribute_id,
            on_return=self._arrived,
            on_error=lambda exc: self.error.emit(str(exc)),
        )

    def set_attribute(self, attribute_id: int | None) -> None:
        if attribute_id != self.attribute_id:
            self.attribute_id = attribute_id
            self.labels = []
            self.refresh()

    def _arrived(self, result: tuple[list[AttributeInfo], int | None, list[LabelInfo]]) -> None:
        self.attributes, self.attribute_id, self.labels = result
        self.loaded = True
        self.changed.emit()
