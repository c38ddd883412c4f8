"""The main window: menus, the attribute chooser, the seven tabs (Browse, Imbalance, Train, Runs, Review, Label
issues, Matrix), imports, curation jobs (predict, find label issues, the variant matrix), undo and closing while a run
trains."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QByteArray, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QMainWindow,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from core.base.held_files import held_catalog_of
from core.base.version import installed_version
from workbench.app import settings
from workbench.app.resources import app_icon
from workbench.views.browser import BrowserView
from workbench.widgets import file_dialogs, plain
from workbench.widgets.lazy_tabs import LazyPage, LazyTabs
from workbench.workers.device_probe import DeviceProbe
from workbench.workers.tasks import Latest, run_function
from workbench.workers.thumbnails import ThumbnailLoader

if TYPE_CHECKING:
    from core.catalog.runs import RunInfo
    from core.catalog.store import Catalog
    from workbench.dialogs.importing import ReportDialog
    from workbench.viewmodels.catalog_state import CatalogState
    from workbench.viewmodels.editor import Editor
    from workbench.views.imbalance import ImbalanceView
    from workbench.views.issues import IssuesView
    from workbench.views.matrix import MatrixView
    from workbench.views.review import ReviewView
    from workbench.views.runs import RunsView
    from workbench.views.training import TrainingPanel
    from workbench.workers.training_queue import TrainingQueue

# After Quit, a run that does not stop (a step stuck in native code, a catalog that cannot be written) keeps the
# process no longer than this; the window itself goes at once.
QUIT_DEADLINE_MS = 30_000
CATALOG_FILTER = "Tailor catalogs (*.sqlite *.db *.tailor);;All files (*)"
SHORTCUTS = "\n".join(
    (
        "Ctrl+N: new catalog · Ctrl+O: open a catalog · Ctrl+Q: quit",
        "Ctrl+I: import a folder · Ctrl+Shift+I: import a manifest · Ctrl+L: manage labels and attributes",
        "Ctrl+Z: undo · Ctrl+Shift+Z or Ctrl+Y: redo · F5: read the catalog again",
        "Ctrl+1 Browse · Ctrl+2 Imbalance · Ctrl+3 Train · Ctrl+4 Runs · Ctrl+5 Review · Ctrl+6 Label issues",
        "Ctrl+7 Matrix",
        "",
        "Browse:",
        "Arrow keys: move in the grid · Shift/Ctrl + click or arrows: select several · Ctrl+A: select all",
        "1-9: give the selected images the label with that number · 0: clear their labels of this attribute",
        "In the label list: click picks a label, Enter (or Apply, or a double-click) gives it to the selection",
        "",
        "Label issues: K keep the label · R relabel as suggested · Delete remove the label",
    )
)


def tailor_version() -> str:
    return installed_version() or "(development)"  # a source tree that was never installed


class WelcomePage(QWidget):
    """Shown when no catalog is open: open, create, recent catalogs."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__()
        title = QLabel("Tailor", objectName="welcomeTitle")
        hint = QLabel(
            "Open a catalog of product images, or create one and import a folder of images "
            "(one subfolder per label) or a CSV / Parquet manifest.",
            wordWrap=True,
            objectName="welcomeHint",
        )
        open_button = QPushButton("Open catalog…")
        new_button = QPushButton("New catalog…")
        open_button.clicked.connect(window.open_dialog)
        new_button.clicked.connect(window.new_dialog)
        self.recent = QListWidget()
        self.recent.itemActivated.connect(lambda item: window.open_catalog(item.text()))
        buttons = QHBoxLayout()
        buttons.addWidget(open_button)
        buttons.addWidget(new_button)
        buttons.addStretch(1)
        column = QVBoxLayout()
        column.addWidget(title)
        column.addWidget(hint)
        column.addLayout(buttons)
        column.addWidget(QLabel("Recent catalogs (double-click to open):"))
        column.addWidget(self.recent, 1)
        outer = QHBoxLayout(self)
        outer.addStretch(1)
        outer.addLayout(column, 3)
        outer.addStretch(1)

    def set_recent(self, items: list[str]) -> None:
        self.recent.clear()
        self.recent.addItems(items)


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
        self.location: str | None = None
        self.catalog: Catalog | None = None
        self.state: CatalogState | None = None
        self.editor: Editor | None = None
        self.cache_dir = settings.thumbnail_cache_dir()
        self.thumbs = ThumbnailLoader(self.cache_dir, parent=self)
        self.device_probe = DeviceProbe(self)  # started once the first page is in: see _opened
        self._importer = None
        self.curation_job = None  # the running predict / label-issues job (ProgressJob), for tests
        self.last_report_dialog: ReportDialog | None = None

        self.browser = BrowserView(self.thumbs, self.cache_dir)
        self.browser.status.connect(self.status)
        self.queue: TrainingQueue | None = None
        self._quit_when_idle = False
        self._quit_anyway = False
        # The other tabs are built (and their modules imported) when first shown: the window paints first.
        self.tabs = LazyTabs()
        self.tabs.addTab(self.browser, "Browse")
        self._pages: dict[str, LazyPage] = {
            name: self.tabs.add_lazy(lambda name=name: self._build_view(name), title)
            for name, title in (
                ("imbalance", "Imbalance"),
                ("training", "Train"),
                ("runs_view", "Runs"),
                ("review", "Review"),
                ("issues", "Label issues"),
                ("matrix", "Matrix"),
            )
        }
        self._histories = Latest(self)
        self.welcome = WelcomePage(self)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.welcome)
        self.stack.addWidget(self.tabs)
        self.setCentralWidget(self.stack)

        self.attribute = QComboBox()
        self.attribute.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.attribute.setToolTip("The attribute you browse, annotate and see the long tail of")
        self.attribute.currentIndexChanged.connect(self._attribute_chosen)
        self.catalog_label = plain.label()
        self.statusBar().addPermanentWidget(self.catalog_label)
        self._build_actions()
        self._restore()
        self.welcome.set_recent(settings.recent_catalogs())
        # The catalog opens after the first paint (or 300 ms, for a window never shown): the window is on screen at
        # once and the catalog's modules (SQLAlchemy) and superqt load meanwhile.
        self._open_first: str | None = location
        if location:
            self.status(f"Opening {location}…")
            QTimer.singleShot(300, self._open_first_catalog)

    def _open_first_catalog(self) -> None:
        location, self._open_first = self._open_first, None
        if location:
            self.open_catalog(location)

    def paintEvent(self, event) -> None:
        super().paintEvent(event)
        if self._open_first:
            QTimer.singleShot(0, self._open_first_catalog)

    # -- tabs built on first use ------------------------------------------------------------------------

    @property
    def imbalance(self) -> ImbalanceView:
        return self._pages["imbalance"].view()  # type: ignore[return-value]

    @property
    def training(self) -> TrainingPanel:
        return self._pages["training"].view()  # type: ignore[return-value]

    @property
    def runs_view(self) -> RunsView:
        return self._pages["runs_view"].view()  # type: ignore[return-value]

    @property
    def review(self) -> ReviewView:
        return self._pages["review"].view()  # type: ignore[return-value]

    @property
    def issues(self) -> IssuesView:
        return self._pages["issues"].view()  # type: ignore[return-value]

    @property
    def matrix(self) -> MatrixView:
        return self._pages["matrix"].view()  # type: ignore[return-value]

    def _built(self, name: str):
        """The view of a lazy tab when it has been built, else None (nothing to refresh or shut down)."""
        page = self._pages[name]
        return page.view() if page.built else None

    def _build_view(self, name: str) -> QWidget:
        if name == "imbalance":
            from workbench.views.imbalance import ImbalanceView

            view = ImbalanceView()
            view.labelClicked.connect(self.browse_label)
            if self.state is not None:
                view.attach(self.state)
        elif name == "training":
            from workbench.views.training import TrainingPanel

            view = TrainingPanel(probe=self.device_probe)
            view.restore_settings(settings.train_settings())
            view.train_button.clicked.connect(lambda: settings.save_train_settings(view.saved_settings()))
            view.runEnded.connect(self._run_ended)
            if self.state is not None and self.queue is not None:
                view.attach(self.state, self.queue)
        elif name == "runs_view":
            from workbench.views.runs import RunsView

            view = RunsView()
            view.plotRuns.connect(self.plot_runs)
            view.reviewRun.connect(self.review_run)
            view.resumeRun.connect(self.resume_run)
            view.keepAdjusted.connect(self.keep_adjusted)
            view.browseTestImages.connect(self.browse_run_test_images)
            view.predictRun.connect(self.predict_run)
            if self.catalog is not None:
                view.attach(self.catalog)
        elif name == "matrix":
            from workbench.views.matrix import MatrixView

            view = MatrixView()
            view.trainMatrix.connect(self.train_matrix)
            if self.state is not None:
                view.attach(self.state)
        elif name == "issues":
            from workbench.views.issues import IssuesView

            view = IssuesView(self.cache_dir)
            view.findIssues.connect(self.find_issues)
            if self.state is not None and self.editor is not None:
                view.attach(self.state, self.editor)
        else:
            from workbench.views.review import ReviewView

            view = ReviewView(self.thumbs)
            if self.catalog is not None and self.editor is not None:
                view.attach(self.catalog, self.editor)
        if hasattr(view, "status"):
            view.status.connect(self.status)
        return view

    @property
    def importer(self):
        """The import runner (its module, and the importer's, are loaded on first use)."""
        if self._importer is None:
            from workbench.dialogs.importing import ImportRunner

            self._importer = ImportRunner(self)
            self._importer.finished.connect(self._import_finished)
            self._importer.cancelled.connect(lambda: self.status("Import cancelled: the catalog is unchanged."))
            self._importer.failed.connect(self._import_failed)
            self._importer.running_changed.connect(self._importing)
        return self._importer

    def _importing_now(self) -> bool:
        return self._importer is not None and self._importer.running

    # -- actions ---------------------------------------------------------------------------------------

    def _action(self, text: str, slot, shortcut=None, tip: str | None = None) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        if tip:
            action.setStatusTip(tip)
        action.triggered.connect(slot)
        return action

    def _build_actions(self) -> None:
        self._file_menu()
        self._edit_menus()
        self._view_menus()
        self._toolbar()
        self._catalog_actions = [
            self.import_folder,
            self.import_manifest,
            self.manage_action,
            self.undo_action,
            self.redo_action,
            self.undo_tool,
            self.redo_tool,
            self.refresh_action,
        ]
        self._set_catalog_enabled(False)

    def _file_menu(self) -> None:
        menu = self.menuBar().addMenu("&File")
        menu.addAction(self._action("&New catalog…", self.new_dialog, QKeySequence.StandardKey.New))
        menu.addAction(self._action("&Open catalog…", self.open_dialog, QKeySequence.StandardKey.Open))
        self.recent_menu = menu.addMenu("Open &recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        menu.addSeparator()
        self.import_folder = self._action(
            "Import &folder…", lambda: self.import_dialog(), "Ctrl+I", "Import a folder with one subfolder per label"
        )
        self.import_manifest = self._action(
            "Import &manifest…",
            self.import_manifest_dialog,
            "Ctrl+Shift+I",
            "Import a CSV or Parquet manifest (path, labels, split)",
        )
        menu.addAction(self.import_folder)
        menu.addAction(self.import_manifest)
        menu.addSeparator()
        menu.addAction(self._action("&Quit", self.close, "Ctrl+Q"))  # the standard key is empty on some desktops

    def _edit_menus(self) -> None:
        edit = self.menuBar().addMenu("&Edit")
        self.undo_action = self._action("&Undo", self.undo, QKeySequence.StandardKey.Undo)
        self.redo_action = self._action("&Redo", self.redo, "Ctrl+Shift+Z")
        self.redo_action.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        edit.addAction(self.undo_action)
        edit.addAction(self.redo_action)
        edit.addSeparator()
        edit.addAction(self.browser.select_all)
        labels = self.menuBar().addMenu("&Labels")
        self.manage_action = self._action("&Manage labels and attributes…", self.manage_labels, "Ctrl+L")
        labels.addAction(self.manage_action)

    def _view_menus(self) -> None:
        view = self.menuBar().addMenu("&View")
        view.addAction(self._action("&Browse", lambda: self.tabs.setCurrentWidget(self.browser), "Ctrl+1"))
        view.addAction(self._action("&Imbalance", lambda: self.tabs.setCurrentWidget(self.imbalance), "Ctrl+2"))
        view.addAction(self._action("&Train", lambda: self.tabs.setCurrentWidget(self.training), "Ctrl+3"))
        view.addAction(self._action("R&uns", lambda: self.tabs.setCurrentWidget(self.runs_view), "Ctrl+4"))
        view.addAction(self._action("Re&view", lambda: self.tabs.setCurrentWidget(self.review), "Ctrl+5"))
        view.addAction(self._action("&Label issues", lambda: self.tabs.setCurrentWidget(self.issues), "Ctrl+6"))
        view.addAction(self._action("Variant &matrix", lambda: self.tabs.setCurrentWidget(self.matrix), "Ctrl+7"))
        self.refresh_action = self._action(
            "&Refresh",
            self.refresh,
            QKeySequence.StandardKey.Refresh,
            "Read the catalog again: labels, counts and runs changed by others sharing it (F5)",
        )
        view.addAction(self.refresh_action)
        help_menu = self.menuBar().addMenu("&Help")
        help_menu.addAction(self._action("&Keyboard shortcuts", self._shortcuts))
        help_menu.addAction(self._action("&About Tailor", self._about))

    def _toolbar(self) -> None:
        toolbar = self.addToolBar("Main")
        toolbar.setObjectName("main-toolbar")
        toolbar.setMovable(False)
        toolbar.addWidget(QLabel(" Attribute "))
        toolbar.addWidget(self.attribute)
        toolbar.addSeparator()
        # the toolbar's own Undo/Redo keep their text (the menu's say what they undo): the toolbar never jumps
        self.undo_tool = self._action("Undo", self.undo)
        self.redo_tool = self._action("Redo", self.redo)
        toolbar.addAction(self.undo_tool)
        toolbar.addAction(self.redo_tool)
        toolbar.addSeparator()
        toolbar.addAction(self.import_folder)
        toolbar.addAction(self.manage_action)
        toolbar.addAction(self.refresh_action)

    def _set_catalog_enabled(self, enabled: bool) -> None:
        for action in self._catalog_actions:
            action.setEnabled(enabled)
        self.attribute.setEnabled(enabled)
        if enabled and self.editor is not None:
            self._undo_changed()

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for item in settings.recent_catalogs():
            self.recent_menu.addAction(item, lambda checked=False, path=item: self.open_catalog(path))
        if self.recent_menu.isEmpty():
            self.recent_menu.addAction("(none yet)").setEnabled(False)

    # -- catalogs --------------------------------------------------------------------------------------

    def open_dialog(self) -> None:
        path = file_dialogs.open_file(self, "Open catalog", self._start_folder(), CATALOG_FILTER)
        if path:
            self.open_catalog(path)

    def new_dialog(self) -> None:
        start = os.path.join(self._start_folder(), "catalog.sqlite")
        path = file_dialogs.save_file(self, "New catalog", start, CATALOG_FILTER)
        if path:
            if os.path.exists(path):
                plain.warn(self, "New catalog", f"{path} already exists; open it instead.")
                return
            self.open_catalog(path, create=True)

    def open_catalog(self, location: str, create: bool = False) -> None:
        """Open (or create) a catalog in a worker; the views fill in when it is ready."""
        location = str(location)
        if self.queue is not None and self.queue.busy():
            self.status("A run is training on this catalog: cancel it (Train tab) before opening another catalog.")
            return
        self.status(f"Opening {location}…")
        run_function(
            _open_and_recover,
            location,
            create,
            on_return=lambda catalog: self._opened(location, catalog),
            on_error=lambda exc: self._open_failed(location, exc),
        )

    def _open_failed(self, location: str, exc: Exception) -> None:
        self.status(f"Cannot open {location}")
        plain.warn(self, "Open catalog", str(exc))

    def _opened(self, location: str, catalog: Catalog) -> None:
        from workbench.viewmodels.catalog_state import CatalogState
        from workbench.viewmodels.editor import Editor
        from workbench.workers.training_queue import TrainingQueue

        self._close_catalog()
        self.location, self.catalog = location, catalog
        self.editor = Editor(location, self)
        self.editor.failed.connect(lambda message: self.status(f"Edit not applied: {message}"))
        self.editor.edited.connect(self._edited)
        self.editor.stack.indexChanged.connect(self._undo_changed)
        self.state = CatalogState(catalog, self)
        self.state.changed.connect(self._state_changed)
        self.state.error.connect(self.status)
        self.browser.attach(self.state, self.editor)
        self.queue = TrainingQueue(location, self)
        self.queue.idle.connect(self._training_idle)
        if (imbalance := self._built("imbalance")) is not None:
            imbalance.attach(self.state)
        if (training := self._built("training")) is not None:
            training.attach(self.state, self.queue)
        if (runs := self._built("runs_view")) is not None:
            runs.attach(catalog)
        if (review := self._built("review")) is not None:
            review.attach(catalog, self.editor)
        if (issues := self._built("issues")) is not None:
            issues.attach(self.state, self.editor)
        if (matrix := self._built("matrix")) is not None:
            matrix.attach(self.state)
        self.state.refresh()
        self.stack.setCurrentWidget(self.tabs)
        self.setWindowTitle(f"{Path(location).name} — Tailor" if "://" not in location else f"{location} — Tailor")
        self.welcome.set_recent(settings.add_recent(location))
        self._set_catalog_enabled(True)
        self.status(f"Opened {location}")
        # the device probe (a Python process importing torch) after the first page, before the Train tab is opened
        QTimer.singleShot(3000, self.device_probe.start)

    def _close_catalog(self) -> None:
        if self.queue is not None:
            self.queue.deleteLater()
            self.queue = None
        if self.editor is not None:
            self.editor.stack.indexChanged.disconnect(self._undo_changed)
            self.editor.flush()
            self.editor.close()
            self.editor.deleteLater()
        if self.state is not None:
            self.state.deleteLater()
        self.editor = self.state = None

    def refresh(self) -> None:
        """Read everything shown again (another person or process may have changed the catalog)."""
        if self.state is not None:
            self.state.refresh()
            self.browser.apply_filter()
            self._run_ended(None)
            self.status("Catalog read again")

    def _state_changed(self) -> None:
        state = self.state
        self.attribute.blockSignals(True)
        self.attribute.clear()
        for info in state.attributes:
            self.attribute.addItem(f"{info.name}  ({info.kind}, {info.labels} labels)", info.id)
        self.attribute.setCurrentIndex(max(self.attribute.findData(state.attribute_id), 0))
        self.attribute.blockSignals(False)
        run_function(
            state.catalog.image_count,
            on_return=lambda n: self.catalog_label.setText(
                f"{n:,} image{'s' if n != 1 else ''} · {len(state.attributes)} "
                f"attribute{'s' if len(state.attributes) != 1 else ''}"
            ),
        )

    def _attribute_chosen(self, index: int) -> None:
        if self.state is not None and index >= 0:
            self.state.set_attribute(self.attribute.itemData(index))

    def _edited(self, edit) -> None:
        self.status(edit.description[:1].upper() + edit.description[1:])
        self.state.refresh()

    def browse_run_test_images(self, run_id: int) -> None:
        self.tabs.setCurrentWidget(self.browser)
        self.browser.show_run_test_images(run_id)

    def browse_label(self, label_id: int) -> None:
        self.tabs.setCurrentWidget(self.browser)
        self.browser.show_label(label_id)

    # -- undo ------------------------------------------------------------------------------------------

    def undo(self) -> None:
        if self.editor is not None and self.editor.stack.canUndo():
            self.status(f"Undo: {self.editor.stack.undoText()}")
            self.editor.stack.undo()

    def redo(self) -> None:
        if self.editor is not None and self.editor.stack.canRedo():
            self.status(f"Redo: {self.editor.stack.redoText()}")
            self.editor.stack.redo()

    def _undo_changed(self, *_args) -> None:
        if self.editor is None:
            return
        stack = self.editor.stack
        self.undo_action.setEnabled(stack.canUndo())
        self.redo_action.setEnabled(stack.canRedo())
        self.undo_action.setText(f"&Undo {stack.undoText()}" if stack.canUndo() else "&Undo")
        self.redo_action.setText(f"&Redo {stack.redoText()}" if stack.canRedo() else "&Redo")
        self.undo_tool.setEnabled(stack.canUndo())
        self.redo_tool.setEnabled(stack.canRedo())
        self.undo_tool.setToolTip(f"Undo {stack.undoText()} (Ctrl+Z)" if stack.canUndo() else "Nothing to undo")
        self.redo_tool.setToolTip(f"Redo {stack.redoText()} (Ctrl+Shift+Z)" if stack.canRedo() else "Nothing to redo")

    # -- import ----------------------------------------------------------------------------------------

    def import_dialog(self, source: str = "") -> None:
        if self.catalog is None or self._importing_now():
            return
        from workbench.dialogs.importing import ImportDialog

        current = self.state.attribute.name if self.state and self.state.attribute else None
        dialog = ImportDialog(
            self.state.attributes if self.state else [], source, current, self, start_folder=self._start_folder()
        )
        if dialog.exec():
            self.start_import(*dialog.values())

    def import_manifest_dialog(self) -> None:
        from workbench.dialogs.importing import MANIFEST_FILTER

        path = file_dialogs.open_file(self, "Manifest to import", self._start_folder(), MANIFEST_FILTER)
        if path:
            self.import_dialog(path)

    def start_import(
        self, source: str, attribute: str, multi_label: bool = False, follow_symlinks: bool = False
    ) -> None:
        self.importer.start(self.location, source, attribute, multi_label, follow_symlinks)

    def _importing(self, running: bool) -> None:
        """While an import writes, the views and edits wait (the import is one transaction)."""
        self.tabs.setEnabled(not running)
        self._set_catalog_enabled(not running and self.catalog is not None)

    def _import_finished(self, report) -> None:
        from workbench.dialogs.importing import ReportDialog

        self.status(report.summary())
        self.refresh()
        self.last_report_dialog = ReportDialog(report, self)
        self.last_report_dialog.show()

    def _import_failed(self, message: str) -> None:
        self.status(f"Import failed: {message}")
        plain.warn(self, "Import", f"{message}\n\nNothing was recorded.")

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if (
            self.catalog is not None
            and event.mimeData().hasUrls()
            and all(url.isLocalFile() for url in event.mimeData().urls())
        ):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [url.toLocalFile() for url in event.mimeData().urls()]
        if paths and held_catalog_of(paths[0]) is not None:  # never read as a manifest (core.base.held_files)
            self.status(f"{paths[0]} is the catalog open in Tailor: drop an image folder or a manifest to import")
            return
        if paths:
            event.acceptProposedAction()
            QTimer.singleShot(0, lambda: self.import_dialog(paths[0]))

    # -- training, runs, review ------------------------------------------------------------------------

    def plot_runs(self, run_ids: list[int]) -> None:
        """Show finished runs' curves and overlaid per-class bars in the Train tab's plots."""
        if self.catalog is None or not run_ids:
            return

        from core.catalog.runs import history
        from workbench.widgets.plots import RunSeries

        def read(catalog, ids):
            return [history(catalog, run_id) for run_id in ids]

        def arrived(histories) -> None:
            runs = [
                RunSeries(h["run_id"], h["name"], h["labels"], h["counts"], h["epochs"], h["last"]) for h in histories
            ]
            self.training.plots.show_runs(runs, focus=runs[0].run_id)
            self.tabs.setCurrentWidget(self.training)

        self._histories.run(
            read, self.catalog, list(run_ids), on_return=arrived, on_error=lambda exc: self.status(str(exc))
        )

    def resume_run(self, run: RunInfo) -> None:
        if self.queue is not None:
            self.queue.resume(run)
            self.tabs.setCurrentWidget(self.training)
            self.status(f"Run {run.id} will continue from its last checkpoint")

    def keep_adjusted(self, run_id: int, tau: float) -> None:
        """Record a run's post-hoc logit adjustment (the Runs tab's slider) as a derived run, through the queue."""
        run = next((r for r in self.runs_view.runs if r.id == run_id), None)
        if self.queue is not None and run is not None:
            self.queue.keep_adjusted(run, tau)
            self.status(f"Recording run {run_id} adjusted with τ = {tau:.2f} as a new run…")

    # -- curation: predictions and label issues (worker threads, progress with Cancel) --------------------

    def predict_run(self, run_id: int, scope: str) -> None:
        """Store a run's predictions (``unlabeled``, ``all`` images, or those Browse ``shown``s); Browse then shows
        them."""
        from workbench.widgets.progress_job import ProgressJob
        from workbench.workers.curation import predict_job

        if self.location is None:
            return
        shown = self.browser.model.all_ids() if scope == "shown" else None
        what = f"the {len(shown):,} images Browse shows" if shown is not None else f"{scope} images"
        job = ProgressJob(self, f"Predicting {what} with run {run_id}", predict_job, self.location, run_id, scope,
                          shown)  # fmt: skip
        job.failed.connect(lambda message: plain.warn(self, "Predict", message))
        job.finished.connect(lambda result: self._predicted(run_id, result))
        self.curation_job = job

    def _predicted(self, run_id: int, result) -> None:
        if result.cancelled:
            self.status(f"Prediction with run {run_id} cancelled; nothing was written")
            return
        self.status(
            f"Run {run_id} predicted {len(result.image_ids):,} images in {result.seconds:.1f} s; Browse shows them "
            f"(Predictions row)"
        )
        self.tabs.setCurrentWidget(self.browser)
        self.browser.refresh_predictions(run_id)

    def find_issues(self, attribute: str, features_of: int | None, folds: int) -> None:
        from workbench.widgets.progress_job import ProgressJob
        from workbench.workers.curation import issues_job

        if self.location is None:
            return
        job = ProgressJob(self, f"Finding suspected label errors of '{attribute}'", issues_job, self.location,
                          attribute, features_of, folds)  # fmt: skip
        job.failed.connect(lambda message: plain.warn(self, "Label issues", message))
        job.finished.connect(self._issues_found)
        self.curation_job = job

    def train_matrix(self, request: dict) -> None:
        """Train the Matrix tab's variants x seeds on a worker (progress with Cancel), then show the table."""
        from workbench.widgets.progress_job import ProgressJob
        from workbench.workers.experiments import matrix_job

        if self.location is None:
            return
        runs = len(request["variants"]) * len(request["seeds"])
        job = ProgressJob(self, f"Training {runs} heads of '{request['attribute']}' for the matrix", matrix_job,
                          self.location, request)  # fmt: skip
        job.failed.connect(lambda message: plain.warn(self, "Variant matrix", message))
        job.finished.connect(self._matrix_trained)
        self.curation_job = job

    def _matrix_trained(self, table: dict | None) -> None:
        if table is None:
            self.status("Variant matrix cancelled; the runs that finished are in the Runs tab")
        else:
            self.matrix.show_table(table)
            self.status(f"Variant matrix: {len(table['rows'])} runs compared")
        self._run_ended(None)

    def _issues_found(self, report) -> None:
        if report.cancelled:
            self.status("Finding label issues cancelled")
            return
        self.issues.show_report(report)
        self.status(f"{len(report.issues):,} suspected label errors of '{report.attribute}', rarest labels first")

    def review_run(self, run_id: int) -> None:
        self.review.review_run(run_id)
        self.tabs.setCurrentWidget(self.review)

    def _run_ended(self, _job) -> None:
        if (runs := self._built("runs_view")) is not None:
            runs.refresh()
        if (review := self._built("review")) is not None:
            review.refresh_runs()

    def _training_idle(self) -> None:
        if self._quit_when_idle:
            QTimer.singleShot(0, self.close)

    def _quit_now(self) -> None:
        """The run did not stop within QUIT_DEADLINE_MS of Quit: close anyway."""
        if self._quit_when_idle:
            self._quit_anyway = True
            self.close()

    # -- labels ----------------------------------------------------------------------------------------

    def manage_labels(self) -> None:
        if self.catalog is not None:
            from workbench.dialogs.labels import LabelsDialog

            LabelsDialog(self.catalog, self.editor, self).exec()

    # -- misc ------------------------------------------------------------------------------------------

    def status(self, message: str) -> None:
        self.statusBar().showMessage(message, 8000)

    def _shortcuts(self) -> None:
        plain.inform(self, "Keyboard shortcuts", SHORTCUTS)

    def _about(self) -> None:
        plain.inform(
            self,
            "About Tailor",
            f"Tailor {tailor_version()}: a workbench for long-tailed image labels.\n\n"
            "Browse and fix labels, see the long tail and the class weights that counter it, train models that "
            "cope with it, compare them and review their mistakes.",
        )

    def _start_folder(self) -> str:
        """Where file dialogs start: the open catalog's folder (else the working folder)."""
        if self.location and "://" not in self.location:
            return str(Path(self.location).expanduser().resolve().parent)
        return ""

    def _restore(self) -> None:
        store = settings.settings()
        geometry = store.value("window/geometry")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        state = store.value("window/state")
        if isinstance(state, QByteArray):
            self.restoreState(state)
        splitter = store.value("window/browser-splitter")
        if isinstance(splitter, QByteArray):
            self.browser.splitter.restoreState(splitter)

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.queue is not None and self.queue.busy() and not self._quit_anyway:
            if not self._quit_when_idle:
                waiting = len(self.queue.waiting())
                more = f" and {waiting} waiting" if waiting else ""
                if not plain.ask(
                    self,
                    "Quit",
                    f"A run is training{more}. Cancel {'them' if waiting else 'it'} and "
                    "quit? (A cancelled run is kept and can be continued with Resume on the Runs "
                    "tab.)",
                ):
                    event.ignore()
                    return
                self._quit_when_idle = True
                self.queue.cancel_all()
            if self.queue.busy():  # the run may have ended while the question was open: then quit now
                # answered at once: the window goes; the process ends on the queue's idle signal, once the worker
                # has recorded the cancellation, or after QUIT_DEADLINE_MS whatever the worker is doing (a run
                # still recorded as running is marked interrupted, resumable, by the next opening)
                self.hide()
                QTimer.singleShot(QUIT_DEADLINE_MS, self._quit_now)
                event.ignore()
                return
        if self._importing_now():
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
        store.setValue("window/browser-splitter", self.browser.splitter.saveState())
        self._close_catalog()
        if (training := self._built("training")) is not None:
            settings.save_train_settings(training.saved_settings())
        self.device_probe.stop()
        self.thumbs.stop()
        super().closeEvent(event)
