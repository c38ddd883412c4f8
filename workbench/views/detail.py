"""The detail pane: the selected image large, its metadata and every label it has (read by a worker)."""

from __future__ import annotations

import html
import os
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QResizeEvent
from PySide6.QtWidgets import QLabel, QSizePolicy, QVBoxLayout, QWidget

from core.catalog.records import ImageDetail
from core.ingest import thumbnails
from core.ingest.images import BadImage
from workbench.widgets import plain
from workbench.workers.tasks import Latest

if TYPE_CHECKING:
    from core.catalog.store import Catalog

PREVIEW = 384


def _prediction(catalog: Catalog, image_id: int, run_id: int | None) -> str:
    """ "run 5 predicts: green 93.1% · red 5.0% · blue 1.9%" (the top three), or ""."""
    if run_id is None:
        return ""
    from core.catalog.predictions import label_names, read, run_attribute_id
    from core.catalog.runs import get_run

    attribute_id = run_attribute_id(catalog, run_id)
    current = label_names(catalog, attribute_id) if attribute_id is not None else {}
    names = [current.get(label.id, f"{label.name} (deleted)") for label in get_run(catalog, run_id).labels]
    found = read(catalog, run_id, [image_id], names)
    if not found:
        return ""
    top = sorted(found[0].scores.items(), key=lambda item: -item[1])[:3]
    return f"run {run_id} predicts: " + " · ".join(f"{name} {100 * score:.1f}%" for name, score in top)


def _load(
    catalog: Catalog, image_id: int, cache_dir: Path, prediction_run: int | None = None
) -> tuple[ImageDetail, QImage | None, str, str]:
    from core.catalog.browse import image_detail  # worker thread

    detail = image_detail(catalog, image_id)
    prediction = _prediction(catalog, image_id, prediction_run)
    image, problem = load_preview(detail.path, detail.content_hash, cache_dir, PREVIEW)
    return detail, image, problem, prediction


def load_preview(path: str, content_hash: str, cache_dir: Path, size: int) -> tuple[QImage | None, str]:
    """Worker thread: an image through the shared decode path (and the thumbnail cache) at ``size``, or None and
    why it cannot be shown."""
    try:
        thumb = thumbnails.load(path, content_hash, cache_dir, size=size)
    except BadImage as exc:
        return None, str(exc)
    return QImage(thumb.rgb, thumb.width, thumb.height, thumb.width * 3, QImage.Format.Format_RGB888).copy(), ""


def catalog_preview(catalog: Catalog, image_id: int, path: str, cache_dir: Path, size: int) -> QImage:
    """Worker thread: a catalog image at ``size`` (:func:`load_preview`, its content hash read from the catalog;
    an empty image when it cannot be shown): what the queue tabs show large."""
    from core.catalog.snapshot import content_hashes

    image, _problem = load_preview(path, content_hashes(catalog, [image_id])[0], cache_dir, size)
    return image if image is not None else QImage()


class DetailPane(QWidget):
    def __init__(self, cache_dir: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.cache_dir = cache_dir
        self.catalog: Catalog | None = None
        self.image_id: int | None = None
        self.detail: ImageDetail | None = None
        self.prediction_run: int | None = None  # the run whose stored prediction is shown (the Browse tab sets it)
        self._latest = Latest(self)
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
            self.prediction_run,
            on_return=self._arrived,
            on_error=lambda exc: self.show_nothing(str(exc)),
        )

    def refresh(self) -> None:
        if self.catalog is not None and self.image_id is not None:
            self.show_image(self.catalog, self.image_id)

    def _arrived(self, result: tuple[ImageDetail, QImage | None, str, str]) -> None:
        detail, image, problem, prediction = result
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
        predicted = f"<p style='margin-top:6px'>{html.escape(prediction)}</p>" if prediction else ""
        self.info.setText(
            f"<table>{table}</table><p style='margin-top:6px'>Labels</p><ul style='margin:0'>{labels}</ul>{predicted}"
        )

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit()

    def _fit(self) -> None:
        plain.show_fitted(self.preview, self._image)
