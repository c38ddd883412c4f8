"""Hostile and mistaken inputs get one line and exit 2, never an internal error, and nothing is written; bounded
memory where a list could grow as the square of the catalog (issue 26 point 6)."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from core.catalog.store import Catalog
from core.curation import duplicates
from core.ingest.importer import import_source, run
from tests.conftest import main_cli, make_garments


@pytest.fixture
def shop(tmp_path) -> str:
    tree = make_garments(tmp_path / "photos", {"dress": 6, "coat": 4})
    location = str(tmp_path / "shop.sqlite")
    with Catalog.create(location) as catalog:
        run(import_source(catalog, tree, "style"))
    return location


def _one_line_exit_2(*args: str) -> str:
    result = main_cli(*args)
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert result.stderr.count("\n") == 1 and "internal error" not in result.stderr, result.stderr
    return result.stderr


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["compare", "{cat}", str(2**64)], "is not a run id"),
        (["thresholds", "{cat}", "-5"], "is not a run id"),
        (["label-issues", "{cat}", "-a", "style", "--seed", "-1"], "a seed is a whole number"),
        (["compare", "{cat}", "1", "--bootstrap-seed", "-1"], "a seed is a whole number"),
        (["label-issues", "{cat}", "-a", "style", "--limit", "-3"], "a count must be at least 1"),
        (["predict", "{cat}", "1", "--device", "bogus"], "unknown device 'bogus'"),
        (["runs", "{cat}/" + "x" * 5000], "characters)"),
        (["thresholds", "{cat}", "1", "--resamples", "30000000"], "--resamples must be between 1 and"),
        (["compare", "{cat}", "1", "1"], "run 1 is named more than once"),
    ],
)
def test_one_line_and_exit_2(shop, args, expected):
    message = _one_line_exit_2(*(a.replace("{cat}", shop) for a in args))
    assert expected in message
    assert len(message) < 400


def test_a_catalog_path_that_is_not_utf8_is_refused_and_nothing_is_left(tmp_path):
    import os

    path = os.fsdecode(os.fsencode(str(tmp_path)) + b"/\xff\xfe.sqlite")
    assert "is not valid UTF-8" in _one_line_exit_2("init", path)
    assert list(tmp_path.iterdir()) == []


def test_a_pickled_model_file_is_refused_without_advice_to_load_it_unsafely(shop, tmp_path):
    import pickle

    class Payload:
        def __reduce__(self):
            return (print, ("this ran",))

    bad = tmp_path / "weights.pt"
    bad.write_bytes(pickle.dumps({"w": Payload()}))
    message = _one_line_exit_2(
        "train", shop, "-a", "style", "--backbone", "resnet32-cifar", "--epochs", "1", "--image-size", "16",
        "--pretrained", str(bad),
    )  # fmt: skip
    assert "holds objects other than tensors" in message and "weights_only" not in message


def test_training_on_too_few_images_is_refused_before_a_run_is_recorded(tmp_path):
    tree = make_garments(tmp_path / "photos", {"dress": 1, "coat": 1})
    location = str(tmp_path / "tiny.sqlite")
    with Catalog.create(location) as catalog:
        run(import_source(catalog, tree, "style"))
    message = _one_line_exit_2("train", location, "-a", "style", "--backbone", "resnet32-cifar", "--epochs", "1")
    assert "a run needs both" in message
    assert sqlite3.connect(location).execute("select count(*) from run").fetchone()[0] == 0


def test_duplicates_without_splits_say_so(shop):
    assert "duplicates are looked for across splits" in _one_line_exit_2("duplicates", shop, "--exact-only")


def test_exact_duplicates_of_one_image_are_counted_not_listed_beyond_the_cap(monkeypatch):
    monkeypatch.setattr(duplicates, "MAX_PAIRS", 1000)
    n = 4000  # 2,000 training and 2,000 test copies of one file: 4,000,000 pairs
    ids, hashes, splits = list(range(n)), ["a" * 64] * n, ["train", "test"] * (n // 2)
    counts: dict = {}
    listed = duplicates.exact_pairs(ids, hashes, splits, counts)
    assert len(listed) <= 1000 and counts["total"] == 2000 * 2000 and len(counts["twins"]) == 2000


def test_near_duplicates_at_a_tiny_threshold_keep_the_closest_pairs_in_bounded_memory(monkeypatch):
    monkeypatch.setattr(duplicates, "MAX_PAIRS", 500)
    rng = np.random.default_rng(0)
    features = rng.normal(size=(600, 8)).astype(np.float32)
    splits = ["train"] * 300 + ["test"] * 300
    counts: dict = {}
    kept = duplicates.near_pairs(features, splits, 1e-9, counts=counts)
    assert kept is not None and len(kept) == 500 and counts["total"] > 500
    everything = duplicates.near_pairs(features, splits, -1.0)
    assert everything is not None
    closest = sorted((s for _, _, s in everything), reverse=True)[:500]
    assert sorted((s for _, _, s in kept), reverse=True) == pytest.approx(closest)


def test_a_subnormal_tau_reads_as_itself_in_the_run_list():
    from core.catalog.runs import posthoc_name

    assert posthoc_name({"tau": 1e-320}) == "+ LA τ=1e-320"
    assert posthoc_name({"tau": 1.75, "tau_norm": 0.5}) == "+ τ-norm p=0.5 + LA τ=1.75"
