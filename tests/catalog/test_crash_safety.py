"""Crash safety: kill -9 during an import or a training run, a full or read-only catalog, files from strangers."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import event, text

from core.base.errors import TailorError
from core.catalog.run_lock import owner_alive
from core.catalog.runs import get_run, recover_interrupted
from core.catalog.store import Catalog
from core.ingest.importer import import_source, run
from core.training.loop import TrainConfig, train
from tests.conftest import dump_tables, run_cli

N_IMAGES = 1200


def _tiny_tree(root: Path, n: int) -> Path:
    rng = np.random.default_rng(0)
    for i in range(n):
        label = ("long", "short", "cap", "puff")[min(3, int(rng.pareto(1.2)))]
        path = root / label / f"{i:05d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)).save(path)
    return root


def _tailor(*args: str) -> subprocess.Popen:
    exe = Path(sys.executable).with_name("tailor")
    return subprocess.Popen([str(exe), *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _integrity(location: str) -> None:
    with Catalog(location) as catalog, catalog.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
        assert conn.exec_driver_sql("PRAGMA foreign_key_check").all() == []
        orphans = conn.execute(
            text("SELECT COUNT(*) FROM annotation a LEFT JOIN image i ON i.id = a.image_id WHERE i.id IS NULL")
        ).scalar()
        assert orphans == 0


@pytest.fixture(scope="module")
def big_tree(tmp_path_factory) -> Path:
    return _tiny_tree(tmp_path_factory.mktemp("kill") / "tree", N_IMAGES)


@pytest.mark.parametrize("when", ["reading", "writing"])
def test_kill_9_during_an_import_then_importing_again_gives_every_image_once(tmp_path, big_tree, when):
    location = str(tmp_path / "c.sqlite")
    assert run_cli("init", location).returncode == 0
    wal = Path(location + "-wal")
    start_size = wal.stat().st_size if wal.exists() else 0
    process = _tailor("import", location, str(big_tree), "-a", "sleeve")
    deadline = time.monotonic() + 120
    if when == "reading":
        time.sleep(0.4)  # files are still being hashed and probed
    else:  # the single write transaction has begun filling the write-ahead log
        while time.monotonic() < deadline and process.poll() is None:
            if wal.exists() and wal.stat().st_size > start_size:
                break
            time.sleep(0.0005)
    process.send_signal(signal.SIGKILL)
    process.wait(30)
    _integrity(location)
    with Catalog(location) as catalog:
        partial = catalog.image_count()
    assert partial in (0, N_IMAGES)  # one transaction: nothing half-imported is ever visible
    again = run_cli("import", location, str(big_tree), "-a", "sleeve", "--json")
    assert again.returncode == 0, again.stderr
    _integrity(location)
    with Catalog(location) as catalog:
        assert catalog.image_count() == N_IMAGES
        counts = catalog.label_counts("sleeve")
        assert sum(item.count for item in counts.labels) == N_IMAGES


def _train_args(location: str, epochs: int) -> list[str]:
    return [
        "train",
        location,
        "-a",
        "sleeve",
        "--backbone",
        "resnet32-cifar",
        "--epochs",
        str(epochs),
        "--batch-size",
        "32",
        "--image-size",
        "16",
        "--json",
    ]


def test_a_killed_training_run_is_marked_interrupted_and_resumes_from_its_checkpoint(tmp_path):
    root = _tiny_tree(tmp_path / "tree", 160)
    location = str(tmp_path / "c.sqlite")
    with Catalog.create(location) as catalog:
        run(import_source(catalog, root, "sleeve"))
    epochs = 6
    process = _tailor(*_train_args(location, epochs))
    log = tmp_path / "c.sqlite.runs" / "1" / "events.jsonl"
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and process.poll() is None:  # wait for the first epoch's checkpoint
            if log.exists() and '"checkpoint"' in log.read_text():
                break
            time.sleep(0.02)
        assert process.poll() is None, process.stderr.read()
        with Catalog(location) as catalog:  # alive: opening the catalog leaves it alone
            assert recover_interrupted(catalog) == [] and get_run(catalog, 1).status == "running"
        assert owner_alive(log.parent) is True
        # nobody else may take over a live run (and trying does not mark it failed)
        refused = list(train(location, TrainConfig(attribute="sleeve"), resume=1))
        assert len(refused) == 1 and "being trained by another process" in refused[0].message
        with Catalog(location) as catalog:
            assert get_run(catalog, 1).status == "running"  # and the live run was not marked failed
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(30)
    assert owner_alive(log.parent) is False
    with Catalog(location) as catalog:
        assert recover_interrupted(catalog) == [1]
        info = get_run(catalog, 1)
        assert info.status == "interrupted" and "--resume 1" in info.message and info.epochs_done < epochs
    with Catalog(location) as catalog:
        assert recover_interrupted(catalog) == []  # marked once
    assert json.loads(run_cli("runs", location, "--json").stdout)[0]["status"] == "interrupted"
    resumed = run_cli("train", location, "--resume", "1", "--json")
    assert resumed.returncode == 0, resumed.stderr
    data = json.loads(resumed.stdout)
    assert data["status"] == "finished" and data["run_id"] == 1
    with Catalog(location) as catalog:
        info = get_run(catalog, 1)
        assert info.status == "finished" and info.epochs_done == epochs


def _full_disk(catalog: Catalog, pages: int) -> None:
    """SQLite's view of a full disk: the database may not grow past ``pages`` pages."""

    @event.listens_for(catalog.engine, "connect")
    def _limit(dbapi_connection, _record) -> None:
        dbapi_connection.execute(f"PRAGMA max_page_count = {pages}")

    catalog.engine.dispose()


