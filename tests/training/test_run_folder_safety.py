"""Run folders on a shared drive: nothing is written through planted links or outside the catalog's own runs
folder, and a folder left by a lost run never blocks the next one (issue 26 points 1 and 2)."""

from __future__ import annotations

import os
import re
import shutil
import threading
from pathlib import Path

import pytest
from sqlalchemy import text

from core.catalog.runs import default_runs_dir, get_run
from core.catalog.store import Catalog
from core.training.events import CheckpointSaved, RunCancelled, RunFailed, RunFinished
from core.training.loop import train
from tests.training.test_training import _shapes_catalog, config


@pytest.fixture
def shapes(tmp_path):
    return _shapes_catalog(tmp_path, str(tmp_path / "c.sqlite"))


def _refused(events) -> str:
    """The one line of a run that was refused before it started (nothing recorded as its failure)."""
    events = list(events)
    assert isinstance(events[-1], RunFailed) and events[-1].run_id == 0, events[-1]
    return events[-1].message


def _cancelled_after_one_epoch(location: str) -> int:
    cancel = threading.Event()
    events = []
    for event in train(location, config(epochs=2), cancel=cancel):
        events.append(event)
        if isinstance(event, CheckpointSaved):
            cancel.set()
    assert isinstance(events[-1], RunCancelled)
    return events[-1].run_id


def test_a_folder_left_by_a_lost_run_never_blocks_the_next(shapes):
    leftover = default_runs_dir(shapes) / "1"
    leftover.mkdir(parents=True)
    (leftover / "checkpoint.pt").write_bytes(b"from a run whose record was lost")
    events = list(train(shapes, config()))
    assert isinstance(events[-1], RunFinished)
    with Catalog(shapes) as catalog:
        assert Path(get_run(catalog, 1).directory) == default_runs_dir(shapes) / "1-2"
    assert (leftover / "checkpoint.pt").read_bytes() == b"from a run whose record was lost"


def test_resume_never_writes_through_links_planted_in_the_run_folder(shapes, tmp_path):
    run_id = _cancelled_after_one_epoch(shapes)
    folder = default_runs_dir(shapes) / str(run_id)
    victims = {}
    for name in ("events.jsonl", "checkpoint.pt.tmp", "model.pt.tmp", "run.lock"):
        victim = tmp_path / f"victim-{name}"
        victim.write_text("precious")
        victims[name] = victim
        target = folder / name
        if target.exists():
            target.unlink()
        os.symlink(victim, target)
    message = _refused(train(shapes, config(), resume=run_id))
    assert "holds symbolic links (checkpoint.pt.tmp, events.jsonl, model.pt.tmp, run.lock)" in message
    for name in victims:
        (folder / name).unlink()
    assert isinstance(list(train(shapes, config(), resume=run_id))[-1], RunFinished)
    assert all(victim.read_text() == "precious" for victim in victims.values())


def test_a_run_recorded_outside_its_runs_folder_is_not_resumed_there(shapes, tmp_path):
    run_id = _cancelled_after_one_epoch(shapes)
    outside = tmp_path / "outside" / "run2copy"
    shutil.copytree(default_runs_dir(shapes) / str(run_id), outside)
    with Catalog(shapes) as catalog, catalog.session(write=True) as s:
        s.execute(text("UPDATE run SET directory = '../outside/run2copy' WHERE id = :id"), {"id": run_id})
    assert re.search("leaves its runs folder", _refused(train(shapes, config(), resume=run_id)))
    with Catalog(shapes) as catalog, catalog.session(write=True) as s:
        s.execute(text("UPDATE run SET directory = :d WHERE id = :id"), {"d": str(outside), "id": run_id})
    assert re.search("not in a runs folder of this catalog", _refused(train(shapes, config(), resume=run_id)))
    assert sorted(p.name for p in outside.iterdir()) == sorted(
        p.name for p in (default_runs_dir(shapes) / str(run_id)).iterdir()
    )


def test_a_copied_catalog_whose_runs_folder_links_to_the_original_s_refuses_to_write(shapes, tmp_path):
    run_id = _cancelled_after_one_epoch(shapes)
    original = default_runs_dir(shapes)
    checkpoint = (original / str(run_id) / "checkpoint.pt").read_bytes()
    copy = tmp_path / "copy" / "c.sqlite"
    copy.parent.mkdir()
    shutil.copy(shapes, copy)
    os.symlink(original, default_runs_dir(str(copy)))
    assert re.search(r"is a link to .*remove the link", _refused(train(str(copy), config(), resume=run_id)))
    assert re.search("is a link to", _refused(train(str(copy), config())))
    assert (original / str(run_id) / "checkpoint.pt").read_bytes() == checkpoint
    os.unlink(default_runs_dir(str(copy)))
    shutil.copytree(original, default_runs_dir(str(copy)))  # a real copy whose owner file names the original
    assert re.search(r"belongs to the catalog .*c\.sqlite, not to", _refused(train(str(copy), config(), resume=run_id)))
    (default_runs_dir(str(copy)) / ".owner.json").unlink()  # the user says it is the copy's: adopted
    assert isinstance(list(train(str(copy), config(), resume=run_id))[-1], RunFinished)
    assert (original / str(run_id) / "checkpoint.pt").read_bytes() == checkpoint
