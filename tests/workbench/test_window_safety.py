"""The window shows a shared catalog's names as plain text, runs nothing from the folder it was started in, never
shows one catalog's pictures in another, quits when a run ends under its question, and keeps to test settings."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel

from core.analysis.compare import compare
from core.analysis.compare_exports import compare_markdown
from core.catalog.store import Catalog
from core.ingest.importer import import_source, run
from tests.conftest import write_image
from tests.qt_helpers import idle, open_window
from workbench.widgets.grid import CellRole
from workbench.workers import tasks

HOSTILE = ["<font size=7 color=red>FAKE</font>", "<img src=file:///etc/passwd>", "<b>BOLD</b> *x*"]


def _hostile_catalog(tmp_path) -> Path:
    rows = ["path,labels"]
    for k, label in enumerate(HOSTILE):
        for i in range(4):
            write_image(tmp_path / "img" / f"{k}-{i}.png", colour=(40 * k, 20 * i, 90))
            rows.append(f'img/{k}-{i}.png,"{label}"')
    (tmp_path / "m.csv").write_text("\n".join(rows) + "\n")
    location = tmp_path / "hostile.sqlite"
    with Catalog.create(location) as catalog:
        run(import_source(catalog, tmp_path / "m.csv", "<i>attr</i>"))
    return location


def _rendered_as_markup(window) -> list[str]:
    """QLabels that would render a catalog name as markup: rich or auto text holding a raw tag."""
    bad = []
    for widget in window.findChildren(QLabel):
        text = widget.text()
        if widget.textFormat() != Qt.TextFormat.PlainText and any(tag in text for tag in ("<font", "<img", "<i>attr")):
            bad.append(text)
    return bad


def test_names_from_the_catalog_are_plain_text_in_every_tab(qtbot, tmp_path, monkeypatch):
    from workbench.workers.training_queue import TrainingQueue

    monkeypatch.setattr(TrainingQueue, "prepare", lambda self: False)  # showing the Train tab imports no torch here
    location = _hostile_catalog(tmp_path)
    window = open_window(qtbot, location)
    window.view("browser").grid.selectAll()
    for index in range(window.tabs.count()):
        window.tabs.setCurrentIndex(index)
        idle(qtbot, window)
    qtbot.waitUntil(lambda: "images" in window.view("imbalance").summary.text(), timeout=10000)
    assert "&lt;i&gt;attr&lt;/i&gt;" in window.view("imbalance").summary.text()
    assert "&lt;i&gt;attr&lt;/i&gt;" in window.view("browser").labels.title.text()
    assert _rendered_as_markup(window) == []
    tips = [
        window.view("browser").labels.list.item(i).toolTip() for i in range(window.view("browser").labels.list.count())
    ]
    assert tips and all("<font" not in tip and "<img" not in tip for tip in tips)
    model = window.view("browser").model
    tip = model.data(model.index(0), Qt.ItemDataRole.ToolTipRole)
    assert "&lt;" in tip and "<font" not in tip and "<img" not in tip


def test_markdown_exports_escape_names(tmp_path):
    table = {
        "attribute": "a",
        "labels": ["x|y\n<script>", "*z*"],
        "train_counts": [3, 4],
        "baseline": 1,
        "best_ap": [0.5, 0.5],
        "rows": [
            {
                "run_id": 1,
                "loss": "nw",
                "ap": [0.5, 0.5],
                "top1": 0.5,
                "acsa": 0.5,
                "gm": 0.5,
                "macro_ap": 0.5,
                "delta": {},
                "groups": {},
            }
        ],
    }
    text = compare_markdown(table)
    header = text.splitlines()[0]
    assert (
        header.count(" | ")
        == len(["run", "loss", "l1", "l2", "top-1", "ACSA", "GM", "macro AP", "head AP", "medium AP", "tail AP"]) - 1
    )
    assert "<script>" not in text and "&lt;script&gt;" in text and "\\*z\\*" in text
    assert compare.__name__  # the table itself comes from core.catalog.runs.compare (tested in test_training)


def test_the_device_probe_never_runs_code_from_the_current_folder(qtbot, tmp_path, monkeypatch):
    evil = tmp_path / "downloads"
    marker = tmp_path / "ran.txt"
    (evil / "core").mkdir(parents=True)
    (evil / "core" / "__init__.py").write_text("")
    (evil / "core" / "devices.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    location = _hostile_catalog(tmp_path)
    monkeypatch.chdir(evil)
    window = open_window(qtbot, location)
    qtbot.waitUntil(lambda: window.view("training").device_text != "detecting…", timeout=60000)
    assert window.view("training").device_text in ("CPU",) or window.view("training").device_text.startswith("GPU")
    assert not marker.exists()


def test_thumbnails_follow_the_catalog_not_the_image_id(qtbot, tmp_path):
    catalogs = []
    for name, colour in (("red", (230, 20, 20)), ("blue", (20, 20, 230))):
        write_image(tmp_path / name / "x" / "only.png", colour=colour, size=(16, 16))
        location = tmp_path / f"{name}.sqlite"
        with Catalog.create(location) as catalog:
            run(import_source(catalog, tmp_path / name, "colour"))
        catalogs.append(location)
    window = open_window(qtbot, catalogs[0])

    def colour_of_first() -> tuple[int, int, int] | None:
        model = window.view("browser").model
        if model.rowCount() == 0:
            return None
        image, _caption = model.data(model.index(0), CellRole) or (None, None)
        if image is None:
            return None
        pixel = image.pixelColor(image.width() // 2, image.height() // 2)
        return pixel.red(), pixel.green(), pixel.blue()

    qtbot.waitUntil(lambda: colour_of_first() is not None, timeout=15000)
    assert colour_of_first()[0] > 200
    window.open_catalog(str(catalogs[1]))
    qtbot.waitUntil(
        lambda: (
            window.workspace.location == str(catalogs[1])
            and colour_of_first() is not None
            and colour_of_first()[2] > 200
        ),
        timeout=15000,
    )


def test_quit_when_the_run_ends_while_the_question_is_open(qtbot, tmp_path, monkeypatch):
    from core.config import TrainConfig
    from workbench.app import main_window
    from workbench.workers.training_queue import Job

    window = open_window(qtbot, _hostile_catalog(tmp_path))  # the Train tab stays hidden: torch is not imported
    qtbot.waitUntil(lambda: window.workspace.queue is not None, timeout=10000)
    queue = window.workspace.queue
    queue._running = Job(1, TrainConfig(attribute="a"), status="running")

    def run_ends_meanwhile(*_args) -> bool:
        queue._running = None  # the last epoch finished while the user read the question
        queue.idle.emit()
        return True

    monkeypatch.setattr(main_window.plain, "ask", run_ends_meanwhile)
    window.close()
    assert not window.isVisible()


def test_settings_never_reach_the_user_s_folders(tmp_path):
    import os

    from workbench.viewmodels import settings

    home = Path(os.environ["XDG_CONFIG_HOME"]).parent
    assert Path(settings.settings().fileName()).is_relative_to(tmp_path.parent.parent) or Path(
        settings.settings().fileName()
    ).is_relative_to(home)
    code = "from workbench.viewmodels import settings; print(settings.settings().fileName())"
    child = subprocess.run(
        [sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(Path.cwd())!r}); {code}"],
        capture_output=True,
        text=True,
        timeout=60,
        env=os.environ.copy(),
    )
    assert child.returncode == 0, child.stderr
    assert Path(child.stdout.strip()).is_relative_to(home), child.stdout
    assert not Path(child.stdout.strip()).is_relative_to(Path.home() / ".config")


def test_closing_the_catalog_while_torch_loads_raises_nothing(qtbot, tmp_path, monkeypatch):
    """Opening the Train tab imports torch in the background; the queue that asked goes with its catalog when the
    window opens another one (or closes) meanwhile, and the import's end must not emit on the deleted queue."""
    import time

    from workbench.workers import torch_loading, training_queue

    monkeypatch.setattr(torch_loading, "loaded", lambda: False)
    monkeypatch.setattr(training_queue, "_prepare", lambda: time.sleep(1.0))  # a slow torch import
    first = _hostile_catalog(tmp_path / "a")
    window = open_window(qtbot, first)
    window.tabs.setCurrentWidget(window.view("training"))
    qtbot.waitUntil(lambda: window.workspace.queue is not None and window.workspace.queue._preparing, timeout=10000)
    old = window.workspace.queue
    window.open_catalog(str(_hostile_catalog(tmp_path / "b")))
    qtbot.waitUntil(lambda: window.workspace.queue is not None and window.workspace.queue is not old, timeout=10000)
    # the import ends after the first queue was deleted: pytest-qt fails on any exception
    qtbot.waitUntil(lambda: not tasks.busy(), timeout=120000)