def test_a_full_disk_gives_a_clear_error_and_changes_nothing(tmp_path, big_tree):
    location = str(tmp_path / "c.sqlite")
    with Catalog.create(location) as catalog:
        run(import_source(catalog, big_tree / "cap", "sleeve"))
        before = dump_tables(catalog)
        with catalog.engine.connect() as conn:
            pages = conn.exec_driver_sql("PRAGMA page_count").scalar()
        _full_disk(catalog, pages + 2)
        with pytest.raises(TailorError, match="full"):
            run(import_source(catalog, big_tree, "sleeve"))
    with Catalog(location) as catalog:
        assert dump_tables(catalog) == before
    _integrity(location)


def test_a_read_only_catalog_gives_a_clear_error(tmp_path, big_tree):
    location = str(tmp_path / "c.sqlite")
    with Catalog.create(location) as catalog:
        run(import_source(catalog, big_tree / "cap", "sleeve"))
    result = run_cli("import", f"sqlite:///file:{location}?mode=ro&uri=true", str(big_tree), "-a", "sleeve")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "read-only" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    _integrity(location)


def test_no_pickle_anywhere_in_the_code():
    """Checkpoints and caches load with weights_only=True; nothing unpickles what someone else wrote."""
    root = Path(__file__).resolve().parents[2]
    offenders = []
    for path in [*root.glob("core/**/*.py"), *root.glob("workbench/**/*.py")]:
        source = path.read_text()
        if "import pickle" in source or "pickle.load" in source or "weights_only=False" in source:
            offenders.append(str(path))
        for line in source.splitlines():
            if "torch.load(" in line and "weights_only=True" not in line:
                offenders.append(f"{path}: {line.strip()}")
    assert offenders == []


def test_a_full_disk_while_training_names_the_file_and_the_way_out():
    import errno

    from core.training.recorder import failure_message as _failure_message

    full = OSError(errno.ENOSPC, "No space left on device", "/runs/7/checkpoint.pt")
    message = _failure_message(full, TrainConfig(attribute="sleeve"))
    assert message.startswith("the disk is full writing /runs/7/checkpoint.pt") and "--resume" in message
