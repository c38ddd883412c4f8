"""The variant matrix: every variant x seed as head-only runs on one feature store, the table sorted by training
count with the baseline first; the convex-GAN on the nw head of its seed (a hidden base when nw is not chosen);
bad input is one line; ``tailor matrix`` prints the same table as the window's Matrix tab (tests/workbench)."""

from __future__ import annotations

import json

import pytest

from core.base.errors import TailorError
from core.base.iteration import drain
from core.catalog.runs import get_run
from core.catalog.store import Catalog
from core.config import OversampleConfig
from core.experiments.matrix import base_config, check_variants, feature_sources, matrix_table, train_matrix
from tests.conftest import main_cli, run_cli
from tests.curation.test_curation import colour_catalog
from tests.features.test_feature_store import weights_file as weights_file


def source_run(catalog: str, weights: str) -> None:
    """Run 1: a head-only run whose pretrained backbone's features the matrix trains on."""
    result = main_cli("train", catalog, "-a", "colour", "--head-only", "--backbone", "resnet32-cifar", "--pretrained",
                      weights, "--image-size", "16", "--epochs", "1")  # fmt: skip
    assert result.returncode == 0, result.stderr


@pytest.fixture
def catalog(tmp_path, weights_file) -> str:
    location = colour_catalog(tmp_path, counts=(60, 30, 12))
    source_run(location, weights_file)
    return location


def test_matrix_trains_every_variant_and_seed_and_sorts_labels_tail_last(catalog):
    with Catalog(catalog) as cat:
        base = base_config(cat, "colour", 1, epochs=2, batch_size=16)
        gan = OversampleConfig(epochs=1, batch_size=32, iterations=2)
        result = drain(train_matrix(cat, base, ["crt", "convex-gan", "isw"], [5, 6], oversampler=gan))
        assert [(r.variant, r.seed) for r in result.runs] == [
            ("isw", 5), ("crt", 5), ("convex-gan", 5), ("isw", 6), ("crt", 6), ("convex-gan", 6)
        ]  # fmt: skip
        gan_run = get_run(cat, result.runs[2].run_id)
        hidden = get_run(cat, gan_run.base_run_id)
        assert hidden.loss == "nw" and hidden.config.seed == 5  # the GAN's own nw head, not in the table
        assert {get_run(cat, r.run_id).config.split_seed for r in result.runs} == {5}
        table = matrix_table(cat, result, "crt", resamples=200)
    assert table["rows"][0]["variant"] == "crt head" and table["baseline"] == result.runs[1].run_id
    assert table["train_counts"] == sorted(table["train_counts"], reverse=True)  # the tail on the right
    assert [g["variant"] for g in table["seed_groups"]] == ["crt head", "isw head", "convex-gan + convex-GAN head"]
    crt, isw, _gan = table["seed_groups"]  # across seeds: each group against the baseline's (crt's) two seeds
    assert "delta_seeds" not in crt and isw["baseline_runs"] == crt["runs"]
    # two seeds a group: no t-interval (issue 26; one degree of freedom gave "+18.3 [-129.5, +166.1]"), said why
    assert len(isw["ap_delta_seeds"]) == 3 and isw["delta_seeds"]["acsa"] is None
    assert "it needs 3 seeds in each group (2 and 2 here)" in isw["seeds_note"]
    assert all(len(row["ap_ci"]) == 3 for row in table["rows"])


def test_a_matrix_is_one_group_of_runs_and_a_later_oversample_is_not_in_it(catalog):
    from core.catalog.run_groups import RunGroup, grouped
    from core.catalog.runs import list_runs
    from core.oversampling.job import oversample

    with Catalog(catalog) as cat:
        base = base_config(cat, "colour", 1, epochs=1, batch_size=16)
        gan = OversampleConfig(epochs=1, batch_size=32, iterations=2)
        result = drain(train_matrix(cat, base, ["crt", "convex-gan"], [0], oversampler=gan))
        ids = [r.run_id for r in result.runs]
        hidden = get_run(cat, ids[1]).base_run_id
        later = drain(oversample(cat, hidden, gan))  # the same base, oversampled again on its own
        runs = list_runs(cat)
    batches = {run.id: run.config.batch for run in runs}
    assert batches[1] is None and batches[later] is None
    assert batches[hidden] == batches[ids[0]] == batches[ids[1]] and str(batches[hidden]).startswith("matrix-")
    shown = grouped(runs)
    assert [type(item).__name__ for item in shown] == ["RunInfo", "RunGroup", "RunInfo"]
    group = shown[1]
    assert isinstance(group, RunGroup) and group.ids == sorted([hidden, *ids]) and group.kind == "matrix"
    assert group.title() == f"matrix of 3 runs ({min(group.ids)}–{max(group.ids)})" and group.status() == "3 finished"
    best = max(run.last["acsa"] for run in group.runs)
    assert group.metric("acsa") == (best, f"best: run {next(r.id for r in group.runs if r.last['acsa'] == best)}")


def test_feature_sources_tell_apart_the_input_statistics(catalog, weights_file):
    result = main_cli("train", catalog, "-a", "colour", "--head-only", "--backbone", "resnet32-cifar", "--pretrained",
                      weights_file, "--image-size", "16", "--epochs", "1", "--normalization", "inception")  # fmt: skip
    assert result.returncode == 0, result.stderr
    with Catalog(catalog) as cat:
        texts = [source.text for source in feature_sources(cat, "colour")]
    assert len(texts) == 2 and "inception statistics, as run 2" in texts[0] and "statistics" not in texts[1]


def test_bad_matrix_input_is_one_line(catalog):
    with pytest.raises(TailorError, match="unknown variant"):
        check_variants(["nw", "best"], "single")
    with pytest.raises(TailorError, match="single-label attributes only"):
        check_variants(["balanced-softmax"], "multi")
    result = run_cli("matrix", catalog, "-a", "colour", "--features-of", "1", "--variants", "nw", "--baseline", "crt")
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "--baseline crt" in result.stderr
    result = main_cli("matrix", catalog, "-a", "colour", "--backbone", "resnet32-cifar", "--variants", "nw")
    assert result.returncode == 2 and "--pretrained" in result.stderr


def test_matrix_cli_json_is_a_list_of_runs_with_intervals(catalog):
    result = main_cli("matrix", catalog, "-a", "colour", "--features-of", "1", "--variants", "nw,crt", "--seeds",
                      "0", "--epochs", "2", "--resamples", "200", "--json")  # fmt: skip
    assert result.returncode == 0, result.stderr
    runs = json.loads(result.stdout)
    assert [r["variant"] for r in runs] == ["nw head", "crt head"]
    assert all(r["acsa"]["ci"][0] <= r["acsa"]["value"] <= r["acsa"]["ci"][1] for r in runs)
    assert runs[1]["acsa"]["delta"] is not None and "delta_ci" in runs[1]["per_label"][0]["ap"]


def test_matrix_prints_a_table_that_fits_the_terminal_and_markdown_when_asked(catalog, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    args = ("matrix", catalog, "-a", "colour", "--features-of", "1", "--variants", "nw,crt", "--epochs", "1")
    shown = main_cli(*args, "--resamples", "50")
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert max(map(len, lines)) <= 80 and not any(line.startswith("|") for line in lines) and "crt head" in shown.stdout
    markdown = main_cli(*args, "--resamples", "0", "--markdown").stdout
    assert markdown.startswith("| run |") and max(map(len, markdown.splitlines())) > 80
