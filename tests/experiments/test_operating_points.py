"""Operating points with bands: thresholds at a target precision with intervals of the precision and recall they
give, thresholds saved with the run (by hand or at the target) and used by accepting predictions, exported beside
the model as JSON; bad input is one line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from core.analysis.bootstrap import resample_columns, strata
from core.analysis.operating_points import measure, precision_band, thresholds_path
from core.analysis.review import label_thresholds
from core.catalog.store import Catalog
from tests.conftest import main_cli, run_cli
from tests.experiments.test_matrix import catalog as catalog
from tests.features.test_feature_store import weights_file as weights_file


def test_a_fixed_thresholds_intervals_hold_its_test_values_and_narrow_with_more_images():
    rng = np.random.default_rng(0)
    widths = []
    for n in (200, 2000):
        truth = rng.integers(0, 2, n)
        score = np.clip(truth * 0.3 + rng.random(n) * 0.7, 0, 1)
        columns = resample_columns(strata(truth, False), 1000, 0)
        m = measure(truth == 1, score, columns, 0.5)
        expected_recall = ((score >= 0.5) & (truth == 1)).sum() / (truth == 1).sum()
        assert m.recall == expected_recall and m.recall_ci[0] <= m.recall <= m.recall_ci[1]
        assert m.precision_ci[0] <= m.precision <= m.precision_ci[1]
        widths.append(m.recall_ci[1] - m.recall_ci[0])
        band = precision_band(columns, truth == 1, score)
        assert all(lo <= hi for lo, hi in zip(band["low"], band["high"]) if lo is not None)
    assert widths[1] < widths[0] / 2  # ten times the images: about a third of the width


def test_thresholds_saved_with_the_run_are_used_by_accept_and_exported_beside_the_model(catalog, tmp_path):
    listed = json.loads(main_cli("thresholds", catalog, "1", "--json", "--resamples", "200").stdout)
    assert [p["label"] for p in listed] == ["blue", "green", "red"]
    red = listed[2]
    at = red["at_target"]
    assert at["recall_ci"][0] <= at["recall"] <= at["recall_ci"][1] and red["saved"] is None
    result = main_cli("thresholds", catalog, "1", "--set", "red=0.7", "--json", "--resamples", "50")
    assert result.returncode == 0, result.stderr
    saved = json.loads(result.stdout)[2]
    assert saved["saved"]["threshold"] == 0.7 and saved["chosen"] == "set by hand"
    with Catalog(catalog) as cat:
        used = label_thresholds(cat, 1, 0.6)
    assert used[red["label_id"]] == 0.7
    for other in listed[:2]:  # the others: the smallest threshold at 60% precision, when one reaches it
        assert used[other["label_id"]] == (other["at_target"] or {}).get("threshold")
    out = tmp_path / "model.pt"
    result = run_cli("export-model", catalog, "1", "--out", str(out))
    assert result.returncode == 0, result.stderr
    document = json.loads(thresholds_path(out).read_text())
    assert thresholds_path(out) == tmp_path / "model.pt.thresholds.json" and document["scores"] == "softmax(logits)"
    by_name = {item["name"]: item for item in document["labels"]}
    assert by_name["red"]["threshold"] == 0.7 and by_name["red"]["chosen"] == "set by hand"
    for other in listed[:2]:
        reached = other["at_target"] is not None
        assert by_name[other["label"]]["chosen"].startswith("at 60% precision" if reached else "no threshold reaches")
    assert [i["index"] for i in document["labels"]] == [0, 1, 2]
    again = main_cli("export-model", catalog, "1", "--out", str(out))
    assert again.returncode == 2 and "already exists" in again.stderr  # never written over without --force
    out.unlink()
    again = main_cli("export-model", catalog, "1", "--out", str(out))
    assert again.returncode == 2 and "thresholds file" in again.stderr and not out.exists()


def test_bad_threshold_input_is_one_line(catalog):
    for args, words in ((["--set", "pink=0.5"], "no label 'pink'"), (["--set", "red=1.5"], "between 0 and 1"),
                        (["--set", "red=x"], "not a number"), (["--precision", "0"], "--precision")):  # fmt: skip
        result = main_cli("thresholds", catalog, "1", *args)
        assert result.returncode == 2 and words in result.stderr and result.stderr.count("\n") == 1, args
    assert Path(catalog).exists()
