"""``tailor predict``, ``label-issues`` and ``duplicates`` as a user runs them: JSON shapes, one-line errors."""

from __future__ import annotations

import json

from core.catalog import edits
from core.catalog.store import Catalog
from tests.conftest import dump_tables, run_cli
from tests.curation.test_curation import ids_of, label_id
from tests.curation.test_curation import trained as trained
from tests.curation.test_curation import weights as weights
from tests.curation.test_curation import weights_file as weights_file


def test_predict_label_issues_and_duplicates_from_the_command_line(trained):
    location, run_id = trained
    with Catalog(location) as cat:
        unlabeled = ids_of(cat, "green")[:3]
        edits.clear(cat, unlabeled, cat.attribute("colour").id)
        flipped = ids_of(cat, "red")[0]
        edits.assign(cat, [flipped], label_id(cat, "blue"))
    done = run_cli("predict", location, str(run_id), "--json")
    assert done.returncode == 0, done.stderr
    items = json.loads(done.stdout)
    assert sorted(item["image_id"] for item in items) == sorted(unlabeled)
    assert set(items[0]) == {"image_id", "path", "label", "confidence", "scores"}
    assert set(items[0]["scores"]) == {"red", "green", "blue"} and items[0]["label"] in items[0]["scores"]
    text = run_cli("predict", location, str(run_id), "--all")
    assert text.returncode == 0 and "predicted 51 images (all)" in text.stdout
    issues = run_cli("label-issues", location, "-a", "colour", "--json")
    assert issues.returncode == 0, issues.stderr
    queue = json.loads(issues.stdout)
    assert queue and set(queue[0]) == {"image_id", "path", "given", "suggested", "score", "priority"}
    assert any(item["image_id"] == flipped and item["given"] == "blue" for item in queue), queue
    duplicates = run_cli("duplicates", location, "--run", str(run_id), "--exact-only", "--json")
    assert duplicates.returncode == 0 and json.loads(duplicates.stdout) == []


def test_a_label_kept_from_the_command_line_is_not_listed_again(trained):
    from tests.conftest import main_cli

    location, _run_id = trained
    with Catalog(location) as cat:
        flipped, bare = ids_of(cat, "red")[0], ids_of(cat, "green")[0]
        edits.assign(cat, [flipped], label_id(cat, "blue"))
        edits.clear(cat, [bare], cat.attribute("colour").id)
    refused = main_cli("label-issues", location, "-a", "colour", "--keep", str(flipped), str(bare))
    assert refused.returncode == 2 and f"image {bare} has no 'colour' label: there is nothing to keep" in refused.stderr
    with Catalog(location) as cat:
        assert dump_tables(cat, ("label_review",))["label_review"] == []  # one transaction: the other not kept either
    queue = [
        item["image_id"] for item in json.loads(main_cli("label-issues", location, "-a", "colour", "--json").stdout)
    ]
    assert flipped in queue
    kept = main_cli("label-issues", location, "-a", "colour", "--keep", str(flipped))
    assert kept.returncode == 0 and kept.stdout.startswith("Keep the 'colour' labels of 1 image (features "), kept
    again = main_cli("label-issues", location, "-a", "colour", "--keep", str(flipped))
    assert again.stdout.startswith("Keep the 'colour' labels of 0 images")  # kept already: no second row
    listed = json.loads(main_cli("label-issues", location, "-a", "colour", "--json").stdout)
    assert flipped not in [item["image_id"] for item in listed]
    text = main_cli("label-issues", location, "-a", "colour")
    assert "1 kept earlier left out" in text.stdout


def test_bad_input_exits_2_with_one_line_and_writes_nothing(trained, capsys):
    """Through ``main`` in this process (the script's own entry point; one subprocess above shows the script)."""
    from core.cli.main import main

    location, run_id = trained
    with Catalog(location) as cat:
        before = dump_tables(cat, ("annotation", "prediction", "label_review"))
    for args, message in [
        (("predict", location, "99"), "no run 99 in this catalog"),
        (("predict", location, str(run_id), "-a", "shape"), f"run {run_id} was trained on 'colour', not 'shape'"),
        (("label-issues", location, "-a", "shape"), "shape"),
        (("label-issues", location, "-a", "colour", "--folds", "1"), "--folds must be between 2 and 20"),
        (("duplicates", location, "--threshold", "2"), "--threshold must be in (0, 1]"),
        (("label-issues", location, "-a", "colour", "--keep", "999999"), "no image with id 999999"),
    ]:
        code = main(list(args))
        err = capsys.readouterr().err
        assert code == 2 and message in err, (args, err)
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    with Catalog(location) as cat:
        assert dump_tables(cat, ("annotation", "prediction", "label_review")) == before
