"""Numbers a team would act on (issue 26 point 7): overall values are marked only when every label has enough test
images, a label with one test image has no interval, a value is never outside its own interval, two seeds give no
t-interval, and a threshold at a target precision takes the higher precision among equal recalls."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import precision_recall_curve

from core.analysis.compare import MIN_SEEDS, compare, welch_interval
from core.analysis.compare_exports import compare_json, compare_markdown
from core.analysis.compare_intervals import metric_intervals, percentile_interval
from core.analysis.metrics import label_operating_point, target_index
from core.catalog.store import Catalog
from core.heads.train import train_head
from tests.curation.test_curation import trained as trained
from tests.curation.test_curation import weights as weights
from tests.features.test_feature_store import head_config
from tests.features.test_feature_store import weights_file as weights_file


def test_overall_values_are_not_marked_when_labels_have_too_few_test_images(trained, weights):
    location, first = trained
    second = list(train_head(location, head_config(weights, epochs=1, loss="ifw")))[-1].run_id
    with Catalog(location) as cat:
        table = compare(cat, [first, second], resamples=200)
    assert any(table["too_few"])
    assert "overall values are not marked significant" in table["overall_not_marked"]
    assert not any(any(row["significant"].values()) for row in table["rows"])
    assert table["overall_not_marked"] in compare_json(table)["overall_not_marked"]
    assert "Overall values are not marked significant" in compare_markdown(table)
    for j, tests in enumerate(table["test_counts"]):
        if tests < 2:
            assert all(row["ap_ci"][j] is None and row["ap_delta_ci"][j] is None for row in table["rows"])
    for row in table["rows"]:  # a value lies inside its own interval
        for key, ci in row["ci"].items():
            if ci is not None and row[key] is not None:
                assert ci[0] - 1e-9 <= row[key] <= ci[1] + 1e-9


def test_a_point_value_is_never_outside_its_interval():
    skewed = np.r_[0.243, np.full(500, 0.27)]  # row 0: the value; the resamples all above it
    low, high = metric_intervals({"ap": skewed}, "ap")[0]
    assert low <= 0.243 <= high
    assert percentile_interval(np.full(10, 0.5)) == [0.5, 0.5]


def test_two_seeds_a_group_give_no_t_interval():
    assert MIN_SEEDS == 3
    assert welch_interval([0.6, 0.8], [0.4, 0.5], 0.95) is None
    assert welch_interval([0.6, 0.8, 0.7], [0.4, 0.5, 0.45], 0.95) is not None


def test_the_threshold_at_a_target_takes_the_higher_precision_among_equal_recalls():
    """coat: 0.220 at 66.7% precision was chosen where 0.5 gave the same recall at 100%."""
    positive = np.array([1, 1, 0, 0, 0], dtype=bool)
    score = np.array([0.9, 0.8, 0.22, 0.1, 0.05])
    precision, recall, thresholds = precision_recall_curve(positive, score)
    chosen = target_index(precision, recall, 0.6)
    assert thresholds[chosen] == pytest.approx(0.8) and precision[chosen] == 1.0 and recall[chosen] == 1.0
    point = label_operating_point(positive, score, 0.6)
    assert point["threshold"] == pytest.approx(0.8) and point["recall_at_threshold"] == 1.0
    assert target_index(precision, recall, 1.01) is None


def test_overall_values_are_marked_when_every_label_has_enough_test_images(tmp_path, weights):
    from tests.curation.test_curation import colour_catalog

    location = colour_catalog(tmp_path, counts=(150, 150, 150))  # ~15 test images a label
    chance = list(train_head(location, head_config(weights, epochs=1, lr=1e-6)))[-1].run_id
    good = list(train_head(location, head_config(weights, epochs=8, lr=0.01)))[-1].run_id
    with Catalog(location) as cat:
        table = compare(cat, [chance, good], resamples=300)
    assert not any(table["too_few"]) and "overall_not_marked" not in table
    assert table["rows"][1]["significant"]["acsa"] and table["rows"][1]["delta_ci"]["acsa"][0] > 0
