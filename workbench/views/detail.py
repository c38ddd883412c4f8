"""The detail pane: the selected image large, its metadata and every label it has (read by a worker)."""

from __future__ import annotations

import html
import os
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QLabel, QSizePolicy, QVBoxLayout, QWidget

from core.catalog.records import ImageDetail
from core.ingest import thumbnails
from core.ingest.images import BadImage
from workbench.workers.tasks import Latest

if TYPE_CHECKING:
    from core.catalog.store import Catalog

PREVIEW = 384


def _load(catalog: Catalog, image_id: int, cache_dir) -> tuple[ImageDetail, QImage | None, str]:
    from core.catalog.browse import image_detail  # worker thread

    detail = image_detail(catalog, image_id)
    try:
        thumb = thumbnails.load(detail.path, detail.content_hash, cache_dir, size=PREVIEW)
    except BadImage as exc:
        return detail, None, str(exc)
    image = QImage(thumb.rgb, thumb.width, thumb.height, thumb.width * 3, QImage.Format.Format_RGB888).copy()
    return detail, image, ""


class DetailPane(QWidget):
    def __init__(self, cache_dir, parent=None) -> None:
        super().__init__(parent)
        self.cache_dir = cache_dir
        self.catalog: Catalog | None = None
        self.image_id: int | None = None
        self.detail: ImageDetail | None = None
        self._latest = Latest()
        self._image = QImage()
        self.preview = QLabel(alignment=Qt.AlignmentFlag.AlignCenter)
        self.preview.setMinimumSize(160, 160)
        self.preview.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.info = QLabel(textFormat=Qt.TextFormat.RichText, wordWrap=True)
        self.info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.info.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.preview, 3)
        layout.addWidget(self.info, 2)
        self.show_nothing("Select an image to see it here.")

    def show_nothing(self, message: str) -> None:
        self.image_id = None
        self.detail = None
        self._image = QImage()
        self.preview.clear()
        self.info.setText(f"<i>{html.escape(message)}</i>")

    def show_selection(self, count: int) -> None:
        self.show_nothing(f"{count:,} images selected. Labels you apply go to all of them.")

    def show_image(self, catalog: Catalog, image_id: int) -> None:
        self.catalog = catalog
        self.image_id = image_id
        self.info.setText("<i>loading…</i>")
        self._latest.run(
            _load,
            catalog,
            image_id,
            self.cache_dir,
            on_return=self._arrived,
            on_error=lambda exc: self.show_nothing(str(exc)),
        )

    def refresh(self) -> None:
        if self.catalog is not None and self.image_id is not None:
            self.show_image(self.catalog, self.image_id)

    def _arrived(self, result) -> None:
        detail, image, problem = result
        self.detail = detail
        self._image = image if image is not None else QImage()
        self._fit()
        split = detail.split or "none"
        rows = [
            ("File", os.path.basename(detail.path)),
            ("Folder", os.path.dirname(detail.path)),
            ("Size", f"{detail.width} x {detail.height}"),
            ("Split", split),
            ("Added", detail.added_at.strftime("%Y-%m-%d %H:%M")),
            ("SHA-256", detail.content_hash[:16] + "…"),
        ]
        if problem:
            rows.append(("Problem", problem))
        table = "".join(
            f"<tr><td style='padding-right:8px;color:gray'>{html.escape(k)}</td><td>{html.escape(v)}</td></tr>"
            for k, v in rows
        )
        labels = (
            "".join(
                f"<li><b>{html.escape(a.attribute)}</b>: {html.escape(a.label)} "
                f"<span style='color:gray'>({a.source})</span></li>"
                for a in detail.annotations
            )
            or "<li><i>no labels</i></li>"
        )
        self.info.setText(
            f"<table>{table}</table><p style='margin-top:6px'>Labels</p><ul style='margin:0'>{labels}</ul>"
        )

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit()

    def _fit(self) -> None:
        if self._image.isNull():
            self.preview.clear()
            return
        size = self.preview.size()
        scaled = self._image.scaled(
            size, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
        )
        self.preview.setPixmap(QPixmap.fromImage(scaled))
