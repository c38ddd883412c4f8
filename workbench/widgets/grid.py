"""The virtualised thumbnail grid: a list model over an id array, a painting delegate and the view.

The model holds the filtered ids in display order (``array('q')``, 8 bytes an image) and reads the rows around
what the view paints a page at a time, in a worker, keeping a bounded number of pages. Nothing here creates a
widget per image; a row that is not loaded yet is painted as a placeholder.
"""

from __future__ import annotations

import os
from array import array
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import (
    QAbstractListModel,
    QEvent,
    QModelIndex,
    QPersistentModelIndex,
    QPoint,
    QRect,
    QSize,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QColor, QFont, QFontMetrics, QImage, QKeyEvent, QMouseEvent, QPainter, QPaintEvent, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QListView,
    QRubberBand,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionRubberBand,
    QStyleOptionViewItem,
    QWidget,
)

from core.catalog.records import ImageRow
from workbench.widgets import plain
from workbench.workers.tasks import run_function
from workbench.workers.thumbnails import ThumbnailLoader

if TYPE_CHECKING:
    from core.catalog.store import Catalog

PAGE = 200
MAX_PAGES = 30
IdRole = Qt.ItemDataRole.UserRole + 1
RowRole = Qt.ItemDataRole.UserRole + 2
LINE_HEIGHT = 15  # pixels a further caption line adds to a cell
CellRole = Qt.ItemDataRole.UserRole + 3  # (thumbnail or None, caption): what the delegate paints


def _image_rows(
    catalog: Catalog, ids: list[int], attribute_id: int | None, prediction_run: int | None
) -> list[ImageRow]:
    """Worker thread: a page of rows (the query module is imported there, not before the first paint)."""
    from core.catalog.browse import image_rows

    return image_rows(catalog, ids, attribute_id, prediction_run)


def prediction_text(info: ImageRow) -> str:
    """ "red ✓ 93%" (the prediction agrees), "red → green 93%" (it does not), "→ green 93%" (unlabeled)."""
    if info.predicted is None or info.confidence is None:
        return ""
    confidence = f"{100 * info.confidence:.0f}%"
    if info.predicted in info.labels:
        return f"{', '.join(info.labels)} ✓ {confidence}"
    return f"{', '.join(info.labels)} → {info.predicted} {confidence}".lstrip()


SETTLE_MS = 120  # a view that has not scrolled for this long loads the thumbnails it shows


