"""Label next: the queue that grows the rare labels (core ``suggest``, ``tailor suggest`` and ``tailor answer``),
and the answers' table (``core.catalog.answers``) with undo row for row."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import text

from core.base.iteration import drain
from core.catalog import edits
from core.catalog.answers import answer_no, answer_yes, answered_no
from core.catalog.model_edits import keep_label
from core.catalog.store import Catalog
from core.curation.suggest import _queue, suggest
from core.heads.train import train_head
from core.ingest.importer import import_source, run
from tests.conftest import main_cli
from tests.features.test_feature_store import head_config
from tests.features.test_feature_store import weights_file as weights_file
from tests.heads.test_heads import finished
from tests.heads.test_heads import shapes as shapes
from tests.training.test_training import COLOURS

UNLABELED = {"red": 4, "green": 4, "blue": 5}


def rows(catalog: str, table: str) -> list[tuple]:
    with Catalog(catalog) as cat, cat.session() as s:
        return [tuple(r) for r in s.execute(text(f"select * from {table} order by id"))]


@pytest.fixture
def pool(shapes, tmp_path) -> tuple[str, dict[str, list[int]]]:
    """The shapes catalog (red 16, green 8, blue 5 labelled) with unlabeled images of each colour, and their ids."""
    rng = np.random.default_rng(1)
    lines = ["path,labels"]
    for name, n in UNLABELED.items():
        for i in range(n):  # the colour with a grey block of its own size and place: different products
            pixels = np.clip(np.array(COLOURS[name]) + rng.normal(0, 25, (24, 24, 3)), 0, 255).astype(np.uint8)
            top, left, size = rng.integers(0, 12), rng.integers(0, 12), rng.integers(4, 12)
            pixels[top : top + size, left : left + size] = rng.integers(90, 160)
            path = tmp_path / "new" / f"{name}{i}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(pixels).save(path)
            lines.append(f"{name}{i}.png,")
    (tmp_path / "new" / "new.csv").write_text("\n".join(lines) + "\n")
    with Catalog(shapes) as cat:
        run(import_source(cat, tmp_path / "new" / "new.csv", "colour"))
        with cat.session() as s:
            found = s.execute(text("select id, path from image where path like '%/new/%' order by id")).all()
    ids: dict[str, list[int]] = {name: [] for name in UNLABELED}
    for image_id, path in found:
        ids[Path(path).stem.rstrip("0123456789")].append(image_id)
    return shapes, ids


def trained(catalog: str, weights_file: str, **kw) -> int:
    return finished(train_head(catalog, head_config(weights_file, epochs=30, lr=0.01, **kw))).run_id


def test_the_queue_proposes_the_rare_labels_unlabeled_images_first(pool, weights_file):
    catalog, ids = pool
    run_id = trained(catalog, weights_file)
    report = drain(suggest(catalog, "colour", ["blue"], count=5, diverse=False))
    assert report.run_id == run_id and report.pool == sum(UNLABELED.values())
    assert {s.image_id for s in report.suggestions} == set(ids["blue"])
    assert all(s.label == "blue" for s in report.suggestions)
    scores = [s.score for s in report.suggestions]
    assert scores == sorted(scores, reverse=True) and "prior taken out" in report.correction
    needs = report.labels[0]
    assert (needs.label, needs.train + needs.test + needs.unsplit) == ("blue", 5)


def test_default_labels_are_the_tail_taking_turns_and_json_lists_the_queue(pool, weights_file):
    catalog, ids = pool
    trained(catalog, weights_file)
    result = main_cli("suggest", catalog, "-a", "colour", "-n", "3", "--no-diversity", "--json")
    assert result.returncode == 0, result.stderr
    items = json.loads(result.stdout)
    assert {item["label"] for item in items} == {"blue"}  # red 16, green 8, blue 5: the tail is blue
    assert set(items[0]) == {"image_id", "path", "label", "score", "labels", "called", "split"} and len(items) == 3
    with Catalog(catalog) as cat, cat.engine.connect() as conn:
        splits = dict(conn.execute(text("SELECT id, split FROM image")).all())
    assert [item["split"] for item in items] == [splits[item["image_id"]] for item in items]
    both = drain(suggest(catalog, "colour", ["blue", "green"], count=2, diverse=False))
    assert [s.label for s in both.suggestions] == ["blue", "green", "blue", "green"]
    assert len({s.image_id for s in both.suggestions}) == 4
    printed = main_cli("suggest", catalog, "-a", "colour", "--label", "blue", "-n", "2").stdout
    assert "is it 'blue'?" in printed and "'blue': " in printed and "more test images" in printed


def test_a_balanced_run_is_ranked_by_its_own_scores(pool, weights_file):
    catalog, _ = pool
    trained(catalog, weights_file, loss="balanced-softmax")
    report = drain(suggest(catalog, "colour", ["blue"], count=2))
    assert report.correction.startswith("the run's own scores")


def test_answers_leave_the_queue_and_undo_row_for_row(pool, weights_file):
    catalog, ids = pool
    trained(catalog, weights_file)
    first = drain(suggest(catalog, "colour", ["blue"], count=5, diverse=False)).suggestions
    yes, no = first[0].image_id, first[1].image_id
    before = rows(catalog, "annotation"), rows(catalog, "label_answer")
    with Catalog(catalog) as cat:
        blue = first[0].label_id
        said_yes = answer_yes(cat, [yes], blue)
        said_no = answer_no(cat, [no], blue)
        assert answered_no(cat, blue) == {no}
        assert answer_no(cat, [no], blue).empty  # answered already: nothing new
    again = drain(suggest(catalog, "colour", ["blue"], count=5, diverse=False))
    assert {yes, no}.isdisjoint(s.image_id for s in again.suggestions)
    assert again.labels[0].answered_no == 1
    with Catalog(catalog) as cat, cat.session() as s:
        query = text("select source from annotation where image_id = :i")
        assert s.execute(query, {"i": yes}).scalars().all() == ["human"]
    with Catalog(catalog) as cat:
        edits.revert(cat, said_no)
        edits.revert(cat, said_yes)
    assert (rows(catalog, "annotation"), rows(catalog, "label_answer")) == before
    cli = main_cli("answer", catalog, "-a", "colour", "--label", "blue", "--no", str(no), str(yes))
    assert cli.returncode == 0 and "2 images not 'blue'" in cli.stdout
    assert {r[1] for r in rows(catalog, "label_answer")} == {no, yes}


def test_deleting_a_label_or_attribute_takes_its_answers_and_reviews_and_undo_brings_them_back(pool, weights_file):
    catalog, ids = pool
    with Catalog(catalog) as cat:
        blue = next(c.label_id for c in cat.label_counts("colour").labels if c.name == "blue")
        attribute_id = cat.attribute("colour").id
        answer_no(cat, ids["red"][:2], blue)
        keep_label(cat, 1, attribute_id, [blue], "features-x")
        answers, reviews = rows(catalog, "label_answer"), rows(catalog, "label_review")
        deleted = edits.delete_label(cat, blue)
        assert rows(catalog, "label_answer") == []
        edits.revert(cat, deleted)
        assert rows(catalog, "label_answer") == answers
        gone = edits.delete_attribute(cat, attribute_id)
        assert rows(catalog, "label_answer") == [] and rows(catalog, "label_review") == []
        edits.revert(cat, gone)
    assert rows(catalog, "label_answer") == answers and rows(catalog, "label_review") == reviews


def test_the_batch_is_different_products_not_near_copies():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(4, 32))
    features = np.concatenate([c + rng.normal(0, 0.01, (10, 32)) for c in centres]).astype(np.float16)
    score = np.concatenate([np.linspace(0.99, 0.9, 10), np.linspace(0.8, 0.7, 10), np.linspace(0.6, 0.5, 10),
                            np.linspace(0.3, 0.2, 10)])  # fmt: skip
    everything = np.ones(40, dtype=bool)
    plain = _queue(score, features, everything, 4, diverse=False)
    assert plain == [0, 1, 2, 3]  # four near-copies of the first product
    diverse = _queue(score, features, everything, 4, diverse=True)
    assert diverse == [0, 10, 20, 30]  # the best of each product
    allowed = np.array([i not in (0, 10) for i in range(40)])
    assert _queue(score, features, allowed, 2, diverse=True) == [1, 11]
    assert _queue(score, features, ~everything, 2, diverse=True) == []
    # near-copies of the label's own images are not asked about
    assert _queue(score, features, everything, 3, diverse=True, anchors=features[:1]) == [10, 20]
    # the images the run does not call the label come first, then the others
    missed = np.arange(40) >= 20
    assert _queue(score, features, everything, 3, diverse=True, missed=missed) == [20, 30, 0]
    assert _queue(score, features, everything, 3, diverse=False, missed=missed) == [20, 21, 22]


def test_bad_input_is_one_line_and_writes_nothing(pool, weights_file, tmp_path):
    catalog, ids = pool
    refused = main_cli("suggest", catalog, "-a", "colour")
    assert refused.returncode == 2 and "no finished run of 'colour'" in refused.stderr
    run_id = trained(catalog, weights_file)
    before = rows(catalog, "annotation"), rows(catalog, "label_answer"), rows(catalog, "prediction")
    with Catalog(catalog) as cat:
        edits.create_attribute(cat, "other")
        edits.create_label(cat, cat.attribute("colour").id, "empty")  # a label with no images
    checks = [
        (
            ("suggest", catalog, "-a", "other", "--run", str(run_id)),
            f"run {run_id} was trained on 'colour', not 'other'",
        ),
        (("suggest", catalog, "-a", "colour", "--label", "purple"), "has no label 'purple'"),
        (("suggest", catalog, "-a", "colour", "--label", "empty"), "has no label 'empty': it had no training images"),
        (("suggest", catalog, "-a", "colour", "-n", "5000"), "--count must be between 1 and 1000"),
        (("suggest", catalog, "-a", "colour", "--run", "99"), "no run 99"),
        (("answer", catalog, "-a", "colour", "--label", "blue", "--no", "424242"), "no image with id 424242"),
        (("answer", catalog, "-a", "colour", "--label", "purple", "--yes", "1"), "'colour' has no label 'purple'"),
    ]
    for args, message in checks:
        result = main_cli(*args)
        assert result.returncode == 2 and message in result.stderr, (args, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1
    missing = ids["green"][0]
    with Catalog(catalog) as cat, cat.session() as s:
        path = s.execute(text("select path from image where id = :i"), {"i": missing}).scalar_one()
    Path(path).unlink()
    result = main_cli("suggest", catalog, "-a", "colour", "--label", "blue")
    assert result.returncode == 2 and f"image {missing}: {path} is missing on disk" in result.stderr
    assert (rows(catalog, "annotation"), rows(catalog, "label_answer"), rows(catalog, "prediction")) == before
    with Catalog(catalog) as cat:
        edits.assign(cat, [i for name in ids for i in ids[name]], next(
            c.label_id for c in cat.label_counts("colour").labels if c.name == "red"))  # fmt: skip
    result = main_cli("suggest", catalog, "-a", "colour")
    assert result.returncode == 2 and "no unlabeled images to propose" in result.stderr
