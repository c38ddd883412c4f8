"""What the tabs of the window share: the open catalog with its state, editor and training queue, the thumbnail
loader, the device probe, one status line and the requests tabs make of each other.

The main window owns the catalog (it opens, replaces and closes it) and fills this in; a tab receives the workspace
when it is built and follows :attr:`Workspace.opened` (:meth:`Workspace.when_open`), so a tab built before or after
the catalog opens attaches the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction

from workbench.viewmodels.requests import Request

if TYPE_CHECKING:
    from core.catalog.store import Catalog
    from workbench.viewmodels.catalog_state import CatalogState
    from workbench.viewmodels.editor import Editor
    from workbench.workers.device_probe import DeviceProbe
    from workbench.workers.thumbnails import ThumbnailLoader
    from workbench.workers.training_queue import TrainingQueue


class Workspace(QObject):
    opened = Signal()  # a catalog is open: location, catalog, state, editor and queue are set
    status = Signal(str)  # one line for the status bar
    runsChanged = Signal()  # a run ended or was recorded, or the catalog was read again: lists of runs are stale
    requested = Signal(object)  # a Request for a tab (workbench.viewmodels.requests)
    closing = Signal()  # the window closes: tabs save what they remember between sessions
    busy = Signal(bool)  # a long job (JobRunner) started or ended: the window disables its tabs and catalog actions
    browseSelection = Signal(object)  # the image ids selected in Browse (a tuple; the first SELECTION_SHARED)
    menuAction = Signal(str, object)  # a tab's action for one of the window's menus: its title ("&Edit"), the QAction

    def __init__(self, thumbs: ThumbnailLoader, cache_dir: Path, probe: DeviceProbe, parent: QObject) -> None:
        super().__init__(parent)
        self.thumbs, self.cache_dir, self.probe = thumbs, cache_dir, probe
        self.location: str | None = None
        self.catalog: Catalog | None = None
        self.state: CatalogState | None = None
        self.editor: Editor | None = None
        self.queue: TrainingQueue | None = None

    @property
    def is_open(self) -> bool:
        return self.state is not None

    def open(self, location: str, catalog: Catalog, state: CatalogState, editor: Editor, queue: TrainingQueue) -> None:
        self.location, self.catalog, self.state, self.editor, self.queue = location, catalog, state, editor, queue
        self.opened.emit()

    def close(self) -> None:
        self.location = self.catalog = self.state = self.editor = self.queue = None

    def when_open(self, attach: Callable[[], None]) -> None:
        """Call ``attach`` for every catalog opened from now on, and now if one is open."""
        self.opened.connect(attach)
        if self.is_open:
            attach()

    def request(self, request: Request) -> None:
        self.requested.emit(request)

    def contribute(self, menu: str, action: QAction) -> None:
        """Put a tab's action in the window's menu titled ``menu`` (built with the tab)."""
        self.menuAction.emit(menu, action)

    def say(self, message: str) -> None:
        self.status.emit(message)