class ImageGridModel(QAbstractListModel):
    """Rows are images; ``data`` never touches the database (pages arrive from a worker)."""

    pageLoaded = Signal(int)

    def __init__(self, thumbs: ThumbnailLoader, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.thumbs = thumbs
        self.loading = True  # False while a view scrolls fast: cells shown for a moment ask for no thumbnail
        self.catalog: Catalog | None = None
        self.attribute_id: int | None = None
        self.prediction_run: int | None = None  # captions show this run's stored predictions
        self._ids = array("q")
        self.captions: dict[int, str] | None = None
        self.prefixes: dict[int, str] = {}
        self._pages: OrderedDict[int, list[ImageRow | None]] = OrderedDict()
        self._requested: dict[int, int] = {}  # page -> token of the newest request for it
        self._token = 0
        self._row_of: dict[int, int] = {}  # image id -> row, for loaded pages only
        self._inflight: dict[int, int] = {}  # page -> token of the query running for it
        self._again: set[int] = set()  # pages to read once more when their running query ends
        self._dirty: set[int] = set()
        self._flush = QTimer(self, interval=40, singleShot=True)
        self._flush.timeout.connect(self._emit_dirty)
        thumbs.ready.connect(self._thumbnails_ready)

    # -- contents ------------------------------------------------------------------------------------------

    def set_ids(
        self,
        catalog: Catalog,
        ids: array,
        attribute_id: int | None,
        captions: dict[int, str] | None = None,
        prediction_run: int | None = None,
        prefixes: dict[int, str] | None = None,
    ) -> None:
        """Show ``ids`` in this order; ``captions`` (image id -> text) replace the labels under the cells,
        ``prefixes`` go before them (a similar image's distance); ``prediction_run``: show that run's predictions
        with the labels."""
        self.beginResetModel()
        self.captions = captions
        self.prefixes = prefixes or {}
        self.prediction_run = prediction_run
        self.catalog = catalog
        self.attribute_id = attribute_id
        self._ids = ids
        self._pages.clear()
        self._requested.clear()
        self._row_of.clear()
        self._inflight.clear()
        self._again.clear()
        self.endResetModel()

    def reload_rows(self, image_ids: Iterable[int] | None = None) -> None:
        """Read loaded pages again (labels changed); ``image_ids`` limits it to the pages holding them."""
        pages = (
            set(self._pages) if image_ids is None else {self._row_of[i] // PAGE for i in image_ids if i in self._row_of}
        )
        for page in pages:
            if page in self._inflight:  # coalesce: one more read after the running one, however many edits
                self._again.add(page)
                continue
            self._requested.pop(page, None)
            self._request(page)

    def all_ids(self) -> list[int]:
        """The ids shown, in order."""
        return self._ids.tolist()

    def image_id(self, row: int) -> int:
        return self._ids[row]

    def row_info(self, row: int) -> ImageRow | None:
        page = self._pages.get(row // PAGE)
        return page[row % PAGE] if page is not None else None

    def seen_labels(self, image_ids: Iterable[int]) -> dict[int, tuple[str, ...]]:
        """The labels (of ``attribute_id``) shown for those of ``image_ids`` whose rows are loaded."""
        seen = {}
        for image_id in image_ids:
            row = self._row_of.get(image_id)
            info = self.row_info(row) if row is not None else None
            if info is not None and info.id == image_id:
                seen[image_id] = info.labels
        return seen

    def caption(self, info: ImageRow) -> str:
        return self.prefixes.get(info.id, "") + self._caption(info)

    def _caption(self, info: ImageRow) -> str:
        if self.captions is not None and info.id in self.captions:
            return self.captions[info.id]
        if info.predicted is not None:
            return prediction_text(info)
        if info.labels:
            return ", ".join(info.labels)
        folder = os.path.basename(os.path.dirname(info.path))  # unlabeled: where it came from tells most
        return f"{folder}/{os.path.basename(info.path)}" if folder else os.path.basename(info.path)

    def set_captions(self, captions: dict[int, str]) -> None:
        """Replace some cells' captions (image id -> text) and repaint them."""
        if self.captions is None:
            self.captions = {}
        self.captions.update(captions)
        rows = [self._row_of[i] for i in captions if i in self._row_of]
        if rows:
            self.dataChanged.emit(self.index(min(rows)), self.index(max(rows)))

    def loaded_pages(self) -> int:
        return len(self._pages)

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._ids)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = index.row()
        if role == IdRole:
            return self._ids[row]
        page_no = row // PAGE
        page = self._pages.get(page_no)
        if page is None:
            self._request(page_no)
            return None
        self._pages.move_to_end(page_no)
        info = page[row % PAGE]
        if info is None:
            return None
        if role == CellRole:
            return self._thumbnail(info), self.caption(info)
        if role == RowRole:
            return info
        if role == Qt.ItemDataRole.DisplayRole:
            return self.caption(info)
        if role == Qt.ItemDataRole.DecorationRole:
            return self._thumbnail(info)
        if role == Qt.ItemDataRole.ToolTipRole:
            labels = ", ".join(info.labels) or "no label"
            failure = self.thumbs.failure(info.path, info.content_hash)
            extra = f"\n{failure}" if failure else ""
            split = info.split or "no split"
            caption = f"{self.captions[info.id]}\n" if self.captions is not None and info.id in self.captions else ""
            if info.predicted is not None and info.confidence is not None:
                extra += f"\nrun {self.prediction_run} predicts {info.predicted} ({100 * info.confidence:.1f}%)"
            return plain.tooltip(f"{caption}{info.path}\n{info.width} x {info.height} · {split} · {labels}{extra}")
        return None

    def _thumbnail(self, info: ImageRow) -> QImage | None:
        if self.loading:
            return self.thumbs.get(info.id, info.path, info.content_hash)
        return self.thumbs.cached(info.path, info.content_hash)

    # -- paging --------------------------------------------------------------------------------------------

    def _request(self, page_no: int) -> None:
        if page_no in self._requested or self.catalog is None:
            return
        self._token += 1
        token = self._requested[page_no] = self._token
        ids = self._ids[page_no * PAGE : (page_no + 1) * PAGE].tolist()

        def failed(exc: BaseException) -> None:
            if self._requested.get(page_no) == token:
                del self._requested[page_no]

        def finished() -> None:
            if self._inflight.get(page_no) != token:
                return  # the model was reset meanwhile
            del self._inflight[page_no]
            if page_no in self._again:
                self._again.discard(page_no)
                self._requested.pop(page_no, None)
                self._request(page_no)

        self._inflight[page_no] = token
        run_function(
            _image_rows,
            self.catalog,
            ids,
            self.attribute_id,
            self.prediction_run,
            on_return=lambda rows: self._page_arrived(token, page_no, ids, rows),
            on_error=failed,
            on_finish=finished,
            owner=self,
        )

    def _page_arrived(self, token: int, page_no: int, ids: list[int], rows: list[ImageRow]) -> None:
        if self._requested.get(page_no) != token:
            return  # a newer request for this page is on its way, or the model was reset (tokens never repeat)
        by_id = {r.id: r for r in rows}
        page = [by_id.get(i) for i in ids]
        old = self._pages.pop(page_no, None)
        if old is not None:
            for info in old:
                if info is not None:
                    self._row_of.pop(info.id, None)
        self._pages[page_no] = page
        for offset, image_id in enumerate(ids):
            self._row_of[image_id] = page_no * PAGE + offset
        while len(self._pages) > MAX_PAGES:
            dropped_no, dropped = self._pages.popitem(last=False)
            self._requested.pop(dropped_no, None)
            for info in dropped:
                if info is not None:
                    self._row_of.pop(info.id, None)
        first, last = page_no * PAGE, page_no * PAGE + len(ids) - 1
        self.dataChanged.emit(self.index(first), self.index(last))
        self.pageLoaded.emit(page_no)

    def _thumbnails_ready(self, image_ids: list[int]) -> None:
        rows = {row for image_id in image_ids if (row := self._row_of.get(image_id)) is not None}
        if rows:
            self._dirty |= rows
            if not self._flush.isActive():
                self._flush.start()

    def _emit_dirty(self) -> None:
        if self._dirty:
            rows, self._dirty = self._dirty, set()
            self.dataChanged.emit(self.index(min(rows)), self.index(max(rows)), [Qt.ItemDataRole.DecorationRole])


class ThumbnailDelegate(QStyledItemDelegate):
    """Paints a cell: the thumbnail fitted in a square (placeholder until loaded), the labels below it.

    Painting is the grid's hot path (every newly exposed cell while scrolling), so a cell is two image blits in
    the backing store's opaque format: the thumbnail (or a pre-rendered placeholder) and a pre-rendered strip of
    its caption, cached by text. The caches follow the palette (:meth:`clear`).
    """

    STRIPS = 4096

    def __init__(self, cell: int = 112, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.cell = cell
        self.caption_lines = 1  # a caption's lines ("\n"); one line is elided in the middle, more at each end
        self._font: QFont | None = None
        self._placeholders: dict[bool, QImage] = {}  # selected -> placeholder on that background
        self._strips: OrderedDict[tuple[str, bool], QImage] = OrderedDict()
        self._cells: OrderedDict[tuple[str, str, int], QImage] = OrderedDict()  # cells waiting for a thumbnail

    def clear(self) -> None:
        self._placeholders.clear()
        self._strips.clear()
        self._cells.clear()

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:
        return QSize(self.cell + 12, self.cell + 30 + LINE_HEIGHT * (self.caption_lines - 1))

    def paint(
        self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> None:
        rect = option.rect
        left, top, width = rect.left() + 3, rect.top() + 3, rect.width() - 6
        cell = self.cell
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        image, text = index.data(CellRole) or (None, "")
        if selected:
            painter.save()
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(option.palette.color(QPalette.ColorRole.Highlight))
            painter.drawRoundedRect(QRect(left, top, width, rect.height() - 6), 6, 6)
            painter.restore()
        square_left, square_top = left + (width - cell) // 2, top + 4
        if image is None and not selected:  # a cell scrolled past (no thumbnail asked for): one blit, cached
            painter.drawImage(QPoint(left, top), self._waiting_cell(text, option, width))
            return
        if image is None:
            image = self._placeholders.get(selected)
            if image is None:
                image = self._placeholders[selected] = self._placeholder_image(
                    option.palette, QPalette.ColorRole.Highlight if selected else QPalette.ColorRole.Base
                )
        iw, ih = image.width(), image.height()
        if iw <= cell and ih <= cell:  # delivered at cell size: a plain copy
            painter.drawImage(QPoint(square_left + (cell - iw) // 2, square_top + (cell - ih) // 2), image)
        else:
            target = QRect(QPoint(0, 0), image.size().scaled(cell, cell, Qt.AspectRatioMode.KeepAspectRatio))
            target.moveCenter(QRect(square_left, square_top, cell, cell).center())
            painter.drawImage(target, image)
        if text:
            painter.drawImage(QPoint(left + 6, square_top + cell + 3), self._strip(text, selected, option, width - 12))

    def _waiting_cell(self, text: str, option: QStyleOptionViewItem, width: int) -> QImage:
        """A cell without its thumbnail (placeholder and caption) as one image: a fling paints one blit per cell,
        each of which may wait for the GIL while a run trains."""
        key = ("\0waiting", text, width)
        cell = self._cells.get(key)
        if cell is not None:
            self._cells.move_to_end(key)
            return cell
        strip = self._strip(text, False, option, width - 12) if text else None
        placeholder = self._placeholders.get(False)
        if placeholder is None:
            placeholder = self._placeholders[False] = self._placeholder_image(option.palette, QPalette.ColorRole.Base)
        height = 4 + self.cell + 3 + (strip.height() if strip is not None else 0)
        cell = QImage(width, height, QImage.Format.Format_RGB32)
        cell.fill(option.palette.color(QPalette.ColorRole.Base))
        painter = QPainter(cell)
        painter.drawImage(QPoint((width - self.cell) // 2, 4), placeholder)
        if strip is not None:
            painter.drawImage(QPoint(6, 4 + self.cell + 3), strip)
        painter.end()
        self._cells[key] = cell
        while len(self._cells) > self.STRIPS:
            self._cells.popitem(last=False)
        return cell

    def _placeholder_image(self, palette: QPalette, background: QPalette.ColorRole) -> QImage:
        image = QImage(self.cell, self.cell, QImage.Format.Format_RGB32)
        image.fill(palette.color(background))
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setPen(Qt.PenStyle.NoPen)
        colour = palette.color(QPalette.ColorRole.Mid)
        colour.setAlpha(60)
        painter.setBrush(colour)
        painter.drawRoundedRect(QRect(8, 8, self.cell - 16, self.cell - 16), 4, 4)
        painter.end()
        return image

    def _strip(self, text: str, selected: bool, option: QStyleOptionViewItem, width: int) -> QImage:
        key = (text, selected)
        strip = self._strips.get(key)
        if strip is not None and strip.width() == width:
            self._strips.move_to_end(key)
            return strip
        if self._font is None:
            self._font = QFont(option.font)
            self._font.setPointSizeF(max(7.0, self._font.pointSizeF() * 0.9))
        palette = option.palette
        metrics = QFontMetrics(self._font)
        lines = text.split("\n")[: self.caption_lines]
        # one line: elided in the middle, both ends stay (a score at the end); several: each cut at its end, so a
        # label keeps its first letters ("74% t-shirt_t…" over "← ankle_boot", never "74% t-s…le_boot")
        mode = Qt.TextElideMode.ElideMiddle if len(lines) == 1 else Qt.TextElideMode.ElideRight
        step = min(metrics.height(), LINE_HEIGHT)
        strip = QImage(max(1, width), step * len(lines) + 2, QImage.Format.Format_RGB32)
        strip.fill(palette.color(QPalette.ColorRole.Highlight if selected else QPalette.ColorRole.Base))
        painter = QPainter(strip)
        painter.setFont(self._font)
        painter.setPen(palette.color(QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text))
        for n, line in enumerate(lines):
            painter.drawText(
                QRect(0, n * step, strip.width(), step + 2),
                Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop,
                metrics.elidedText(line, mode, width),
            )
        painter.end()
        self._strips[key] = strip
        while len(self._strips) > self.STRIPS:
            self._strips.popitem(last=False)
        return strip


class ImageGridView(QListView):
    """Icon-mode list with multi-selection; digits 1-9 and 0 are offered to the annotation panel."""

    digitPressed = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setMovement(QListView.Movement.Static)
        # Qt lays out every row of a new id list (half a second for 60,000 images): in batches between events, so
        # the first rows paint (and their page is read) at once and the window stays responsive meanwhile.
        self.setLayoutMode(QListView.LayoutMode.Batched)
        self.setBatchSize(2000)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setUniformItemSizes(True)
        self.setWrapping(True)
        self.setSpacing(2)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setSelectionRectVisible(True)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setDragEnabled(False)
        self.delegate = ThumbnailDelegate(parent=self)
        self.setItemDelegate(self.delegate)
        self.verticalScrollBar().setSingleStep(40)
        # Scrolling fast (a fling, page after page), a cell is on screen for a few frames: decoding its thumbnail
        # then (0.4 ms of the GIL each, a thousand a second) stalled painting the next ones by 30-60 ms. Cells ask
        # for thumbnails once the view has stayed put for SETTLE_MS; those already cached are shown at once.
        self._band_start: QPoint | None = None  # the selection rectangle being dragged (content coordinates)
        self._band: QRect | None = None
        self._settled = QTimer(self, singleShot=True, interval=SETTLE_MS)
        self._settled.timeout.connect(self._resume_thumbnails)
        self.verticalScrollBar().valueChanged.connect(self._scrolling)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        background = self.palette().color(QPalette.ColorRole.Base)
        self.setStyleSheet(f"QListView {{ background: {QColor(background).name()}; }}")

    def _scrolling(self, _value: int) -> None:
        model = self.model()
        if isinstance(model, ImageGridModel):
            model.loading = False
            self._settled.start()

    def _resume_thumbnails(self) -> None:
        model = self.model()
        if isinstance(model, ImageGridModel):
            model.loading = True
            self.viewport().update()  # the cells on screen ask for their thumbnails

    # -- painting: every visible cell in one Python call ------------------------------------------------

    def paintEvent(self, event: QPaintEvent) -> None:
        """Paint the exposed cells here rather than letting QListView call the delegate once per cell: each call
        from C++ into Python takes the GIL anew, and while a run trains (its thread holding the GIL between torch
        operations) every such hand-over waited up to a switch interval: 40 cells stalled a frame by 80 ms."""
        model = self.model()
        if not isinstance(model, ImageGridModel) or model.rowCount() == 0:
            return
        area = event.rect()
        painter = QPainter(self.viewport())
        option = QStyleOptionViewItem()
        self.initViewItemOption(option)
        base, selection = option.state, self.selectionModel()
        for row in self._rows_in(model, area):
            index = model.index(row)
            rect = self.visualRect(index)
            if not rect.isValid() or not rect.intersects(area):
                continue
            option.rect = rect
            selected = selection.isSelected(index)
            option.state = (
                base | QStyle.StateFlag.State_Selected if selected else base & ~QStyle.StateFlag.State_Selected
            )
            self.delegate.paint(painter, option, index)
        if self._band is not None:
            band = QStyleOptionRubberBand()
            band.initFrom(self.viewport())
            band.rect = self._band.translated(0, -self.verticalOffset()).normalized()
            band.shape = QRubberBand.Shape.Rectangle
            band.opaque = False
            self.style().drawControl(QStyle.ControlElement.CE_RubberBand, band, painter, self)
        painter.end()

    def _rows_in(self, model: ImageGridModel, area: QRect) -> range:
        """The rows whose cells can meet ``area`` (viewport coordinates): cells are laid out in a uniform grid."""
        count = model.rowCount()
        first = self.visualRect(model.index(0))
        if not first.isValid():
            return range(0)
        columns = 1
        while columns < count and self.visualRect(model.index(columns)).top() == first.top():
            columns += 1
        below = self.visualRect(model.index(columns)) if columns < count else QRect()
        pitch = max(1, below.top() - first.top() if below.isValid() else first.height())
        top_line = max(0, (area.top() - first.top()) // pitch)
        bottom_line = max(0, (area.bottom() - first.top()) // pitch)
        return range(top_line * columns, min(count, (bottom_line + 1) * columns))

    def mousePressEvent(self, event: QMouseEvent) -> None:
        super().mousePressEvent(event)
        on_cell = self.indexAt(event.position().toPoint()).isValid()
        start = event.position().toPoint() + QPoint(0, self.verticalOffset())
        self._band_start = start if event.button() == Qt.MouseButton.LeftButton and not on_cell else None

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        super().mouseMoveEvent(event)  # QListView selects what the band covers; it is drawn here (paintEvent)
        if self._band_start is not None and event.buttons() & Qt.MouseButton.LeftButton:
            self._band = QRect(self._band_start, event.position().toPoint() + QPoint(0, self.verticalOffset()))
            self.viewport().update()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        super().mouseReleaseEvent(event)
        if self._band is not None:
            self.viewport().update()
        self._band_start = self._band = None

    def dataChanged(
        self,
        top_left: QModelIndex | QPersistentModelIndex,
        bottom_right: QModelIndex | QPersistentModelIndex,
        roles: Sequence[int] = (),
    ) -> None:
        # QListView's icon mode asks the delegate (Python) for the size of every changed row on each dataChanged:
        # up to 17 ms for a batch of thumbnails. Every cell has the same size here, so repainting is all it needs.
        QAbstractItemView.dataChanged(self, top_left, bottom_right, roles)

    def changeEvent(self, event: QEvent) -> None:
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.FontChange, QEvent.Type.StyleChange):
            self.delegate.clear()  # pre-rendered placeholders and captions use the old colours
        super().changeEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if Qt.Key.Key_0 <= key <= Qt.Key.Key_9 and not (event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier):
            self.digitPressed.emit(key - Qt.Key.Key_0)
            event.accept()
            return
        super().keyPressEvent(event)

    def selected_rows(self) -> list[int]:
        """Selected rows from the selection's ranges (no index object per row: Ctrl+A on 60,000 is instant)."""
        rows: set[int] = set()
        for span in self.selectionModel().selection().toList():
            rows.update(range(span.top(), span.bottom() + 1))
        return sorted(rows)

    def selected_ids(self) -> list[int]:
        model = self.model()
        assert isinstance(model, ImageGridModel)
        return [model.image_id(row) for row in self.selected_rows()]
