"""Nothing the user did not name is written over: catalogs, run folders and existing files survive every mistyped
output option; run folders are recorded relative to their catalog, so copies and moves keep to their own."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
from pathlib import Path

import pytest

from core.catalog.runs import get_run, set_status
from core.catalog.store import Catalog
from core.cli.main import main
from core.training.loop import train
from tests.training.test_training import _shapes_catalog, config, drain


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def trained(tmp_path) -> tuple[str, int]:
    """A catalog with one finished one-epoch run in its own CATALOG.runs folder."""
    location = _shapes_catalog(tmp_path, str(tmp_path / "a.sqlite"))
    events = drain(train(location, config()))
    return location, events[0].run_id


def test_a_mistyped_report_or_out_never_replaces_the_catalog_or_a_run_s_files(trained, tmp_path, capsys):
    location, run_id = trained
    catalog, model = Path(location), Path(location + ".runs") / str(run_id) / "model.pt"
    before = (_digest(catalog), _digest(model))
    tree = str(tmp_path / "shapes")
    commands = [
        ["import", location, tree, "-a", "colour", "--report", location],
        ["import", location, tree, "-a", "colour", "--report", location, "--force"],
        ["export-model", location, str(run_id), "--out", location],
        ["export-model", location, str(run_id), "--out", location, "--force"],
        ["export-model", location, str(run_id), "--out", str(model), "--force"],
        ["export-model", location, str(run_id), "--out", location + "-wal", "--force"],
    ]
    for argv in commands:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and ("catalog" in err or "run" in err or "database" in err), err
    assert (_digest(catalog), _digest(model)) == before


def test_an_existing_file_is_replaced_only_with_force(trained, tmp_path, capsys):
    location, run_id = trained
    out = tmp_path / "model.ts"
    out.write_text("keep me")
    assert main(["export-model", location, str(run_id), "--out", str(out)]) == 2
    assert "--force" in capsys.readouterr().err and out.read_text() == "keep me"
    assert main(["export-model", location, str(run_id), "--out", str(out), "--force"]) == 0
    assert out.stat().st_size > 1000


def test_another_database_is_never_written_over_even_with_force(trained, tmp_path, capsys):
    location, run_id = trained
    other = tmp_path / "shop.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    before = _digest(other)
    assert main(["export-model", location, str(run_id), "--out", str(other), "--force"]) == 2
    assert "database" in capsys.readouterr().err and _digest(other) == before


def test_a_report_into_a_missing_folder_fails_before_the_import_commits(tmp_path, tree, capsys):
    location = str(tmp_path / "c.sqlite")
    assert main(["init", location]) == 0
    assert main(["import", location, str(tree), "-a", "animal", "--report", str(tmp_path / "nope" / "r.csv")]) == 2
    assert "does not exist" in capsys.readouterr().err
    with Catalog(location) as catalog:
        assert catalog.image_count() == 0 and catalog.attributes() == []


def test_a_copied_catalog_never_writes_into_the_original_s_run_folder(trained, tmp_path, capsys):
    location, run_id = trained
    with Catalog(location) as catalog:
        set_status(catalog, run_id, "cancelled", "cancelled during epoch 1")
        assert get_run(catalog, run_id).directory == str(Path(location + ".runs") / str(run_id))
    checkpoint = Path(location + ".runs") / str(run_id) / "checkpoint.pt"
    before = _digest(checkpoint)
    copy = str(tmp_path / "b.sqlite")
    shutil.copy(location, copy)
    with Catalog(copy) as catalog:
        assert get_run(catalog, run_id).directory == str(Path(copy + ".runs") / str(run_id))
    assert main(["train", copy, "--resume", str(run_id)]) == 2
    assert "b.sqlite.runs" in capsys.readouterr().err
    assert _digest(checkpoint) == before


def test_a_catalog_moved_with_its_runs_folder_finds_its_model(trained, tmp_path, capsys):
    location, run_id = trained
    moved = tmp_path / "elsewhere"
    moved.mkdir()
    shutil.move(location, moved / "renamed.sqlite")
    shutil.move(location + ".runs", moved / "renamed.sqlite.runs")
    assert main(["export-model", str(moved / "renamed.sqlite"), str(run_id), "--out", str(tmp_path / "m.ts")]) == 0


def test_an_older_catalog_s_absolute_run_folders_become_relative_and_a_stale_copy_is_refused(trained, tmp_path, capsys):
    location, run_id = trained
    own = str(Path(location + ".runs") / str(run_id))
    with Catalog(location) as catalog:
        set_status(catalog, run_id, "cancelled", "cancelled during epoch 1")
    conn = sqlite3.connect(location)  # as written by the previous schema: absolute folders
    conn.execute("UPDATE run SET directory = ?", (own,))
    conn.execute("UPDATE alembic_version SET version_num = '0003'")
    conn.execute("DROP TABLE prediction")  # the tables of later migrations did not exist yet
    conn.execute("DROP TABLE label_review")
    conn.execute("DROP TABLE run_threshold")
    conn.execute("DROP TABLE label_answer")
    conn.commit()
    conn.close()
    stale = str(tmp_path / "copy-before-upgrade.sqlite")
    shutil.copy(location, stale)
    with Catalog(location) as catalog:
        assert get_run(catalog, run_id).directory == own
    assert sqlite3.connect(location).execute("SELECT directory FROM run").fetchall() == [(str(run_id),)]
    before = _digest(Path(own) / "checkpoint.pt")
    assert main(["train", stale, "--resume", str(run_id)]) == 2
    assert "belongs to another catalog" in capsys.readouterr().err
    assert _digest(Path(own) / "checkpoint.pt") == before


def test_a_new_catalog_never_trains_into_a_run_folder_left_by_an_older_one(tmp_path, capsys):
    location = _shapes_catalog(tmp_path, str(tmp_path / "a.sqlite"))
    leftover = Path(location + ".runs") / "1"
    leftover.mkdir(parents=True)
    (leftover / "model.pt").write_text("an older catalog's model")
    events = drain(train(location, config()))
    assert type(events[-1]).__name__ == "RunFinished"  # issue 26: a leftover no longer blocks the run...
    assert (leftover / "model.pt").read_text() == "an older catalog's model"  # ...and is never written into
    with Catalog(location) as catalog:
        from core.catalog.runs import list_runs

        assert [run.directory for run in list_runs(catalog)] == [str(leftover.parent / "1-2")]
