"""The Map tab: every image of the catalog as a point of a 2-D map of its features, coloured by a field.

The map kept beside the feature store opens at once (read on a worker); **Compute the map** runs ``tailor map`` on a
worker with progress and Cancel (the features first where the store lacks them). Colours: label, predicted label,
confidence, whether the run disagrees, split, head / medium / tail, labeled or not; the tail is drawn on top. At low
zoom a large map is one density image (:mod:`workbench.viewmodels.map_points`), so panning and zooming 1,000,000
points only scales a picture; once the view holds few enough points they are drawn one by one. Hovering a point
shows its image; a click shows it in Browse; **Lasso** (L) draws around points and shows them in Browse as
"342 images from the map", ready to label in bulk. Browse's selection is ringed on the map.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QIcon, QImage, QKeySequence, QPainterPath, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from workbench.viewmodels.map_points import (
    DENSITY_PIXELS,
    MAX_POINTS,
    Extent,
    density_image,
    in_polygon,
    in_view,
    nearest,
)
from workbench.viewmodels.requests import BrowseImages
from workbench.viewmodels.tab import Tab
from workbench.viewmodels.workspace import Workspace
from workbench.widgets import plain
from workbench.widgets.job_runner import JobRunner
from workbench.widgets.pyqtgraph_setup import pg
from workbench.workers.curation import map_job, stored_map
from workbench.workers.tasks import Latest

if TYPE_CHECKING:
    from core.catalog.store import Catalog
    from core.curation.catalog_map import CatalogMap, Colouring
    from workbench.viewmodels.catalog_state import CatalogState

TAB = Tab(title="Map", menu="&Map", shortcut="Ctrl+9", position=9, view="MapView")
FIELDS = (
    ("label", "label"),
    ("predicted", "predicted label"),
    ("confidence", "prediction confidence"),
    ("disagrees", "the run disagrees"),
    ("split", "split"),
    ("group", "head / medium / tail"),
    ("unlabeled", "labeled or not"),
)
HOVER = 8  # pixels around the cursor a point is found within
PREVIEW = 160


def _colours(catalog: Catalog, made: CatalogMap, field: str, attribute: str | None, pixels: int) -> tuple[Any, ...]:
    """Worker thread: the colouring, each point's colour, when each point is drawn, and the density image (None
    for a small map)."""
    from core.curation.catalog_map import colouring
    from core.curation.map_image import colours

    chosen = colouring(catalog, made.image_ids, field, attribute)
    rgb = colours(chosen)
    rank = np.empty(len(made.points), dtype=np.int64)
    rank[chosen.order] = np.arange(len(made.points))
    image = density_image(made.points, rgb, chosen.order, pixels) if len(made.points) > MAX_POINTS else None
    return chosen, rgb, rank, image


def _rows_of(image_ids: np.ndarray, chosen: tuple[int, ...]) -> np.ndarray:
    """Worker thread: the rows of these images on the map."""
    return np.flatnonzero(np.isin(image_ids, np.asarray(chosen, dtype=np.int64)))


def _preview(catalog: Catalog, image_id: int, cache_dir: Any) -> tuple[int, QImage, str]:
    """Worker thread: one image for the hover card, and its caption."""
    from core.catalog import browse, predictions
    from workbench.views.detail import catalog_preview

    path = predictions.image_paths(catalog, [image_id])[0][0]
    labels = browse.labels_of(catalog, [image_id]).get(image_id, ())
    caption = f"image {image_id}: {', '.join(labels) or 'unlabeled'}"
    return image_id, catalog_preview(catalog, image_id, path, cache_dir, PREVIEW), caption


class LassoBox(pg.ViewBox):
    """A view box that, in lasso mode, turns a drag into a polygon instead of a pan."""

    lassoed = Signal(object)  # N x 2 vertices in data coordinates

    def __init__(self) -> None:
        super().__init__()
        self.lasso = False
        self._path: list[QPointF] = []
        self._outline = pg.QtWidgets.QGraphicsPathItem()
        self._outline.setPen(pg.mkPen((220, 40, 40), width=2))
        self._outline.setZValue(1000)
        self.addItem(self._outline, ignoreBounds=True)

    def mouseDragEvent(self, ev: Any, axis: Any = None) -> None:
        if not self.lasso or ev.button() != Qt.MouseButton.LeftButton:
            super().mouseDragEvent(ev, axis)
            return
        ev.accept()
        self._path.append(self.mapToView(ev.pos()))
        path = QPainterPath(self._path[0])
        for point in self._path[1:]:
            path.lineTo(point)
        self._outline.setPath(path)
        if ev.isFinish():
            vertices = np.array([(p.x(), p.y()) for p in self._path], dtype=np.float64)
            self._path = []
            self._outline.setPath(QPainterPath())
            self.lassoed.emit(vertices)


class MapView(QWidget):
    status = Signal(str)

    def __init__(self, workspace: Workspace) -> None:
        super().__init__()
        self.workspace = workspace
        self.state: CatalogState | None = None
        self.made: CatalogMap | None = None
        self.colouring: Colouring | None = None
        self.rgb = np.zeros((0, 3), np.uint8)
        self.rank = np.zeros(0, dtype=np.int64)  # when each point is drawn (the colouring's order)
        self.shown_rows = np.zeros(0, dtype=np.int64)  # the points drawn one by one
        self.selected = np.zeros(0, dtype=np.int64)  # Browse's selection, as rows
        self.runner = JobRunner(self)
        self.runner.running_changed.connect(workspace.busy)
        self.runner.failed.connect(lambda message: plain.warn(self, "Map", message))
        self._stored, self._colours, self._view_job = Latest(self), Latest(self), Latest(self)
        self._hover_job, self._selection_job, self._lasso_job = Latest(self), Latest(self), Latest(self)
        self._build()
        self.status.connect(workspace.status)
        workspace.when_open(self._attach)
        workspace.browseSelection.connect(self._browse_selection)

    def _build(self) -> None:
        self.colour_box = QComboBox()
        for key, text in FIELDS:
            self.colour_box.addItem(f"Colour by {text}", key)
        self.colour_box.currentIndexChanged.connect(self._recolour)
        self.compute_button = QPushButton("Compute the map")
        self.compute_button.clicked.connect(self.compute)
        self.lasso_button = QPushButton("Lasso (L)", checkable=True)
        self.lasso_button.setToolTip("Draw around points to show them in Browse")
        self.lasso_button.toggled.connect(self._lasso_mode)
        self.lasso_button.setShortcut(QKeySequence("L"))
        self.summary = plain.label(wordWrap=True)
        self.legend = plain.label(wordWrap=True)
        self.swatches = QListWidget(
            flow=QListView.Flow.LeftToRight, wrapping=True, resizeMode=QListView.ResizeMode.Adjust
        )
        self.swatches.setSelectionMode(QListView.SelectionMode.NoSelection)
        self.swatches.setMaximumHeight(52)
        self.box = LassoBox()
        self.box.lassoed.connect(self._lassoed)
        self.plot = pg.PlotWidget(viewBox=self.box)
        self.plot.hideAxis("left")
        self.plot.hideAxis("bottom")
        self.plot.setAspectLocked(True)
        self.density = pg.ImageItem()
        self.plot.addItem(self.density)
        self.scatters: list[Any] = []
        self.rings = pg.ScatterPlotItem(size=11, pen=pg.mkPen((220, 40, 40), width=2), brush=None, pxMode=True)
        self.rings.setZValue(900)
        self.plot.addItem(self.rings)
        self.card = QFrame(self.plot)  # the hovered image and its caption
        self.card.setFrameShape(QFrame.Shape.Box)
        self.card.setAutoFillBackground(True)
        self.card.setVisible(False)
        self.card_image, self.card_text = QLabel(), plain.label()
        card = QVBoxLayout(self.card)
        card.setContentsMargins(4, 4, 4, 4)
        card.addWidget(self.card_image)
        card.addWidget(self.card_text)
        self._view_timer = QTimer(self, singleShot=True, interval=80)
        self._view_timer.timeout.connect(self._view_changed)
        self.box.sigRangeChanged.connect(lambda *_: self._view_timer.start())
        self.plot.scene().sigMouseMoved.connect(self._hover)
        self.plot.scene().sigMouseClicked.connect(self._clicked)
        header = QHBoxLayout()
        for widget in (self.colour_box, self.compute_button, self.lasso_button):
            header.addWidget(widget)
        header.addWidget(self.summary, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.swatches)
        layout.addWidget(self.legend)

    # -- the catalog and its map -----------------------------------------------------------------------------

    def _attach(self) -> None:
        self.state = state = self.workspace.state
        assert state is not None
        self.show_map(None)
        state.changed.connect(self._attribute_changed)
        self._read_stored()

    def _attribute(self) -> str | None:
        attribute = self.state.attribute if self.state else None
        return attribute.name if attribute is not None else None

    def _attribute_changed(self) -> None:
        if self.made is not None:
            self._recolour()

    def _read_stored(self) -> None:
        if self.workspace.location is None:
            return
        self.summary.setText("Looking for the map kept beside the feature store…")
        self._stored.run(
            stored_map, self.workspace.location, self._attribute(), on_return=self._stored_arrived,
            on_error=lambda exc: self.summary.setText(f"No map yet ({exc}). Compute the map to draw one."),
        )  # fmt: skip

    def _stored_arrived(self, made: CatalogMap | None) -> None:
        if made is None:
            self.summary.setText("No map of this catalog yet: Compute the map (its features first, where missing).")
            return
        self.show_map(made)

    def compute(self) -> None:
        if self.workspace.location is not None:
            self.runner.start("Computing the map of the catalog", map_job, self.workspace.location, self._attribute(),
                              on_result=self._computed)  # fmt: skip

    def _computed(self, made: CatalogMap) -> None:
        if made.cancelled:
            self.status.emit("The map was cancelled (the features computed so far are kept)")
            return
        self.show_map(made)

    def show_map(self, made: CatalogMap | None) -> None:
        self.made, self.colouring, self.shown_rows = made, None, np.zeros(0, dtype=np.int64)
        self.density.clear()
        self._set_points(np.zeros(0, dtype=np.int64))
        self.rings.setData([], [])
        if made is None:
            self.summary.setText("")
            self.legend.setText("")
            return
        how = "kept beside the feature store" if made.reused else f"computed in {made.seconds:.0f} s"
        self.summary.setText(f"{len(made.image_ids):,} images ({made.method}; {made.features}; {how})")
        extent = Extent.of(made.points)
        self.box.setRange(QRectF(extent.left, extent.bottom, extent.width, extent.height), padding=0.02)
        self._recolour()

    # -- colours -------------------------------------------------------------------------------------------------

    def _recolour(self) -> None:
        if self.made is None or self.state is None:
            return
        field = self.colour_box.currentData()
        self.legend.setText("colouring…")
        self._colours.run(
            _colours, self.state.catalog, self.made, field, self._attribute(), self._pixels(), on_return=self._coloured,
            on_error=lambda exc: self.legend.setText(str(exc)),
        )  # fmt: skip

    def _pixels(self) -> int:
        """The density image's size: one of its pixels a screen pixel when the whole map is in view."""
        return int(min(self.plot.width(), self.plot.height(), DENSITY_PIXELS) * self.devicePixelRatioF())

    def _coloured(self, result: tuple[Colouring, np.ndarray, np.ndarray, np.ndarray | None]) -> None:
        if self.made is None:
            return
        self.colouring, self.rgb, self.rank, image = result
        if image is not None:
            extent = Extent.of(self.made.points)
            self.density.setImage(np.transpose(image, (1, 0, 2)), autoLevels=False, levels=(0, 255))
            self.density.setRect(QRectF(extent.left, extent.bottom, extent.width, extent.height))
        else:
            self.density.clear()
        self.legend.setText(self._legend_text())
        self._fill_legend()
        self.shown_rows = np.zeros(0, dtype=np.int64)
        self._view_changed()

    def _legend_text(self) -> str:
        colouring = self.colouring
        if colouring is None:
            return ""
        note = f" ({colouring.note})" if colouring.note else ""
        return f"{self.colour_box.currentText()}{note}; the tail is drawn on top."

    def _fill_legend(self) -> None:
        """One swatch and plain-text name per colour (a shared catalog's names are never rich text)."""
        from core.curation.map_image import HIGH, LOW, NONE, PALETTE

        self.swatches.clear()
        colouring = self.colouring
        if colouring is None:
            return
        entries = [(name, PALETTE[i % len(PALETTE)]) for i, name in enumerate(colouring.categories)]
        if not colouring.categories:
            entries = [("low confidence", tuple(LOW)), ("high confidence", tuple(HIGH))]
        for name, colour in [*entries, ("none", NONE)]:
            swatch = QPixmap(12, 12)
            swatch.fill(QColor(*(int(c) for c in colour)))
            self.swatches.addItem(QListWidgetItem(QIcon(swatch), name))

    # -- what the view shows ---------------------------------------------------------------------------------------

    def _view_changed(self) -> None:
        if self.made is None or self.colouring is None:
            return
        (left, right), (bottom, top) = self.box.viewRange()
        self._view_job.run(in_view, self.made.points, left, right, bottom, top, on_return=self._visible)

    def _visible(self, rows: np.ndarray) -> None:
        if self.made is None or self.colouring is None:
            return
        small = len(rows) <= MAX_POINTS
        self.density.setVisible(not small or len(self.made.points) <= MAX_POINTS)
        self._set_points(rows if small else np.zeros(0, dtype=np.int64))

    def _set_points(self, rows: np.ndarray) -> None:
        """Draw these points one by one, a scatter item per colour, in drawing order (the tail on top)."""
        for item in self.scatters:
            self.plot.removeItem(item)
        self.scatters = []
        self.shown_rows = rows
        if rows.size == 0 or self.made is None or self.colouring is None:
            return
        rank = self.rank
        rows = rows[np.argsort(rank[rows], kind="stable")]
        keys = self.rgb[rows].astype(np.int64) @ np.array([65536, 256, 1])
        _, first = np.unique(keys, return_index=True)
        for start in sorted(first.tolist(), key=lambda at: rank[rows[at]]):
            members = rows[keys == keys[start]]
            colour = tuple(int(c) for c in self.rgb[members[0]])
            item = pg.ScatterPlotItem(self.made.points[members, 0], self.made.points[members, 1], size=5,
                                      pen=None, brush=pg.mkBrush(*colour), pxMode=True)  # fmt: skip
            self.plot.addItem(item)
            self.scatters.append(item)

    # -- hover, click, lasso, Browse's selection -----------------------------------------------------------------

    def _at(self, scene_position: QPointF) -> int | None:
        """The row of the drawn point under the cursor."""
        if self.made is None or self.shown_rows.size == 0 or not self.box.sceneBoundingRect().contains(scene_position):
            return None
        point = self.box.mapSceneToView(scene_position)
        pixel = self.box.viewPixelSize()
        return nearest(self.made.points, self.shown_rows, point.x(), point.y(), HOVER * max(pixel))

    def _hover(self, scene_position: QPointF) -> None:
        row = None if self.box.lasso else self._at(scene_position)
        if row is None or self.made is None or self.state is None:
            self.card.setVisible(False)
            return
        at = self.plot.mapFromScene(scene_position)
        self.card.move(min(at.x() + 14, max(0, self.plot.width() - PREVIEW - 20)), max(0, at.y() - PREVIEW - 30))
        self._hover_job.run(_preview, self.state.catalog, int(self.made.image_ids[row]), self.workspace.cache_dir,
                            on_return=self._card)  # fmt: skip

    def _card(self, result: tuple[int, QImage, str]) -> None:
        _image_id, image, caption = result
        picture = QPixmap.fromImage(image)
        if not picture.isNull() and max(picture.width(), picture.height()) < PREVIEW:  # small photos, enlarged
            picture = picture.scaled(PREVIEW, PREVIEW, Qt.AspectRatioMode.KeepAspectRatio,
                                     Qt.TransformationMode.SmoothTransformation)  # fmt: skip
        self.card_image.setPixmap(picture)
        self.card_text.setText(caption)
        self.card.adjustSize()
        self.card.setVisible(True)

    def _clicked(self, event: Any) -> None:
        row = None if self.box.lasso else self._at(event.scenePos())
        if row is not None and self.made is not None:
            image_id = int(self.made.image_ids[row])
            self.workspace.request(BrowseImages((image_id,), f"Image {image_id} from the map", select=True))

    def _lasso_mode(self, on: bool) -> None:
        self.box.lasso = on
        self.card.setVisible(False)

    def _lassoed(self, polygon: np.ndarray) -> None:
        if self.made is not None:
            self._lasso_job.run(in_polygon, self.made.points, polygon, on_return=self._lasso_rows)

    def _lasso_rows(self, rows: np.ndarray) -> None:
        if self.made is None:
            return
        self.lasso_button.setChecked(False)
        if rows.size == 0:
            self.status.emit("The lasso holds no image")
            return
        ids = tuple(int(i) for i in self.made.image_ids[np.sort(rows)])
        self.workspace.request(BrowseImages(ids, f"{len(ids):,} image{'s' if len(ids) != 1 else ''} from the map"))

    def _browse_selection(self, image_ids: tuple[int, ...]) -> None:
        if self.made is not None:
            self._selection_job.run(_rows_of, self.made.image_ids, image_ids, on_return=self._ring)

    def _ring(self, rows: np.ndarray) -> None:
        if self.made is not None:
            self.selected = rows
            points = self.made.points[rows]
            self.rings.setData(points[:, 0], points[:, 1])
