"""The Matrix tab trains the variants x seeds on a worker with a progress dialog and shows the same table as
``tailor matrix`` (values equal, run ids aside), with a plot of one run's per-label differences and their
intervals against training counts."""

from __future__ import annotations

import json
import os
from pathlib import Path

from core.analysis.compare_exports import compare_json
from tests.conftest import main_cli
from tests.experiments.test_matrix import catalog as catalog
from tests.features.test_feature_store import weights_file as weights_file
from tests.qt_helpers import idle, open_window


def without_ids(runs: list[dict]) -> list[dict]:
    return [{k: v for k, v in run.items() if k != "run_id"} for run in runs]


def test_the_matrix_tab_shows_the_table_tailor_matrix_prints(qtbot, catalog):
    cli = main_cli("matrix", catalog, "-a", "colour", "--features-of", "1", "--variants", "nw,crt,isw", "--seeds",
                   "0,1", "--epochs", "2", "--json")  # fmt: skip
    assert cli.returncode == 0, cli.stderr
    window = open_window(qtbot, catalog)
    view = window.view("matrix")
    window.tabs.setCurrentWidget(view)
    qtbot.waitUntil(lambda: view.features.count() > 0 and view.train_button.isEnabled(), timeout=20000)
    view.features.setCurrentIndex(
        0
    )  # one entry per extractor: run 1's pretrained backbone, as the CLI's --features-of 1
    view.set_variants(["nw", "crt", "isw"])
    view.seed.setValue(0)
    view.seed_count.setValue(2)
    view.epochs.setValue(2)
    assert view.baseline.currentText() == "nw"
    view.train_button.click()
    qtbot.waitUntil(lambda: view.table_data is not None, timeout=120000)
    assert without_ids(compare_json(view.table_data)["runs"]) == without_ids(json.loads(cli.stdout))
    assert view.table.rowCount() == 6 + 3  # six runs, three seed groups
    shown = view.plotted()
    assert shown["points"] and all(low <= delta <= high for _n, _c, delta, low, high, _f in shown["points"])
    assert len(view.points.data) == len(shown["points"])
    path = view.export("md", str(Path(catalog).parent / "matrix.md"))
    assert "± " in Path(path).read_text()
    if os.environ.get("TAILOR_SCREENSHOTS"):
        window.resize(1280, 760)
        idle(qtbot, window)
        window.grab().save(str(Path(os.environ["TAILOR_SCREENSHOTS"]) / "matrix.png"))
