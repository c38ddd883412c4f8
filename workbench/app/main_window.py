"""The main window: a shell around the declared tabs (``workbench.app.tabs``). It owns the menus, the open catalog
(its state, undo stack and training queue, shared with the tabs through the workspace), imports, and closing while
a run trains; each tab owns its own jobs and asks for other tabs through the workspace's requests."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from PySide6.QtCore import QByteArray, QTimer
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent, QPaintEvent
from PySide6.QtWidgets import QComboBox, QMainWindow, QMenu, QStackedWidget, QWidget

from core.base.held_files import held_catalog_of
from workbench.app import menus
from workbench.app.imports import Imports
from workbench.app.resources import app_icon
from workbench.app.tabs import declared_tabs
from workbench.app.welcome import WelcomePage
from workbench.viewmodels import settings
from workbench.viewmodels.requests import Request, Show
from workbench.viewmodels.workspace import Workspace
from workbench.widgets import file_dialogs, plain
from workbench.widgets.lazy_tabs import LazyPage, LazyTabs
from workbench.workers.device_probe import DeviceProbe
from workbench.workers.tasks import run_function
from workbench.workers.thumbnails import ThumbnailLoader

if TYPE_CHECKING:
    from core.catalog.store import Catalog

# After Quit, a run that does not stop (a step stuck in native code, a catalog that cannot be written) keeps the
# process no longer than this; the window itself goes at once.
QUIT_DEADLINE_MS = 30_000
V = TypeVar("V", bound=QWidget)
CATALOG_FILTER = "Tailor catalogs (*.sqlite *.db *.tailor);;All files (*)"


def _open_and_recover(location: str, create: bool) -> Catalog:
    """Worker thread: open the catalog and mark runs whose process died as interrupted (opening never writes)."""
    from core.catalog.runs import recover_interrupted
    from core.catalog.store import Catalog

    catalog = Catalog(location, create=create)
    recover_interrupted(catalog)
    return catalog


class MainWindow(QMainWindow):
    def __init__(self, location: str | None = None) -> None:
        super().__init__()
        self.setWindowTitle("Tailor")
        self.setWindowIcon(app_icon())
        self.setAcceptDrops(True)
        self.resize(1280, 820)
        self.thumbs = ThumbnailLoader(settings.thumbnail_cache_dir(), parent=self)
        self.device_probe = DeviceProbe(self)  # started once the first page is in: see _opened
        self.workspace = ws = Workspace(self.thumbs, settings.thumbnail_cache_dir(), self.device_probe, self)
        ws.status.connect(self.status)
        ws.requested.connect(self._requested)
        ws.busy.connect(self._busy)
        ws.menuAction.connect(lambda title, action: menus.menu(self, title).addAction(action))
        self.imports = Imports(self, ws, self.start_folder, self.refresh)
        self.importer = self.imports.runner
        self._quit_when_idle = self._quit_anyway = False
        self._build_tabs()
        self.welcome = WelcomePage(self.open_dialog, self.new_dialog, self.open_catalog)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.welcome)
        self.stack.addWidget(self.tabs)
        self.setCentralWidget(self.stack)
        self.attribute = QComboBox(toolTip="The attribute you browse, annotate and see the long tail of")
        self.attribute.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.attribute.currentIndexChanged.connect(self._attribute_chosen)
        self.catalog_label = plain.label()
        self.statusBar().addPermanentWidget(self.catalog_label)
        slots = menus.Slots(new=self.new_dialog, open=self.open_dialog, fill_recent=self._fill_recent,
                            import_folder=self.imports.ask, import_manifest=self.imports.ask_manifest, undo=self.undo,
                            redo=self.redo, manage_labels=self.manage_labels, show_tab=self.show_tab,
                            refresh=self.refresh)  # fmt: skip
        self.menu_actions = menus.build(self, slots, self.declared, self.attribute)
        self._set_catalog_enabled(False)
        self._restore()
        self.welcome.set_recent(settings.recent_catalogs())
        # The catalog opens after the first paint (or 300 ms, for a window never shown): the window is on screen at
        # once and the catalog's modules (SQLAlchemy) and superqt load meanwhile.
        self._open_first: str | None = location
        if location:
            self.status(f"Opening {location}…")
            QTimer.singleShot(300, self._open_first_catalog)

    def _build_tabs(self) -> None:
        """Every declared tab, built (and its module imported) when first shown: the window paints first."""
        self.tabs = LazyTabs()
        self.declared = declared_tabs()
        self._pages: dict[str, LazyPage] = {
            d.key: self.tabs.add_lazy(functools.partial(d.build, self.workspace), d.tab.title) for d in self.declared
        }

    def _open_first_catalog(self) -> None:
        location, self._open_first = self._open_first, None
        if location:
            self.open_catalog(location)

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        if self._open_first:
            QTimer.singleShot(0, self._open_first_catalog)

    # -- tabs -----------------------------------------------------------------------------------------------

    def view(self, key: str) -> QWidget:
        """The view of the tab declared in ``workbench/tabs/<key>.py``, built if it was not yet."""
        return self._pages[key].view()

    def view_as(self, key: str, kind: type[V]) -> V:
        """:meth:`view`, checked to be a ``kind``."""
        view = self.view(key)
        assert isinstance(view, kind), f"the {key} tab is a {type(view).__name__}"
        return view

    def built(self, key: str) -> QWidget | None:
        """The tab's view when it has been built, else None."""
        page = self._pages[key]
        return page.view() if page.built else None

    def show_tab(self, key: str) -> None:
        self.tabs.setCurrentWidget(self.view(key))

    def _requested(self, request: Request) -> None:
        view = self.view(request.tab)
        self.tabs.setCurrentWidget(view)
        if not isinstance(request, Show):
            view.handle(request)  # type: ignore[attr-defined]

    # -- catalogs -------------------------------------------------------------------------------------------

    def _opener(self, location: str) -> Callable[[], None]:
        return lambda: self.open_catalog(location)  # takes no argument: QAction's checked never reaches create

    def _fill_recent(self, recent: QMenu) -> None:
        recent.clear()
        for item in settings.recent_catalogs():
            recent.addAction(item, self._opener(item))
        if recent.isEmpty():
            recent.addAction("(none yet)").setEnabled(False)

    def open_dialog(self) -> None:
        path = file_dialogs.open_file(self, "Open catalog", self.start_folder(), CATALOG_FILTER)
        if path:
            self.open_catalog(path)

    def new_dialog(self) -> None:
        start = os.path.join(self.start_folder(), "catalog.sqlite")
        path = file_dialogs.save_file(self, "New catalog", start, CATALOG_FILTER)
        if path:
            if os.path.exists(path):
                plain.warn(self, "New catalog", f"{path} already exists; open it instead.")
                return
            self.open_catalog(path, create=True)

    def open_catalog(self, location: str, create: bool = False) -> None:
        """Open (or create) a catalog in a worker; the tabs fill in when it is ready."""
        location = str(location)
        if self.workspace.queue is not None and self.workspace.queue.busy():
            self.status("A run is training on this catalog: cancel it (Train tab) before opening another catalog.")
            return
        self.status(f"Opening {location}…")
        run_function(
            _open_and_recover,
            location,
            create,
            on_return=lambda catalog: self._opened(location, catalog),
            on_error=lambda exc: self._open_failed(location, exc),
            owner=self,
        )

    def _open_failed(self, location: str, exc: Exception) -> None:
        self.status(f"Cannot open {location}")
        plain.warn(self, "Open catalog", str(exc))

    def _opened(self, location: str, catalog: Catalog) -> None:
        from workbench.viewmodels.catalog_state import CatalogState
        from workbench.viewmodels.editor import Editor
        from workbench.workers.training_queue import TrainingQueue

        self._close_catalog()
        editor = Editor(location, self)
        editor.failed.connect(lambda message: self.status(f"Edit not applied: {message}"))
        editor.edited.connect(self._edited)
        editor.stack.indexChanged.connect(self._undo_changed)
        state = CatalogState(catalog, self)
        state.changed.connect(self._state_changed)
        state.error.connect(self.status)
        queue = TrainingQueue(location, self)
        queue.idle.connect(self._training_idle)
        self.workspace.open(location, catalog, state, editor, queue)
        state.refresh()
        self.stack.setCurrentWidget(self.tabs)
        self.setWindowTitle(f"{Path(location).name} — Tailor" if "://" not in location else f"{location} — Tailor")
        self.welcome.set_recent(settings.add_recent(location))
        self._set_catalog_enabled(True)
        self.status(f"Opened {location}")
        # the device probe (a Python process importing torch) after the first page, before the Train tab is opened
        QTimer.singleShot(3000, self.device_probe.start)

    def _close_catalog(self) -> None:
        ws = self.workspace
        if ws.queue is not None:
            ws.queue.deleteLater()
        if ws.editor is not None:
            ws.editor.stack.indexChanged.disconnect(self._undo_changed)
            ws.editor.flush()
            ws.editor.close()
            ws.editor.deleteLater()
        if ws.state is not None:
            ws.state.deleteLater()
        ws.close()

    def refresh(self) -> None:
        """Read everything shown again (another person or process may have changed the catalog)."""
        if self.workspace.state is not None:
            self.workspace.state.refresh()
            if (browser := self.built("browser")) is not None:
                browser.apply_filter()  # type: ignore[attr-defined]
            self.workspace.runsChanged.emit()
            self.status("Catalog read again")

    def _state_changed(self) -> None:
        state = self.workspace.state
        if state is None:  # a closed catalog's state answered late
            return
        self.attribute.blockSignals(True)
        self.attribute.clear()
        for info in state.attributes:
            self.attribute.addItem(f"{info.name}  ({info.kind}, {info.labels} labels)", info.id)
        self.attribute.setCurrentIndex(max(self.attribute.findData(state.attribute_id), 0))
        self.attribute.blockSignals(False)
        attributes = len(state.attributes)
        run_function(
            state.catalog.image_count,
            on_return=lambda n: self.catalog_label.setText(
                f"{n:,} image{'s' if n != 1 else ''} · {attributes} attribute{'s' if attributes != 1 else ''}"
            ),
            owner=self,  # a window closed meanwhile: its label is gone
        )

    def _attribute_chosen(self, index: int) -> None:
        if self.workspace.state is not None and index >= 0:
            self.workspace.state.set_attribute(self.attribute.itemData(index))

    def _edited(self, edit) -> None:  # type: ignore[no-untyped-def]
        self.status(edit.sentence)
        if self.workspace.state is not None:
            self.workspace.state.refresh()

    def _set_catalog_enabled(self, enabled: bool) -> None:
        for action in self.menu_actions.need_catalog():
            action.setEnabled(enabled)
        self.attribute.setEnabled(enabled)
        if enabled and self.workspace.editor is not None:
            self._undo_changed()

    def _busy(self, running: bool) -> None:
        """While a long job runs (an import writes in one transaction; a job's progress dialog is not modal), the
        tabs and the catalog's actions wait."""
        self.tabs.setEnabled(not running)
        self._set_catalog_enabled(not running and self.workspace.catalog is not None)

    # -- undo -----------------------------------------------------------------------------------------------

    def undo(self) -> None:
        editor = self.workspace.editor
        if editor is not None and editor.stack.canUndo():
            self.status(f"Undo: {editor.stack.undoText()}")
            editor.stack.undo()

    def redo(self) -> None:
        editor = self.workspace.editor
        if editor is not None and editor.stack.canRedo():
            self.status(f"Redo: {editor.stack.redoText()}")
            editor.stack.redo()

    def _undo_changed(self, *_args: object) -> None:
        if self.workspace.editor is None:
            return
        stack = self.workspace.editor.stack
        undo, redo = stack.canUndo(), stack.canRedo()
        for action, tool, can, text, key in (
            (self.menu_actions.undo, self.menu_actions.undo_tool, undo, stack.undoText(), "Ctrl+Z"),
            (self.menu_actions.redo, self.menu_actions.redo_tool, redo, stack.redoText(), "Ctrl+Shift+Z"),
        ):
            word = "Undo" if action is self.menu_actions.undo else "Redo"
            action.setEnabled(can)
            action.setText(f"&{word} {text}" if can else f"&{word}")
            tool.setEnabled(can)
            tool.setToolTip(f"{word} {text} ({key})" if can else f"Nothing to {word.lower()}")

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        urls = event.mimeData().urls() if event.mimeData().hasUrls() else []
        if self.workspace.catalog is not None and urls and all(url.isLocalFile() for url in urls):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [url.toLocalFile() for url in event.mimeData().urls()]
        if paths and held_catalog_of(paths[0]) is not None:  # never read as a manifest (core.base.held_files)
            self.status(f"{paths[0]} is the catalog open in Tailor: drop an image folder or a manifest to import")
            return
        if paths:
            event.acceptProposedAction()
            QTimer.singleShot(0, lambda: self.imports.ask(paths[0]))

    # -- labels, status -----------------------------------------------------------------------------------

    def manage_labels(self) -> None:
        if self.workspace.catalog is not None and self.workspace.editor is not None:
            from workbench.dialogs.labels import LabelsDialog

            LabelsDialog(self.workspace.catalog, self.workspace.editor, self).exec()

    def status(self, message: str) -> None:
        self.statusBar().showMessage(message, 8000)

    def start_folder(self) -> str:
        """Where file dialogs start: the open catalog's folder (else the working folder)."""
        location = self.workspace.location
        if location and "://" not in location:
            return str(Path(location).expanduser().resolve().parent)
        return ""

    # -- closing --------------------------------------------------------------------------------------------

    def _restore(self) -> None:
        store = settings.settings()
        for key, restore in (("window/geometry", self.restoreGeometry), ("window/state", self.restoreState)):
            value = store.value(key)
            if isinstance(value, QByteArray):
                restore(value)

    def _training_idle(self) -> None:
        if self._quit_when_idle:
            QTimer.singleShot(0, self.close)

    def _quit_now(self) -> None:
        """The run did not stop within QUIT_DEADLINE_MS of Quit: close anyway."""
        if self._quit_when_idle:
            self._quit_anyway = True
            self.close()

    def _keep_open_for_training(self) -> bool:
        """Quit while a run trains: ask, cancel the runs, hide the window and end when the queue is idle (or after
        QUIT_DEADLINE_MS whatever the worker does: a run still recorded as running is marked interrupted, resumable,
        by the next opening). True while the window must stay."""
        queue = self.workspace.queue
        if queue is None or not queue.busy() or self._quit_anyway:
            return False
        if not self._quit_when_idle:
            waiting = len(queue.waiting())
            more = f" and {waiting} waiting" if waiting else ""
            question = (
                f"A run is training{more}. Cancel {'them' if waiting else 'it'} and quit? (A cancelled run is "
                "kept and can be continued with Resume on the Runs tab.)"
            )
            if not plain.ask(self, "Quit", question):
                return True
            self._quit_when_idle = True
            queue.cancel_all()
        if queue.busy():  # the run may have ended while the question was open: then quit now
            self.hide()
            QTimer.singleShot(QUIT_DEADLINE_MS, self._quit_now)
            return True
        return False

    def closeEvent(self, event: QCloseEvent) -> None:
        if self._keep_open_for_training():
            event.ignore()
            return
        if self.importer.running:
            if not plain.ask(
                self, "Quit", "An import is running. Cancel it and quit? (Nothing of it will be recorded.)"
            ):
                event.ignore()
                return
            self.importer.cancel()
        store = settings.settings()
        store.setValue("window/geometry", self.saveGeometry())
        self.hide()  # what follows may wait for pending edits to be written: the window has answered already
        store.setValue("window/state", self.saveState())
        self.workspace.closing.emit()
        self._close_catalog()
        self.device_probe.stop()
        self.thumbs.stop()
        super().closeEvent(event)
