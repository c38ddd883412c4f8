"""Retake the user guide's screenshots: every tab of the window at 1024 x 700, on a real catalog.

    python docs/screenshots.py CATALOG [--attribute NAME] [--out docs/images] [--size 1024x700]

CATALOG should have finished head-only runs (some of them one ``tailor matrix``), a stored map (``tailor map``) and
unlabeled images: docs/user-guide.md says how the published ones were made. Each tab is shown as a user leaves it
after one action (Runs: the newest group selected and compared; Label issues and Label next: their queue found;
Matrix: three heads trained on the newest run's features), then saved as ``<tab>.png``. The catalog is changed as
the window changes it (runs trained from the Matrix tab): use a copy.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def wait(condition: Callable[[], bool], timeout: float) -> bool:
    from PySide6.QtWidgets import QApplication

    app, end = QApplication.instance(), time.monotonic() + timeout
    while time.monotonic() < end:
        app.processEvents()
        if condition():
            return True
        time.sleep(0.005)
    return False


def quiet(window) -> bool:
    """No worker running or delivering, no thumbnail pending, no single-shot timer about to start more work."""
    from PySide6.QtCore import QTimer

    from workbench.workers import tasks

    timers = [t for t in window.findChildren(QTimer) if t.isSingleShot() and t.isActive()]
    return not tasks.busy() and window.thumbs.pending() == 0 and not timers


def settle(window, timeout: float = 120) -> None:
    """Until the window has had nothing to do for half a second (or ``timeout``)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if wait(lambda: quiet(window), end - time.monotonic()) and not wait(lambda: not quiet(window), 0.5):
            return


def save(window, out: Path, name: str) -> None:
    settle(window)
    path = out / f"{name}.png"
    if not window.grab().save(str(path)):
        raise SystemExit(f"could not write {path}")
    print(f"wrote {path}", flush=True)


def training_tab(window) -> None:
    """The newest three finished runs overlaid in the plots (as "Show in plots" in the Runs tab does)."""
    from core.catalog.records import RunStatus
    from core.catalog.runs import list_runs
    from workbench.viewmodels.requests import PlotRuns

    runs = [run for run in list_runs(window.workspace.catalog) if run.status == RunStatus.FINISHED]
    window.workspace.request(PlotRuns(tuple(run.id for run in runs[-3:])))
    panel = window.view("training")
    wait(lambda: not panel.detecting, 60)


def runs_tab(window) -> None:
    view = window.view("runs")
    wait(lambda: view.row_count() > 0, 60)
    item = view.table.topLevelItem(view.row_count() - 1)
    for row in range(view.row_count()):  # the newest group: opened and selected (its runs compared)
        candidate = view.table.topLevelItem(row)
        if candidate.childCount():
            item = candidate
    item.setExpanded(True)
    item.setSelected(True)
    wait(lambda: view.table_data is not None, 300)


def queue_tab(key: str, items: Callable) -> Callable:
    """Label issues, Label next: the queue found (its first row shown) as **Find** leaves it."""

    def action(window) -> None:
        view = window.view(key)
        wait(view.find_button.isEnabled, 60)
        view.find_button.click()
        wait(lambda: view.report is not None, 600)
        if view.report is not None and items(view.report):
            view.table.selectRow(0)

    return action


def matrix_tab(window) -> None:
    view = window.view("matrix")
    wait(lambda: view.features.count() > 0 and view.train_button.isEnabled(), 60)
    view.set_variants(["nw", "crt", "balanced-softmax"])
    view.seed_count.setValue(1)
    view.train_button.click()
    wait(lambda: view.table_data is not None, 600)


def browse_tab(window) -> None:
    view = window.view("browser")
    wait(lambda: view.model.rowCount() > 0, 60)
    view.grid.setCurrentIndex(view.model.index(0))


ACTIONS: dict[str, Callable] = {
    "browser": browse_tab,
    "training": training_tab,
    "runs": runs_tab,
    "issues": queue_tab("issues", lambda report: report.issues),
    "matrix": matrix_tab,
    "label_next": queue_tab("label_next", lambda report: report.suggestions),
}
TABS = ("browser", "imbalance", "training", "runs", "review", "issues", "matrix", "label_next", "map")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("catalog")
    parser.add_argument("--out", default=str(ROOT / "docs" / "images"))
    parser.add_argument("--size", default="1024x700")
    parser.add_argument("--tabs", default=",".join(TABS), help="comma-separated tabs (default: all)")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    from workbench.app.application import application, create_main_window

    application()
    window = create_main_window(args.catalog)
    window.resize(width, height)
    window.show()
    settle(window)
    for key in args.tabs.split(","):
        window.tabs.setCurrentWidget(window.view(key))
        ACTIONS.get(key, lambda _w: None)(window)
        save(window, out, key)
    window.close()
    return 0


if __name__ == "__main__":
    from workbench.app.application import finish

    finish(main())
