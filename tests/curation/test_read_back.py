"""Values read back from a shared catalog or a cache are checked (issue 26 point 5): predictions of labels renamed,
merged or deleted since the run, thresholds edited by hand, CSV cells that a spreadsheet would run, JSON that a
strict parser refuses."""

from __future__ import annotations

import csv
import io
import json
import math

import pytest
from sqlalchemy import text

from core.analysis.operating_points import thresholds_document
from core.base import csv_cells
from core.base.errors import TailorError
from core.base.iteration import drain
from core.base.json_text import json_text
from core.catalog import edits, predictions
from core.catalog.model_edits import accept_predictions
from core.catalog.run_thresholds import save_thresholds, saved_thresholds
from core.catalog.store import Catalog
from core.curation.predict import predict
from tests.curation.test_curation import ids_of, label_id
from tests.curation.test_curation import trained as trained
from tests.curation.test_curation import weights as weights
from tests.features.test_feature_store import weights_file as weights_file


def test_a_renamed_label_is_predicted_under_its_new_name_a_deleted_one_is_refused(trained):
    location, run_id = trained
    with Catalog(location) as cat:
        edits.rename_label(cat, label_id(cat, "red"), "crimson")
        result = drain(predict(cat, run_id, scope="all"))
        assert "crimson" in result.label_names and "red" not in result.label_names
        shown = predictions.read(cat, run_id, result.image_ids, result.label_names)
        assert {p.label for p in shown} <= {"crimson", "green", "blue"}
        edits.delete_label(cat, label_id(cat, "blue"))
        before = predictions.count(cat, run_id)
        with pytest.raises(TailorError, match=r"labels 'blue' were deleted or merged since it trained"):
            drain(predict(cat, run_id, scope="all"))
        assert predictions.count(cat, run_id) == before


def test_accept_says_how_many_predictions_of_deleted_labels_it_left_out(trained):
    location, run_id = trained
    with Catalog(location) as cat:
        attribute = cat.attribute("colour")
        blues = ids_of(cat, "blue")
        drain(predict(cat, run_id, scope="all"))
        edits.clear(cat, blues, attribute.id)
        edits.delete_label(cat, label_id(cat, "blue"))
        accepted = accept_predictions(cat, run_id, blues)
        assert "of labels deleted or merged since the run left out" in accepted.edit.description


@pytest.mark.parametrize("value", ["inf", "-5", "7", "'abc'", "X'00ff'"])
def test_thresholds_edited_by_hand_are_ignored_and_named(trained, value):
    location, run_id = trained
    with Catalog(location) as cat:
        red, green = label_id(cat, "red"), label_id(cat, "green")
        save_thresholds(cat, run_id, {red: 0.5, green: 0.5}, "set by hand")
        literal = "9e999" if value == "inf" else value
        with cat.session(write=True) as s:
            s.execute(text(f"UPDATE run_threshold SET threshold = {literal} WHERE label_id = :l"), {"l": green})
        saved = saved_thresholds(cat, run_id)
        assert set(saved) == {red} and len(saved.ignored) == 1 and f"label id {green}" in saved.ignored[0]
        document = thresholds_document(cat, run_id)
        assert document["ignored"] == saved.ignored
        strict = json.loads(json_text(document), parse_constant=lambda name: pytest.fail(f"non-standard {name}"))
        green_item = next(item for item in strict["labels"] if item["name"] == "green")
        assert green_item["chosen"] != "set by hand"


def test_json_text_is_standard_json():
    value = {"a": math.inf, "b": [math.nan, 1.5, -math.inf], "c": (2.0,)}
    assert json.loads(json_text(value)) == {"a": None, "b": [None, 1.5, None], "c": [2.0]}


def test_csv_cells_that_a_spreadsheet_would_run_are_written_as_text():
    out = io.StringIO()
    rows = [['=HYPERLINK("http://x","click")', "+1+2", "@SUM(A1)", "-0.25", -3, "plain", "\tTAB"]]
    csv_cells.writer(out).writerows(rows)
    read = next(csv.reader(io.StringIO(out.getvalue())))
    assert read == ['\'=HYPERLINK("http://x","click")', "'+1+2", "'@SUM(A1)", "-0.25", "-3", "plain", "'\tTAB"]


def test_compare_csv_escapes_a_formula_label(trained, weights):
    from core.analysis.compare import compare
    from core.analysis.compare_exports import compare_csv
    from core.heads.train import train_head
    from tests.features.test_feature_store import head_config

    location, _ = trained
    with Catalog(location) as cat:
        edits.rename_label(cat, label_id(cat, "red"), "=HYPERLINK(1)")
    runs = [list(train_head(location, head_config(weights, epochs=1)))[-1].run_id for _ in range(2)]
    with Catalog(location) as cat:
        exported = compare_csv(compare(cat, runs, resamples=50))
    assert "=HYPERLINK" in exported and all(
        not cell.startswith("=") for row in csv.reader(io.StringIO(exported)) for cell in row
    )


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("DELETE FROM run_image WHERE split = 'test'", "has no stored test scores"),
        ("UPDATE run_image SET scores = X'00000000' WHERE split = 'test'", "stored test scores are damaged"),
    ],
)
def test_a_run_without_sound_test_scores_is_one_line_for_adjust_and_compare(trained, change, expected):
    from tests.conftest import main_cli

    location, run_id = trained
    with Catalog(location) as cat, cat.session(write=True) as s:
        s.execute(text(change))
    for args in (["adjust", location, str(run_id)], ["compare", location, str(run_id)]):
        result = main_cli(*args)
        assert result.returncode == 2 and expected in result.stderr and result.stderr.count("\n") == 1, result


def test_a_runs_labels_are_typed_records_and_damaged_ones_are_one_line(trained):
    """RunInfo.labels are RunLabel records (no dict unpacked by string keys); a hand-edited labels column says so."""
    from core.catalog.runs import RunLabel, get_run, list_runs

    location, run_id = trained
    with Catalog(location) as cat:
        labels = get_run(cat, run_id).labels
        assert all(isinstance(label, RunLabel) for label in labels)
        assert sorted(label.name for label in labels) == ["blue", "green", "red"] and all(
            label.train > 0 for label in labels
        )
        with cat.session(write=True) as s:
            s.execute(text("UPDATE run SET labels = :v WHERE id = :i"), {"v": '[{"id": "x", "name": 1}]', "i": run_id})
        with pytest.raises(TailorError, match="stored labels are damaged"):
            list_runs(cat)
