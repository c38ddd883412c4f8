"""Runs end as what happened to them: Ctrl+C and SIGTERM are recorded as cancelled with the epoch reached, a full
disk says what was kept, a catalog locked by another program is waited for, and bad options are refused before
any run is recorded."""

from __future__ import annotations

import errno
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.base import files
from core.base.errors import StorageError
from core.catalog import engine as db
from core.catalog import runs as store
from core.catalog.runs import get_run, list_runs
from core.catalog.store import Catalog
from core.cli.main import main
from core.training import recorder
from core.training.events import EpochFinished, Note, RunFailed, RunFinished
from core.training.loop import train
from tests.training.test_training import _shapes_catalog, config, drain


@pytest.fixture
def shapes(tmp_path) -> str:
    return _shapes_catalog(tmp_path, str(tmp_path / "c.sqlite"))


def _first_epoch_recorded(location: str, timeout: float = 120) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with Catalog(location) as catalog:
            runs = list_runs(catalog)
        if runs and runs[0].epochs_done >= 1:
            return runs[0].id
        time.sleep(0.2)
    raise AssertionError("no epoch recorded")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_and_sigterm_record_the_run_as_cancelled(shapes, sig):
    exe = Path(sys.executable).with_name("tailor")
    process = subprocess.Popen(
        [
            str(exe),
            "train",
            shapes,
            "-a",
            "colour",
            "--backbone",
            "resnet32-cifar",
            "--epochs",
            "200",
            "--batch-size",
            "8",
            "--image-size",
            "16",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # Ctrl+C reaches the run even when this suite runs with SIGINT ignored (a background job of a script
        # inherits SIG_IGN, and Python then leaves it ignored: the run trained on to its end and exited 0)
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        run_id = _first_epoch_recorded(shapes)
        process.send_signal(sig)
        _out, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 130, err
    assert f"run {run_id} cancelled" in err
    with Catalog(shapes) as catalog:
        run = get_run(catalog, run_id)
    assert run.status == "cancelled", run.message
    assert run.epochs_done >= 1 and run.message in (
        f"cancelled during epoch {run.epochs_done + 1}",
        f"cancelled after epoch {run.epochs_done}",
    )


class _HookedFile:
    """A file that calls ``before_write(bytes written so far, including this write)`` before each write."""

    def __init__(self, fh, before_write) -> None:
        self.fh, self.written, self.before_write = fh, 0, before_write

    def write(self, data) -> int:
        self.written += len(data)
        self.before_write(self.written)
        return self.fh.write(data)

    def flush(self) -> None:
        self.fh.flush()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.fh.close()


def _second_checkpoint_fails(monkeypatch, error, after_bytes: int) -> None:
    """From the second checkpoint on, the file's write raises ``error()`` once ``after_bytes`` are written."""
    real_open, saves = open, {"n": 0}

    def fail(written: int) -> None:
        if written > after_bytes:
            raise error()

    def opened(path, mode, **kwargs):
        if mode != "wb":  # a text file (the runs folder's owner file): not a checkpoint
            return real_open(path, mode, **kwargs)
        saves["n"] += 1
        return _HookedFile(real_open(path, mode), fail) if saves["n"] >= 2 else real_open(path, mode)

    monkeypatch.setattr(files, "open", opened, raising=False)  # checkpoints.save writes through atomic_write


def test_ctrl_c_while_a_checkpoint_is_written_is_a_cancel_not_a_failure(shapes, monkeypatch):
    """torch.save calls the file's write from C++ and turns a KeyboardInterrupt raised there into a RuntimeError
    ("enforce fail ... unexpected pos"): the run was recorded as failed (CI caught it once in the signal test)."""
    _second_checkpoint_fails(monkeypatch, KeyboardInterrupt, 1000)
    events = []
    with pytest.raises(KeyboardInterrupt):
        for event in train(shapes, config(epochs=3)):
            events.append(event)
    with Catalog(shapes) as catalog:
        run = get_run(catalog, events[0].run_id)
    assert run.status == "cancelled" and run.message == "cancelled after epoch 2", run.message
    assert not list(Path(run.directory).glob("*.tmp"))


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_while_a_checkpoint_is_written_waits_for_the_whole_file(tmp_path, monkeypatch, sig):
    """A real Ctrl+C (or SIGTERM) arriving while torch writes a checkpoint is held until the file is whole, then
    delivered: raised inside torch's write callbacks it became a RuntimeError, or was lost (a flaky CI failure:
    the run trained on to its last epoch)."""
    import os

    import torch

    from core.training import checkpoints

    real_open, sent = open, []

    def signal_once(_written: int) -> None:
        if not sent:
            sent.append(True)
            os.kill(os.getpid(), sig)  # delivered to this, the main thread, at once

    hooked = lambda path, mode, **kw: _HookedFile(real_open(path, mode, **kw), signal_once)  # noqa: E731
    monkeypatch.setattr(files, "open", hooked, raising=False)
    # both raise KeyboardInterrupt, as in `tailor train` (SIGINT's default; the CLI's handler for SIGTERM), even
    # when this suite runs with SIGINT ignored
    previous = {s: signal.signal(s, signal.default_int_handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        with pytest.raises(KeyboardInterrupt):
            checkpoints.save({"weights": torch.arange(100_000)}, tmp_path / "checkpoint.pt")
        assert signal.getsignal(sig) is signal.default_int_handler  # the handlers are back
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    assert sent and torch.equal(checkpoints.load(tmp_path / "checkpoint.pt")["weights"], torch.arange(100_000))


def test_a_full_disk_under_the_run_folder_says_what_was_kept_and_leaves_no_temporary_file(shapes, monkeypatch):
    _second_checkpoint_fails(monkeypatch, lambda: OSError(errno.ENOSPC, "No space left on device"), 1000)
    events = drain(train(shapes, config(epochs=3)))
    failed = events[-1]
    assert isinstance(failed, RunFailed)
    assert failed.message.startswith("the disk is full writing ") and "checkpoint.pt" in failed.message
    assert f"run {failed.run_id} is kept up to epoch 2 and resumes after epoch 1" in failed.message
    assert "--resume" in failed.message
    with Catalog(shapes) as catalog:
        run = get_run(catalog, failed.run_id)
    assert run.status == "failed" and not list(Path(run.directory).glob("*.tmp"))


def test_a_full_catalog_disk_mid_run_does_not_claim_nothing_was_written(shapes, monkeypatch):
    real = store.record_epoch

    def full_on_the_second(catalog, run_id, epoch, *args):
        if epoch == 1:
            raise StorageError(f"the disk holding the catalog is full ({shapes}); this step was not saved", "full")
        return real(catalog, run_id, epoch, *args)

    monkeypatch.setattr(store, "record_epoch", full_on_the_second)
    failed = drain(train(shapes, config(epochs=3)))[-1]
    assert isinstance(failed, RunFailed)
    assert "nothing was written" not in failed.message
    assert f"run {failed.run_id} is kept up to epoch 1 and resumes after epoch 1" in failed.message
    with Catalog(shapes) as catalog:
        assert get_run(catalog, failed.run_id).epochs_done == 1


def test_a_write_lock_held_longer_than_the_busy_timeout_is_waited_for(shapes, monkeypatch):
    monkeypatch.setattr(db, "BUSY_TIMEOUT_MS", 200)
    monkeypatch.setattr(recorder, "LOCK_WAIT_S", 60)
    events, holder = [], None
    for event in train(shapes, config(epochs=3)):
        events.append(event)
        if isinstance(event, EpochFinished) and event.epoch == 0:  # another program takes the write lock...
            holder = sqlite3.connect(shapes, isolation_level=None)
            holder.execute("BEGIN IMMEDIATE")
        if isinstance(event, Note) and "waiting" in event.message and holder is not None:  # ...for a while
            time.sleep(1.0)
            holder.execute("COMMIT")
            holder.close()
            holder = None
    assert isinstance(events[-1], RunFinished), events[-1]
    notes = [e.message for e in events if isinstance(e, Note)]
    assert any("waiting to record epoch 2" in n for n in notes) and any("epoch 2 recorded after" in n for n in notes)
    with Catalog(shapes) as catalog:
        assert get_run(catalog, events[-1].run_id).epochs_done == 3


@pytest.mark.parametrize(
    "option",
    [
        ["--lr", "inf"],
        ["--lr", "nan"],
        ["--weight-decay", "-1"],
        ["--batch-size", "1"],
        ["--device", "mps"],
        ["--device", "cuda:7"],
        ["--seed", str(2**63)],
        ["--gamma", "nan"],
        ["--epochs", "0"],
        ["--pretrained", "BAD"],
    ],
)
def test_bad_training_options_are_refused_before_a_run_is_recorded(shapes, tmp_path, capsys, option):
    if option[-1] == "BAD":
        bad = tmp_path / "weights.pt"
        bad.write_text("not a state dict")
        option = ["--pretrained", str(bad)]
    code = main(
        [
            "train",
            shapes,
            "-a",
            "colour",
            "--backbone",
            "resnet32-cifar",
            "--epochs",
            "1",
            "--image-size",
            "16",
            *option,
        ]
        if option[0] != "--epochs"
        else ["train", shapes, "-a", "colour", "--backbone", "resnet32-cifar", *option]
    )
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    with Catalog(shapes) as catalog:
        assert list_runs(catalog) == []
