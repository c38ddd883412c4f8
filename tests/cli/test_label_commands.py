"""Labelling from the command line: ``tailor label`` (give, remove, clear; ids from standard input), ``tailor labels``
(list, create, rename, merge, delete) and ``tailor attributes`` (list, create, rename, delete), each one transaction
through the window's edits; deletes that take labels off images ask for --force; bad input is one line, nothing
written."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from core.catalog.store import Catalog
from tests.conftest import dump_tables, main_cli, run_cli
from tests.curation.test_curation import colour_catalog, ids_of


def labels_of(location: str) -> dict[str, int]:
    return {
        row["name"]: row["images"] for row in json.loads(main_cli("labels", location, "-a", "colour", "--json").stdout)
    }


def test_label_gives_removes_and_clears_and_reads_ids_from_standard_input(tmp_path):
    location = colour_catalog(tmp_path)
    with Catalog(location) as cat:
        red = ids_of(cat, "red")[:3]
    given = run_cli("label", location, "-a", "colour", "--label", "crimson", *map(str, red))
    assert given.returncode == 0 and given.stdout.strip() == "Label 3 images 'crimson'", given.stderr
    assert labels_of(location) == {"red": 27, "green": 15, "blue": 6, "crimson": 3}
    with Catalog(location) as cat:
        rows = dump_tables(cat, ("annotation",))["annotation"]
    assert all("human" in row for row in rows if row[1] in red)
    exe = Path(sys.executable).with_name("tailor")
    piped = subprocess.run([str(exe), "label", location, "-a", "colour", "--remove", "crimson", "-"],
                           input=f"{red[0]}\n\n{red[1]}\n", capture_output=True, text=True, timeout=120)  # fmt: skip
    assert piped.returncode == 0 and "from 2 images" in piped.stdout, piped.stderr
    assert main_cli("label", location, "-a", "colour", "--clear", str(red[2])).returncode == 0
    assert labels_of(location) == {"red": 27, "green": 15, "blue": 6, "crimson": 0}


def test_labels_and_attributes_are_managed_and_deletes_ask_for_force(tmp_path):
    location = colour_catalog(tmp_path)
    assert main_cli("labels", location, "-a", "colour", "--create", "purple").returncode == 0
    assert main_cli("labels", location, "-a", "colour", "--rename", "blue", "navy").returncode == 0
    merged = main_cli("labels", location, "-a", "colour", "--merge", "green", "--into", "navy")
    assert merged.returncode == 0 and merged.stdout.startswith("Merge 'green' into 'navy'")
    assert labels_of(location) == {"red": 30, "navy": 21, "purple": 0}
    refused = main_cli("labels", location, "-a", "colour", "--delete", "navy")
    assert refused.returncode == 2 and "21 images have the label 'navy': pass --force" in refused.stderr
    assert main_cli("labels", location, "-a", "colour", "--delete", "purple").returncode == 0  # no images: no force
    assert main_cli("labels", location, "-a", "colour", "--delete", "navy", "--force").returncode == 0
    assert labels_of(location) == {"red": 30}
    assert main_cli("attributes", location, "--create", "tags", "--multi-label").returncode == 0
    assert main_cli("attributes", location, "--rename", "tags", "style").returncode == 0
    refused = main_cli("attributes", location, "--delete", "colour")
    assert refused.returncode == 2 and "pass --force" in refused.stderr
    listed = json.loads(main_cli("attributes", location, "--json").stdout)
    assert [(a["name"], a["kind"]) for a in listed] == [("colour", "single"), ("style", "multi")]
    assert main_cli("attributes", location, "--delete", "colour", "--force").returncode == 0
    assert [a["name"] for a in json.loads(main_cli("attributes", location, "--json").stdout)] == ["style"]


def test_bad_label_input_is_one_line_and_writes_nothing(tmp_path):
    location = colour_catalog(tmp_path)
    with Catalog(location) as cat:
        before = dump_tables(cat)
        red = ids_of(cat, "red")[0]
    for args, said in (
        (("label", "-a", "colour", "--remove", "mauve", str(red)), "'colour' has no label 'mauve'"),
        (("label", "-a", "colour", "--label", "red", str(red), "999999"), "no image with id 999999"),
        (("label", "-a", "size", "--label", "red", str(red)), "no attribute 'size'"),
        (("labels", "-a", "colour", "--rename", "red", "blue"), "label 'blue' already exists in 'colour'"),
        (("labels", "-a", "colour", "--merge", "red"), "--merge needs --into LABEL"),
        (("labels", "-a", "colour", "--create", "x" * 5000), "label"),
        (("attributes", "--multi-label"), "--multi-label goes with --create NAME"),
    ):
        result = main_cli(args[0], location, *args[1:])
        assert result.returncode == 2 and said in result.stderr and result.stderr.count("\n") == 1, result.stderr
    with Catalog(location) as cat:
        assert dump_tables(cat) == before
