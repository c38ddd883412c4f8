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
