"""The tailor command line as a user runs it: exit codes, one-line errors, JSON shapes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import main_cli, run_cli, write_image

SHARED = Path(os.environ.get("TAILOR_DATASETS", Path(__file__).resolve().parents[3] / "shared" / "datasets"))


def ok(*args):
    result = run_cli(*args)
    assert result.returncode == 0, result.stderr
    return result


def done(*args):
    """A set-up step or a read-back, in this process (the test's subject runs as a ``tailor`` process)."""
    result = main_cli(*args)
    assert result.returncode == 0, result.stderr
    return result


def one_line_error(result, code=2):
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_init_import_stats_info(location, tree):
    cat = location
    assert "created catalog" in ok("init", cat).stdout
    out = ok("import", cat, str(tree), "--attribute", "animal").stdout
    assert "9 images into 'animal'" in out and "9 new" in out
    stats = json.loads(done("stats", cat, "--attribute", "animal", "--json").stdout)
    assert stats["attribute"] == "animal" and stats["kind"] == "single" and stats["images"] == 9
    assert stats["imbalance_ratio"] == 5.0
    assert [(x["name"], x["count"]) for x in stats["labels"]] == [("cat", 5), ("dog", 3), ("fox", 1)]
    for item in stats["labels"]:
        assert set(item) >= {"name", "count", "effective_number", "group", "weights"}
        assert set(item["weights"]) == {"nw", "ifw", "isw", "iew"}
    text = ok("stats", cat, "-a", "animal").stdout
    assert "imbalance ratio 5.0" in text and "fox" in text
    info = json.loads(done("info", cat, "--json").stdout)
    assert info["images"] == 9 and info["attributes"][0]["name"] == "animal"


@pytest.mark.parametrize(
    "args, expected",
    [
        (("stats", "{cat}", "--attribute", "nope"), "no attribute 'nope'"),
        (("stats", "{cat}", "--attribute", "animal", "--beta", "1.5"), "beta must be in [0, 1)"),
        (("stats", "{cat}", "--attribute", "animal", "--groups", "quartiles"), "unknown group rule 'quartiles'"),
        (("stats", "{missing}", "--attribute", "animal"), "no catalog at"),
        (("import", "{cat}", "{missing}", "--attribute", "a"), "no such folder or manifest"),
        (("import", "{cat}", "{tree}", "--attribute", "animal", "--multi-label"), "is single-label, not multi-label"),
        (
            (
                "init",
                "{cat}",
            ),
            "already exists",
        ),
        (("stats", "{cat}"), "the following arguments are required: --attribute/-a"),
        (("stats", "{cat}", "-a", "animal", "--split", "bogus"), "invalid choice: 'bogus'"),
        (("frobnicate",), "invalid choice: 'frobnicate'"),
        (("stats", "{tree}", "-a", "x"), "is a folder, not a catalog file"),
    ],
)
def test_bad_input_exits_2_with_one_line(tmp_path, tree, args, expected, location):
    cat = location
    done("init", str(cat))
    done("import", str(cat), str(tree), "--attribute", "animal")
    fill = {"cat": str(cat), "missing": str(tmp_path / "missing.sqlite"), "tree": str(tree)}
    line = one_line_error(run_cli(*(a.format(**fill) for a in args)))
    assert expected in line


def test_manifest_without_labels_exits_nonzero_names_column_and_changes_nothing(tmp_path, tree, location):
    cat = location
    done("init", cat)
    done("import", cat, str(tree), "--attribute", "animal")
    stats_before = done("stats", cat, "-a", "animal", "--json").stdout
    manifest = tmp_path / "m.csv"
    manifest.write_text("path,label\ntree/cat/cat0.png,tabby\n")
    line = one_line_error(run_cli("import", cat, str(manifest), "--attribute", "colour"))
    assert "column 'labels'" in line and "m.csv" in line
    assert done("stats", cat, "-a", "animal", "--json").stdout == stats_before
    assert "colour" not in done("info", cat).stdout


def test_skipped_files_are_named_and_reported(tmp_path, tree, location):
    (tree / "cat" / "empty.png").write_bytes(b"")
    (tree / "dog" / "readme.txt").write_text("hi")
    cat = location
    done("init", cat)
    report = tmp_path / "skipped.csv"
    out = ok("import", cat, str(tree), "-a", "animal", "--report", str(report)).stdout
    assert "empty.png: empty file (0 bytes)" in out
    assert "readme.txt: not an image (format not recognised)" in out
    assert "2 skipped" in out
    assert report.read_text().splitlines()[0] == "path,reason"
    data = json.loads(done("import", cat, str(tree), "-a", "animal", "--json").stdout)
    assert data["unchanged"] == 9 and len(data["skipped"]) == 2


def test_help_and_no_arguments_opens_the_window_or_says_why_not():
    result = ok("--help")
    assert "usage: tailor" in result.stdout and "import" in result.stdout and "gui" in result.stdout
    # no command opens the window; without any display that is one clear line, not a hang or a traceback
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY")}
    exe = Path(sys.executable).with_name("tailor")
    result = subprocess.run([str(exe)], capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 2 and "no display" in result.stderr and "Traceback" not in result.stderr


def test_demo_builds_a_long_tailed_catalog_twice(tmp_path):
    first = ok("demo", "--out", str(tmp_path / "demo"), "--no-gui").stdout
    assert "sleeve (single-label)" in first and "style (multi-label)" in first
    second = ok("demo", "--out", str(tmp_path / "demo"), "--no-gui").stdout
    assert "0 new, 0 updated, 351 unchanged" in second
    stats = json.loads(done("stats", str(tmp_path / "demo" / "catalog.sqlite"), "-a", "sleeve", "--json").stdout)
    assert stats["imbalance_ratio"] == 25.0 and stats["labels"][-1]["name"] == "bell sleeve"
    style = json.loads(done("stats", str(tmp_path / "demo" / "catalog.sqlite"), "-a", "style", "--json").stdout)
    assert style["kind"] == "multi" and style["annotations"] > style["images"]


def test_demo_never_writes_into_a_folder_of_other_files_without_force(tmp_path):
    mine = tmp_path / "mine"
    (mine / "images" / "holiday").mkdir(parents=True)
    (mine / "style.csv").write_text("my own file\n")
    refused = main_cli("demo", "--out", str(mine), "--no-gui")
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert refused.stderr.count("\n") == 1 and "images/holiday" in refused.stderr and "style.csv" in refused.stderr
    assert (mine / "style.csv").read_text() == "my own file\n" and not (mine / "catalog.sqlite").exists()
    assert main_cli("demo", "--out", str(mine), "--no-gui", "--force").returncode == 0
    assert (mine / "style.csv").read_text().startswith("path,labels")
    # an earlier demo's folder with an exported table beside it is drawn into again, the table left alone
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "comparison.csv").write_text("kept\n")
    assert main_cli("demo", "--out", str(tmp_path / "demo"), "--no-gui").returncode == 0
    assert main_cli("demo", "--out", str(tmp_path / "demo"), "--no-gui").returncode == 0
    assert (tmp_path / "demo" / "comparison.csv").read_text() == "kept\n"


@pytest.mark.skipif(not (SHARED / "fashion-mnist-900").is_dir(), reason="../shared/datasets not present")
@pytest.mark.parametrize("beta", [0.9, 0.999])
def test_fashion_mnist_900_gives_10_labels_of_90(tmp_path, beta):
    cat = str(tmp_path / "f.sqlite")
    done("init", cat)
    done("import", cat, str(SHARED / "fashion-mnist-900"), "--attribute", "category")
    stats = json.loads(done("stats", cat, "-a", "category", "--json", "--beta", str(beta)).stdout)
    assert stats["images"] == 900 and len(stats["labels"]) == 10
    assert {x["count"] for x in stats["labels"]} == {90}
    assert stats["imbalance_ratio"] == 1.0
    for item in stats["labels"]:
        assert item["effective_number"] == pytest.approx((1 - beta**90) / (1 - beta))
        assert item["weights"] == pytest.approx({"nw": 1.0, "ifw": 1.0, "isw": 1.0, "iew": 1.0})


def test_stats_weights_follow_the_formulas_for_any_beta(tmp_path, location):
    root = tmp_path / "lt"
    for label, count in (("a", 40), ("b", 12), ("c", 3)):
        for i in range(count):
            write_image(root / label / f"{i}.png", colour=(i, count, 7))
    cat = location
    done("init", cat)
    done("import", cat, str(root), "-a", "x")
    n = np.array([40, 12, 3], float)
    for beta in (0.5, 0.9, 0.99, 0.9999):
        stats = json.loads(done("stats", cat, "-a", "x", "--json", "--beta", str(beta)).stdout)
        for scheme, raw in (("ifw", 1 / n), ("isw", 1 / np.sqrt(n)), ("iew", (1 - beta) / (1 - beta**n))):
            got = np.array([item["weights"][scheme] for item in stats["labels"]])
            assert np.allclose(got / got.sum(), raw / raw.sum(), rtol=1e-12)


def test_postgresql_gives_the_same_results_as_sqlite(tmp_path, tree, postgres_server):
    """init, import (folder and multi-label manifest), stats and info answer the same on both backends."""
    if postgres_server is None:
        pytest.skip("no PostgreSQL server binary (initdb) on this machine")
    from tests import postgres

    manifest = tmp_path / "styles.csv"
    manifest.write_text(
        "path,labels\ntree/cat/cat0.png,boho|formal\ntree/cat/cat1.png,boho\ntree/dog/dog0.png,sporty\n"
    )
    url = postgres.create_database(postgres_server)
    try:
        answers = []
        for cat in (str(tmp_path / "c.sqlite"), url):
            done("init", cat)
            imported = [
                json.loads(done("import", cat, str(tree), "-a", "animal", "--json").stdout),
                json.loads(done("import", cat, str(manifest), "-a", "style", "--multi-label", "--json").stdout),
            ]
            for report in imported:
                report.pop("seconds")
            stats = [
                json.loads(done("stats", cat, "-a", a, "--json", "--groups", "shots:4,2").stdout)
                for a in ("animal", "style")
            ]
            info = json.loads(done("info", cat, "--json").stdout)
            info.pop("catalog", None)
            answers.append((imported, stats, info))
        assert answers[0] == answers[1]
        assert answers[0][1][1]["kind"] == "multi" and answers[0][1][1]["annotations"] == 4
    finally:
        postgres.drop_database(postgres_server, url)
