"""``tailor accept``: a run's stored predictions above each label's threshold become labels (source model) after a
per-label preview; a label with too few test images is left out unless --few; --dry-run writes nothing; bad input
is one line and writes nothing."""

from __future__ import annotations

import json

import pytest

from core.catalog import edits
from core.catalog.store import Catalog
from core.heads.train import train_head
from tests.conftest import dump_tables, main_cli, run_cli
from tests.curation.test_curation import colour_catalog, ids_of
from tests.features.test_feature_store import head_config
from tests.features.test_feature_store import weights_file as weights_file


@pytest.fixture
def predicted(tmp_path, weights_file) -> tuple[str, int, list[int]]:
    """A colour catalog (red and green with enough test images, blue with too few), a head run, eight images whose
    labels were taken away since, and the run's predictions of them."""
    location = colour_catalog(tmp_path, counts=(120, 110, 8))
    run_id = list(train_head(location, head_config(weights_file, epochs=4)))[-1].run_id
    with Catalog(location) as cat:
        cleared = ids_of(cat, "red")[-3:] + ids_of(cat, "green")[-3:] + ids_of(cat, "blue")[-2:]
        edits.clear(cat, cleared, cat.attribute("colour").id)
    assert main_cli("predict", location, str(run_id)).returncode == 0
    return location, run_id, cleared


def test_accept_previews_per_label_then_labels_above_the_thresholds(predicted):
    location, run_id, cleared = predicted
    with Catalog(location) as cat:
        before = dump_tables(cat, ("annotation",))
    dry = run_cli("accept", location, str(run_id), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    lines = dry.stdout.splitlines()
    assert lines[0].split()[:4] == ["label", "images", "threshold", "test"]
    blue = next(line for line in lines if line.startswith("blue"))
    assert "too few test images (fewer than 10)" in blue and blue.endswith("(left out)")
    assert lines[-1].startswith("dry run: nothing written;")
    with Catalog(location) as cat:
        assert dump_tables(cat, ("annotation",)) == before
    done = json.loads(main_cli("accept", location, str(run_id), "--json").stdout)
    accepted = {row["label"]: row["accepted"] for row in done["labels"]}
    assert accepted["blue"] is False and done["written"]["labelled"] > 0
    with Catalog(location) as cat:
        after = dump_tables(cat, ("annotation",))["annotation"]
    new = [row for row in after if row not in before["annotation"]]
    assert len(new) == done["written"]["labelled"] and {row[1] for row in new} <= set(cleared)
    assert all("model" in row for row in new)
    per_label = {row["label"]: row["images"] for row in done["labels"] if row["accepted"]}
    assert sum(per_label.values()) == len(new)


def test_few_accepts_the_label_with_too_few_test_images_and_label_chooses(predicted):
    location, run_id, _cleared = predicted
    only = json.loads(main_cli("accept", location, str(run_id), "--label", "red", "--dry-run", "--json").stdout)
    few = json.loads(main_cli("accept", location, str(run_id), "--few", "--dry-run", "--json").stdout)
    eligible = {row["label"] for row in few["labels"] if row["accepted"]}
    assert {"red", "green"} <= eligible  # both with enough test images and images above their thresholds
    assert {row["label"] for row in only["labels"] if row["accepted"]} == {"red"} and only["written"] is None
    blue = next(row for row in few["labels"] if row["label"] == "blue")
    assert blue["accepted"] == (blue["threshold"] is not None and blue["images"] > 0)


def test_bad_accept_input_is_one_line_and_writes_nothing(predicted):
    location, run_id, _cleared = predicted
    with Catalog(location) as cat:
        before = dump_tables(cat, ("annotation",))
    for args, said in (
        ((str(run_id), "--label", "purple"), "--label purple: run 1 has no such label (labels: blue, green, red)"),
        ((str(run_id), "--precision", "1.5"), "--precision must be in (0, 1], got 1.5"),
        (("99",), "no run 99 in this catalog"),
    ):
        result = main_cli("accept", location, *args)
        assert result.returncode == 2 and said in result.stderr and result.stderr.count("\n") == 1, result.stderr
    with Catalog(location) as cat:
        assert dump_tables(cat, ("annotation",)) == before


def test_a_run_without_stored_predictions_says_to_predict_first(tmp_path, weights_file):
    location = colour_catalog(tmp_path)
    run_id = list(train_head(location, head_config(weights_file, epochs=1)))[-1].run_id
    result = main_cli("accept", location, str(run_id))
    assert result.returncode == 2
    assert f"run {run_id} has no stored predictions: tailor predict CATALOG {run_id} first" in result.stderr
