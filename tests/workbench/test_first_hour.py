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