def test_the_window_finds_its_icon_and_stylesheet():
    """resources/ is found from workbench/app/ (the package move once left the window without icon and style)."""
    from workbench.app import resources

    assert resources.resource("icons/tailor.svg").is_file()
    assert "QTabBar::tab" in resources.stylesheet()


def test_a_device_probe_destroyed_while_its_process_runs_raises_nothing(qtbot):
    """A window closed within seconds of opening deletes its running probe: the QProcess's error signal, sent while
    it is destroyed, used to reach a deleted DeviceProbe ("Signal source has been deleted")."""
    from PySide6.QtCore import QObject
    from shiboken6 import delete

    from workbench.workers.device_probe import DeviceProbe

    owner = QObject()
    probe = DeviceProbe(owner)
    probe.start()
    qtbot.waitUntil(lambda: probe._process is not None and probe._process.processId() > 0, timeout=5000)
    process = probe._process
    finished = []
    process.destroyed.connect(lambda: finished.append(True))
    delete(owner)  # as when the window goes, the probe and its process with it
    qtbot.waitUntil(lambda: bool(finished), timeout=5000)  # its last signals were sent: none reached the probe


def test_quit_is_answered_at_once_whatever_the_training_thread_does(qtbot, tmp_path, monkeypatch):
    """A run that does not stop (stuck in a step, or in a catalog that cannot be written): the window goes at
    once and the process closes after the deadline; it ignored clicks for minutes before."""
    import time

    from core.config import TrainConfig
    from workbench.app import main_window
    from workbench.workers.training_queue import Job

    window = open_window(qtbot, _hostile_catalog(tmp_path))
    qtbot.waitUntil(lambda: window.workspace.queue is not None, timeout=10000)
    window.workspace.queue._running = Job(1, TrainConfig(attribute="a"), status="running")  # never ends
    monkeypatch.setattr(main_window.plain, "ask", lambda *_args: True)
    monkeypatch.setattr(main_window, "QUIT_DEADLINE_MS", 300)
    started = time.monotonic()
    window.close()
    assert not window.isVisible() and time.monotonic() - started < 1.0
    assert window.workspace.editor is not None  # the process waits for the run a while...
    qtbot.waitUntil(lambda: window.workspace.editor is None, timeout=5000)  # ...then closes the catalog and ends
