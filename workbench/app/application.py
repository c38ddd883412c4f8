"""Starting the workbench: the QApplication, its look, and the main window.

``create_main_window(catalog)`` builds the window (not shown, no event loop) for tests and benchmarks;
``run(...)`` is what ``tailor``, ``tailor gui`` and ``tailor demo`` call.
"""

from __future__ import annotations

import gc
import os
import sys

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMainWindow

from workbench.app.resources import app_icon, stylesheet

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
    app = QApplication.instance()
    if app is None:
        app = QApplication(sys.argv[:1])
        app.setOrganizationName("Tailor")
        app.setApplicationName("Tailor")
        app.setDesktopFileName("tailor")
        app.setStyle("Fusion")  # follows the system palette, light or dark
        app.setStyleSheet(stylesheet())
    app.setWindowIcon(app_icon())
    if "workbench.widgets.pyqtgraph_setup" in sys.modules:  # plots built before (tests): follow this palette
        sys.modules["workbench.widgets.pyqtgraph_setup"].configure()
    return app


def create_main_window(catalog: str | None = None) -> QMainWindow:
    """Build the main window on ``catalog`` (opened in a worker) without showing it or starting the loop."""
    application()
    from workbench.app.main_window import MainWindow

    window = MainWindow(catalog)
    # Everything loaded so far (Qt wrappers, SQLAlchemy, pyqtgraph, numpy) lives as long as the process: keep it
    # out of the collector's full passes, which otherwise stall the event loop by 100 ms and more.
    gc.freeze()
    return window


def _when_settled(window, action, timeout_ms: int = 15000) -> None:
    """Call ``action`` once the catalog is open, the grid's first page and thumbnails are in (or on timeout)."""
    waited = {"ms": 0}
    timer = QTimer(window, interval=100)

    def check() -> None:
        waited["ms"] += 100
        browser = window.browser
        ready = (
            window.state is not None
            and window.state.loaded
            and browser.query_count > 0
            and (browser.model.rowCount() == 0 or browser.model.loaded_pages() > 0)
            and window.thumbs.pending() == 0
            and (window.tabs.currentWidget() is not window.imbalance or window.imbalance.stats is not None)
        )
        if (ready and waited["ms"] >= 600) or waited["ms"] >= timeout_ms:
            timer.stop()
            action()

    timer.timeout.connect(check)
    timer.start()


def run(catalog: str | None = None, *, screenshot: str | None = None, view: str = "browse") -> int:
    """Open the window (the last catalog when none is given) and run until it is closed.

    With ``screenshot`` the window is saved to that PNG once it has settled, then the application quits.
    """
    problem = display_problem()
    if problem:
        print(f"tailor: error: {problem}", file=sys.stderr)
        return 2
    app = application()
    if catalog is None and screenshot is None:
        from workbench.app.settings import recent_catalogs

        recent = [item for item in recent_catalogs() if "://" in item or os.path.exists(item)]
        catalog = recent[0] if recent else None
    window = create_main_window(catalog)
    window.show()
    if screenshot:

        def save() -> None:
            if view == "imbalance":
                window.tabs.setCurrentWidget(window.imbalance)
                QTimer.singleShot(1500, lambda: (window.grab().save(screenshot), window.close()))
                return
            if window.browser.model.rowCount():
                window.browser.grid.setCurrentIndex(window.browser.model.index(0))
            QTimer.singleShot(800, lambda: (window.grab().save(screenshot), window.close()))

        _when_settled(window, save)
    return app.exec()
