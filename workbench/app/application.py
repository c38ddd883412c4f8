"""Starting the workbench: the QApplication, its look, and the main window.

``create_main_window(catalog)`` builds the window (not shown, no event loop) for tests and benchmarks;
``run(...)`` is what ``tailor``, ``tailor gui`` and ``tailor demo`` call.
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMainWindow

from workbench.app.collector import keep_full_passes_short
from workbench.app.resources import app_icon, stylesheet

if TYPE_CHECKING:
    from core.catalog.runs import RunInfo
    from workbench.app.main_window import MainWindow

# Libraries Qt's xcb platform plugin loads (Debian package names); desktops have them, minimal images may not.
XCB_LIBRARIES = (
    ("xcb-cursor", "libxcb-cursor0"),
    ("xcb-icccm", "libxcb-icccm4"),
    ("xcb-keysyms", "libxcb-keysyms1"),
    ("xkbcommon-x11", "libxkbcommon-x11-0"),
)


def display_problem() -> str | None:
    """Why no window can be shown here, or None."""
    if (
        sys.platform.startswith("linux")
        and not os.environ.get("QT_QPA_PLATFORM")
        and not os.environ.get("DISPLAY")
        and not os.environ.get("WAYLAND_DISPLAY")
    ):
        return (
            "no display to show the window on (DISPLAY is not set); run it on a desktop, under xvfb-run, "
            "or with QT_QPA_PLATFORM=offscreen for a screenshot"
        )
    if (
        sys.platform.startswith("linux")
        and os.environ.get("QT_QPA_PLATFORM", "xcb").startswith("xcb")
        and os.environ.get("DISPLAY")
        and not os.environ.get("WAYLAND_DISPLAY")
    ):
        import ctypes.util

        missing = [package for library, package in XCB_LIBRARIES if ctypes.util.find_library(library) is None]
        if missing:  # Qt >= 6.5 aborts the process without them
            return (
                f"Qt's X11 plugin needs system libraries that are missing here: {', '.join(missing)} "
                f"(Debian/Ubuntu: sudo apt install {' '.join(missing)})"
            )
    return None


def application() -> QApplication:
    # Worker threads hand the GIL back every 1 ms instead of 5 ms: the GUI thread waits less for it
    sys.setswitchinterval(0.001)
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(sys.argv[:1])
    if existing is None:
        app.setOrganizationName("Tailor")
        app.setApplicationName("Tailor")
        app.setDesktopFileName("tailor")
        app.setStyle("Fusion")  # follows the system palette, light or dark
        app.setStyleSheet(stylesheet())
    app.setWindowIcon(app_icon())
    if "workbench.widgets.pyqtgraph_setup" in sys.modules:  # plots built before (tests): follow this palette
        sys.modules["workbench.widgets.pyqtgraph_setup"].configure()
    return app


def create_main_window(catalog: str | None = None) -> MainWindow:
    """Build the main window on ``catalog`` (opened in a worker) without showing it or starting the loop."""
    application()
    from workbench.app.main_window import MainWindow

    window = MainWindow(catalog)
    # Everything loaded so far (Qt wrappers, SQLAlchemy, pyqtgraph, numpy) lives as long as the process: keep it
    # out of the collector's full passes, which otherwise stall the event loop by 100 ms and more; and so with
    # whatever survives a slow full pass later (libraries loaded by workers).
    gc.freeze()
    keep_full_passes_short()
    return window


def _when(
    window: QMainWindow, ready: Callable[[], bool], action: Callable[[], object], timeout_ms: int, at_least_ms: int = 0
) -> None:
    """Call ``action`` once ``ready()`` holds (polled every 100 ms, not before ``at_least_ms``) or on timeout."""
    waited = {"ms": 0}
    timer = QTimer(window, interval=100)

    def check() -> None:
        waited["ms"] += 100
        if (waited["ms"] >= at_least_ms and ready()) or waited["ms"] >= timeout_ms:
            timer.stop()
            action()

    timer.timeout.connect(check)
    timer.start()


def _settled(window: MainWindow) -> bool:
    """The catalog is open, the grid's first page and its thumbnails are in (and the Imbalance tab's statistics,
    when it has been built: asking for ``window.imbalance`` would build it)."""
    from workbench.tabs.browser import BrowserView

    browser, imbalance, state = (
        window.view_as("browser", BrowserView),
        window.built("imbalance"),
        window.workspace.state,
    )
    return (
        state is not None
        and state.loaded
        and browser.listed
        and (browser.model.rowCount() == 0 or browser.model.loaded_pages() > 0)
        and window.thumbs.pending() == 0
        and (imbalance is None or getattr(imbalance, "stats", None) is not None)
    )


def _when_settled(window: MainWindow, action: Callable[[], object], timeout_ms: int = 15000) -> None:
    _when(window, lambda: _settled(window), action, timeout_ms, at_least_ms=600)


def run(
    catalog: str | None = None,
    *,
    screenshot: str | None = None,
    view: str = "browse",
    size: tuple[int, int] | None = None,
) -> int:
    """Open the window (the last catalog when none is given) and run until it is closed.

    With ``screenshot`` the window (at ``size``) is saved to that PNG once it has settled on ``view``, then the
    application quits: train, runs and review show the catalog's newest finished runs (up to four).
    """
    problem = display_problem()
    if problem:
        print(f"tailor: error: {problem}", file=sys.stderr)
        return 2
    app = application()
    if catalog is None and screenshot is None:
        from workbench.viewmodels.settings import recent_catalogs

        recent = [item for item in recent_catalogs() if "://" in item or os.path.exists(item)]
        catalog = recent[0] if recent else None
    window = create_main_window(catalog)
    if size is not None:
        window.resize(*size)
    window.show()
    if screenshot:
        _when_settled(window, lambda: _show_for_screenshot(window, view, screenshot))
    return app.exec()


def finish(code: int = 0) -> None:
    """How every process that opened a window ends (``tailor gui``, the benchmarks, the tests' window scripts):
    the reads still running get their moment, then :func:`leave`."""
    from workbench.workers.tasks import wait_for_workers

    wait_for_workers()
    leave(code)


def leave(code: int) -> None:
    """End the process once the window has closed, without tearing down the interpreter under worker threads
    that cannot be stopped (a background ``import torch`` started by the Train tab): they would die with
    tracebacks at interpreter shutdown, or abort the process ("terminate called without an active exception")
    when a pool thread reaches for the interpreter while it is being torn down. Everything the window writes is
    flushed and closed by then."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _after_device_detected(window: MainWindow, action: Callable[[], object], timeout_ms: int = 30_000) -> None:
    """Call ``action`` once the Train tab knows its device (the probe runs in its own process), or on timeout."""
    from workbench.tabs.training import TrainingPanel

    _when(window, lambda: not window.view_as("training", TrainingPanel).detecting, action, timeout_ms)


def _show_for_screenshot(window: MainWindow, view: str, path: str) -> None:
    """Put ``view`` on screen as a user would see it, then save the window to ``path`` and close it."""

    def save(delay_ms: int) -> None:
        QTimer.singleShot(delay_ms, lambda: (window.grab().save(path), window.close()))

    if view == "browse":
        from workbench.tabs.browser import BrowserView

        browser = window.view_as("browser", BrowserView)
        if browser.model.rowCount():
            browser.grid.setCurrentIndex(browser.model.index(0))
        save(800)
        return
    if view == "imbalance":
        window.show_tab("imbalance")
        save(1500)
        return
    if window.workspace.catalog is None:
        save(0)
        return
    from core.catalog.records import RunStatus
    from core.catalog.runs import list_runs
    from workbench.viewmodels.requests import PlotRuns, ReviewRun
    from workbench.workers.tasks import run_function

    def newest(runs: list[RunInfo]) -> None:
        ids = [run.id for run in runs if run.status == RunStatus.FINISHED][-4:]
        attribute = next((run.attribute for run in runs if ids and run.id == ids[-1]), None)
        ids = [run.id for run in runs if run.id in ids and run.attribute == attribute]
        if view == "train":
            window.workspace.request(PlotRuns(tuple(ids)))
            _after_device_detected(window, lambda: save(1500))
            return
        elif view == "runs":
            from workbench.tabs.runs import RunsView

            runs_view = window.view_as("runs", RunsView)
            window.show_tab("runs")
            QTimer.singleShot(600, lambda: runs_view.select_runs(ids))
            if len(ids) > 1:  # wait for the comparison (its bootstrap runs on a worker)
                _when(window, lambda: runs_view.table_data is not None, lambda: save(600), 120_000)
                return
        elif ids:
            window.workspace.request(ReviewRun(ids[0]))
        save(2500)

    run_function(list_runs, window.workspace.catalog, on_return=newest, on_error=lambda _exc: save(0))
