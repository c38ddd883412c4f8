"""What a new user meets first (issue 30): the Review tab opens on the newest run."""

from __future__ import annotations

from tests.features.test_feature_store import weights_file as weights_file
from tests.heads.test_heads import shapes as shapes
from tests.heads.test_run_settings import two_runs
from tests.qt_helpers import open_window


def test_review_opens_on_the_newest_run(qtbot, shapes, weights_file):
    first, second = two_runs(shapes, weights_file)
    window = open_window(qtbot, shapes)
    review = window.view("review")
    window.tabs.setCurrentWidget(review)
    qtbot.waitUntil(lambda: review.review is not None, timeout=15000)
    assert second > first and review.review.run_id == second and review.run.currentData() == second
    assert [review.run.itemData(i) for i in range(review.run.count())] == [second, first]


def test_the_matrix_progress_follows_the_heads_not_only_the_feature_pass():
    from core.experiments.matrix import MatrixProgress
    from core.training.events import EpochFinished, FeatureProgress
    from workbench.workers.experiments import MatrixProgressText

    describe = MatrixProgressText()
    shown = [
        describe(MatrixProgress(0, 6, "nw", 0)),
        describe(FeatureProgress(0, 255, 255)),
        describe(EpochFinished(7, 1, 2, 0.5, 0.4, 0.001, 0.1, {})),
        describe(EpochFinished(7, 2, 2, 0.5, 0.4, 0.001, 0.1, {})),
        describe(MatrixProgress(1, 6, "crt", 0)),
        describe(EpochFinished(8, 1, 2, 0.5, 0.4, 0.001, 0.1, {})),
        describe(MatrixProgress(6, 6, "", 1)),
    ]
    texts = [p.text for p in shown if p is not None]
    assert "Training the matrix: run 1 of 6 (nw, seed 0), epoch 1 of 2" in texts
    assert "Training the matrix: run 2 of 6 (crt, seed 0), epoch 1 of 2" in texts
    heads = [p for p in shown if p is not None and p.text.startswith("Training")]
    assert [p.done for p in heads] == sorted(p.done for p in heads) and heads[-1].done == heads[-1].total


def test_review_at_1024_x_700_shows_every_column_and_whole_label_names(qtbot, tmp_path, weights_file):
    """Twelve labels: every column of the confusion matrix in view, captions on two lines, each cut at its end."""
    import numpy as np
    import pandas as pd
    from PIL import Image

    from core.catalog.store import Catalog
    from core.heads.train import train_head
    from core.ingest.importer import import_source, run
    from tests.features.test_feature_store import head_config

    rng, rows = np.random.default_rng(0), []
    for k in range(12):
        for i in range(8):
            path = tmp_path / "twelve" / f"{k}-{i}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(path)
            rows.append((str(path), f"a_rather_long_label_{k}", "test" if i < 3 else "train"))
    pd.DataFrame(rows, columns=["path", "labels", "split"]).to_csv(tmp_path / "twelve.csv", index=False)
    location = str(tmp_path / "twelve.sqlite")
    with Catalog.create(location) as cat:
        run(import_source(cat, tmp_path / "twelve.csv", "colour"))
    list(train_head(location, head_config(weights_file, epochs=1)))
    window = open_window(qtbot, location)
    window.resize(1024, 700)
    review = window.view("review")
    window.tabs.setCurrentWidget(review)
    qtbot.waitUntil(lambda: review.review is not None and review.matrix.columnCount() == 12, timeout=15000)
    qtbot.waitUntil(lambda: review.matrix.horizontalScrollBar().maximum() == 0, timeout=5000)
    item = review.items[0]
    caption = review._caption(item)
    assert caption.count("\n") == 1 and caption.split("\n")[1].startswith("← a_rather_long_label_")


def test_the_matrix_hint_to_train_a_run_first_goes_once_a_run_exists(qtbot, shapes, weights_file):
    from core.heads.train import train_head
    from tests.features.test_feature_store import head_config
    from tests.heads.test_heads import finished
    from workbench.tabs.matrix import NO_RUN_HINT

    window = open_window(qtbot, shapes)
    matrix = window.view("matrix")
    window.tabs.setCurrentWidget(matrix)
    qtbot.waitUntil(lambda: matrix.caption.text() == NO_RUN_HINT, timeout=15000)
    finished(train_head(shapes, head_config(weights_file)))
    window.tabs.setCurrentWidget(window.view("browser"))
    window.tabs.setCurrentWidget(matrix)  # shown again: the runs finished since are read
    qtbot.waitUntil(lambda: matrix.features.count() > 0, timeout=15000)
    assert matrix.caption.text() != NO_RUN_HINT and matrix.train_button.isEnabled()


def test_a_caption_too_long_for_its_place_ends_in_an_ellipsis_and_keeps_its_whole_text(qtbot):
    """The Train tab's plot caption and the Runs tab's title were clipped mid-word ("Run 1 (nw head · timm:ε")."""
    from PySide6.QtWidgets import QLabel

    from workbench.widgets.plain import ElidedLabel

    whole = "Run 1 (nw head · timm:efficientnet_lite0 · 128 px) and run 2 (crt head · resnet18)"
    label = ElidedLabel(whole)
    qtbot.addWidget(label)
    label.show()
    label.resize(160, 24)
    shown = QLabel.text(label)
    assert shown.endswith("…") and whole.startswith(shown[:-1]) and label.text() == whole
    assert label.fontMetrics().horizontalAdvance(shown) <= 160 and whole in label.toolTip()
    label.resize(2000, 24)
    assert QLabel.text(label) == whole


def test_three_runs_in_the_bars_legend_take_two_rows_and_their_names_end_in_an_ellipsis(qtbot):
    """At 1024 x 700 the legend of three runs read "run 17:", "run 18: balance", "run" (cut, one row)."""
    from PySide6.QtWidgets import QLabel

    from workbench.widgets.legend import LegendRow
    from workbench.widgets.plain import ElidedLabel

    legend = LegendRow()
    qtbot.addWidget(legend)
    legend.show()
    legend.resize(270, 40)
    names = [f"run {k}: balanced-softmax head · timm:efficientnet_lite0" for k in (17, 18, 19)]
    legend.set_entries([("#1f77b4", name, False, True) for name in names])
    layout = legend.layout()
    assert {layout.getItemPosition(i)[0] for i in range(layout.count())} == {0, 1}
    labels = legend.findChildren(ElidedLabel)
    qtbot.waitUntil(lambda: all(QLabel.text(label).endswith("…") for label in labels), timeout=5000)
    assert [label.text() for label in labels] == names and legend.texts() == names
