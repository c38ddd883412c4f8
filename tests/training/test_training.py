"""The training engine end to end on small generated images: CLI, events, cancel/resume, splits, snapshots."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from sqlalchemy import text

from core.catalog.runs import epochs, final_scores, get_run, load_snapshot, recover_interrupted
from core.catalog.snapshot import take_snapshot
from core.catalog.store import Catalog
from core.config import HEAD_ONLY_LOSSES
from core.ingest.importer import import_source, run
from core.training.events import CheckpointSaved, EpochFinished, RunCancelled, RunFailed, RunFinished, RunStarted
from core.training.loop import TrainConfig, lr_factor, train
from core.training.losses import LOSSES
from tests.cli.test_cli import SHARED
from tests.conftest import main_cli, run_cli, write_image

COLOURS = {"red": (220, 30, 30), "green": (30, 200, 40), "blue": (30, 40, 220)}


@pytest.fixture
def shapes(tmp_path):
    """A small single-label catalog: 3 colour labels, 16/8/5 images of 24 x 24, noisy so they differ."""
    return _shapes_catalog(tmp_path, str(tmp_path / "c.sqlite"))


@pytest.fixture
def shapes_anywhere(tmp_path, location):
    """The same catalog on SQLite and on PostgreSQL."""
    return _shapes_catalog(tmp_path, location)


def _shapes_catalog(tmp_path, location: str) -> str:
    rng = np.random.default_rng(0)
    root = tmp_path / "shapes"
    for (label, colour), count in zip(COLOURS.items(), (16, 8, 5)):
        for i in range(count):
            pixels = np.clip(np.array(colour) + rng.normal(0, 25, (24, 24, 3)), 0, 255).astype(np.uint8)
            path = root / label / f"{i}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            from PIL import Image

            Image.fromarray(pixels).save(path)
    with Catalog.create(location) as cat:
        run(import_source(cat, root, "colour"))
    return location


def config(**kw) -> TrainConfig:
    base = dict(attribute="colour", backbone="resnet32-cifar", epochs=1, batch_size=8, image_size=16)
    base.update(kw)
    return TrainConfig(**base)


def drain(events):
    return list(events)


def test_cli_train_prints_the_json_schema_and_runs_lists_it(shapes_anywhere, tmp_path):
    shapes = shapes_anywhere
    result = run_cli(
        "train",
        shapes,
        "-a",
        "colour",
        "--loss",
        "iew",
        "--backbone",
        "resnet18",
        "--epochs",
        "1",
        "--batch-size",
        "8",
        "--image-size",
        "32",
        "--json",
        "--runs-dir",
        str(tmp_path / "runs"),
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["status"] == "finished" and data["run_id"] == 1
    assert data["seconds"] > 0 and data["images_per_second"] > 0
    metrics = data["metrics"]
    for key in ("top1", "acsa", "gm", "macro_ap"):
        assert 0 <= metrics[key] <= 1
    assert [p["name"] for p in metrics["per_label"]] == ["blue", "green", "red"]
    for entry in metrics["per_label"]:
        assert set(entry) >= {"name", "count", "ap", "accuracy", "threshold", "recall"}
    assert sum(p["count"] for p in metrics["per_label"]) + sum(p["test_count"] for p in metrics["per_label"]) == 29
    listed = run_cli("runs", shapes)
    assert listed.returncode == 0 and "iew" in listed.stdout and "finished" in listed.stdout
    compared = run_cli("compare", shapes, "1", "--markdown")
    assert compared.returncode == 0 and "| run | variant | blue" in compared.stdout


@pytest.mark.parametrize("loss", [loss for loss in LOSSES if loss not in HEAD_ONLY_LOSSES])
def test_every_loss_trains_and_records_a_finished_run(shapes, loss):
    events = drain(train(shapes, config(loss=loss, epochs=2)))
    assert isinstance(events[0], RunStarted) and isinstance(events[-1], RunFinished), events[-1]
    with Catalog(shapes) as cat:
        info = get_run(cat, events[0].run_id)
        assert info.status == "finished" and info.epochs_done == 2
        ids, paths, targets, scores = final_scores(cat, info.id)
        assert scores.shape == (len(ids), 3) and np.allclose(scores.sum(axis=1), 1, atol=1e-4)
        assert len(epochs(cat, info.id)) == 2
    model_state = torch.load(f"{info.directory}/model.pt", weights_only=True)
    if loss.startswith("ldam"):
        assert "head.weight" in model_state and "head.bias" not in model_state  # cosine head
    with open(f"{info.directory}/events.jsonl") as events_file:
        log = [json.loads(line)["event"] for line in events_file]
    assert log[0] == "started" and log[-1] == "finished" and log.count("epoch") == 2


def test_training_is_reproducible_on_cpu(shapes):
    first = [e.train_loss for e in drain(train(shapes, config(epochs=2))) if isinstance(e, EpochFinished)]
    second = [e.train_loss for e in drain(train(shapes, config(epochs=2))) if isinstance(e, EpochFinished)]
    assert first == second
    other = [e.train_loss for e in drain(train(shapes, config(epochs=2, seed=5))) if isinstance(e, EpochFinished)]
    assert other != first


def test_split_is_seeded_stratified_and_stored(shapes):
    with Catalog(shapes) as cat:
        a = take_snapshot(cat, "colour", seed=1)
        b = take_snapshot(cat, "colour", seed=1)
        c = take_snapshot(cat, "colour", seed=2)
    assert a.splits == b.splits and a.splits != c.splits
    assert a.counts("test").tolist() == [1, 1, 2]  # blue 5, green 8, red 16: max(1, round(n / 10))
    events = drain(train(shapes, config(seed=1)))
    with Catalog(shapes) as cat:
        stored = load_snapshot(cat, events[0].run_id)
    assert stored.splits == a.splits and stored.image_ids == a.image_ids and stored.targets == a.targets


def test_cancel_then_resume_finishes_the_run(shapes_anywhere, tmp_path):
    shapes = shapes_anywhere
    cancel = threading.Event()
    seen = []
    for event in train(shapes, config(epochs=3), cancel=cancel, runs_dir=str(tmp_path / "runs")):
        seen.append(event)
        if isinstance(event, CheckpointSaved):
            cancel.set()
    assert isinstance(seen[-1], RunCancelled)
    run_id = seen[0].run_id
    with Catalog(shapes) as cat:
        assert get_run(cat, run_id).status == "cancelled"
        assert get_run(cat, run_id).epochs_done == 1
    resumed = drain(train(shapes, config(), resume=run_id))
    assert resumed[0].start_epoch == 1 and isinstance(resumed[-1], RunFinished)
    assert [e.epoch for e in resumed if isinstance(e, EpochFinished)] == [1, 2]
    with Catalog(shapes) as cat:
        info = get_run(cat, run_id)
        assert info.status == "finished" and info.epochs_done == 3


def test_closing_the_generator_records_a_cancelled_run(shapes):
    events = train(shapes, config(epochs=2))
    for event in events:
        if isinstance(event, EpochFinished):
            events.close()
            break
    with Catalog(shapes) as cat:
        assert get_run(cat, 1).status == "cancelled"


def test_snapshot_isolates_a_running_experiment_from_edits(shapes, tmp_path):
    events = train(shapes, config(epochs=2))
    started = next(events)
    with Catalog(shapes) as cat:
        before = load_snapshot(cat, started.run_id)
        with cat.engine.begin() as conn:  # relabel every red image as blue, and add a new image, mid-run
            conn.execute(
                text(
                    "UPDATE annotation SET label_id = (SELECT id FROM label WHERE name = 'blue') "
                    "WHERE label_id = (SELECT id FROM label WHERE name = 'red')"
                )
            )
        write_image(tmp_path / "more" / "blue" / "new.png", colour=(0, 0, 250), size=(24, 24))
        run(import_source(cat, tmp_path / "more", "colour"))
    rest = drain(events)
    assert isinstance(rest[-1], RunFinished)
    with Catalog(shapes) as cat:
        after = load_snapshot(cat, started.run_id)
        info = get_run(cat, started.run_id)
    assert after.targets == before.targets and after.image_ids == before.image_ids
    assert [label.train for label in info.labels] == [4, 7, 14]


def test_unreadable_image_fails_the_run_with_its_name(shapes, tmp_path):
    (tmp_path / "shapes" / "red" / "3.png").write_bytes(b"")
    events = drain(train(shapes, config()))
    assert isinstance(events[-1], RunFailed)
    assert "3.png" in events[-1].message and "empty file" in events[-1].message
    with Catalog(shapes) as cat:
        info = get_run(cat, events[-1].run_id)
    assert info.status == "failed" and "3.png" in info.message
    result = run_cli(
        "train", shapes, "-a", "colour", "--backbone", "resnet32-cifar", "--epochs", "1", "--image-size", "16"
    )
    assert result.returncode == 1 and "failed: cannot read image" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (("-a", "nope"), "no attribute 'nope'"),
        (("--epochs", "0"), "epochs must be at least 1"),
        (("--device", "cuda"), "no CUDA GPU"),
        (("--pretrained", "/no/such/weights.pt"), "no such file"),
    ],
)
def test_bad_train_input_is_one_line(shapes, args, message):
    base = ["train", shapes, "-a", "colour", "--backbone", "resnet32-cifar", "--image-size", "16"]
    if "-a" in args:
        base = base[:2] + base[4:]
    result = main_cli(*base, *args)  # in this process: the check runs before any run (a process start is 8 s)
    assert result.returncode in (1, 2) and "Traceback" not in result.stderr
    assert message in result.stderr


def test_crt_is_refused_for_whole_network_training_in_one_line(shapes):
    events = drain(train(shapes, config(loss="crt")))
    assert isinstance(events[-1], RunFailed) and "crt re-trains a classifier on frozen features: add --head-only" in (
        events[-1].message
    )


def test_missing_imagenet_weights_are_downloaded_first_and_offline_is_one_line(shapes, monkeypatch, tmp_path):
    monkeypatch.setattr(torch.hub, "_hub_dir", str(tmp_path / "hub"))
    events = drain(train(shapes, config(backbone="resnet18", pretrained="imagenet", image_size=32)))
    assert [e.kind for e in events] == ["failed"] and events[0].run_id == 0  # nothing recorded
    assert "cannot download the ImageNet weights of resnet18" in events[0].message


def test_step_schedule_follows_the_cifar_lt_protocol():
    c = TrainConfig(attribute="x", optimizer="sgd", epochs=200).resolved(multi_label=False)
    assert (c.lr, c.weight_decay, c.schedule, c.warmup_epochs) == (0.1, 2e-4, "step", 5)
    assert [lr_factor(c, e) for e in (0, 4, 5, 159, 160, 179, 180, 199)] == [0.2, 1.0, 1.0, 1.0, 0.01, 0.01, 1e-4, 1e-4]


def test_export_model_torchscript_and_onnx(shapes, tmp_path):
    events = drain(train(shapes, config()))
    run_id = events[0].run_id
    for fmt, name in (("torchscript", "m.pt"), ("onnx", "m.onnx")):
        result = run_cli("export-model", shapes, str(run_id), "--format", fmt, "--out", str(tmp_path / name))
        assert result.returncode == 0, result.stderr
    with pytest.warns(FutureWarning, match="deprecated"):  # TorchScript still loads; torch nudges to torch.export
        scripted = torch.jit.load(str(tmp_path / "m.pt"))
    assert scripted(torch.zeros(2, 3, 16, 16)).shape == (2, 3)


@pytest.mark.skipif(not (SHARED / "fashion-mnist-900").is_dir(), reason="../shared/datasets not present")
def test_every_loss_on_fashion_mnist_900_through_the_cli(tmp_path, capsys):
    """Acceptance: each loss finishes on Fashion-MNIST-900 (CPU, resnet18, 32 x 32, 1 epoch); runs and compare.
    The first run goes through the installed ``tailor`` script; the others through the same ``main`` in this
    process (a process start and torch's import cost ~14 s a run: two minutes of the suite)."""
    from core.cli.main import main

    cat = str(tmp_path / "f.sqlite")
    assert run_cli("init", cat).returncode == 0
    assert run_cli("import", cat, str(SHARED / "fashion-mnist-900"), "-a", "category").returncode == 0
    trained = [loss for loss in LOSSES if loss not in HEAD_ONLY_LOSSES]
    for n, loss in enumerate(trained):
        args = ("train", cat, "-a", "category", "--loss", loss, "--backbone", "resnet18", "--epochs", "1",
                "--image-size", "32", "--device", "cpu", "--json")  # fmt: skip
        if n == 0:
            result = run_cli(*args)
            assert result.returncode == 0, result.stderr
            output = result.stdout
        else:
            assert main(list(args)) == 0, capsys.readouterr().err
            output = capsys.readouterr().out
        data = json.loads(output)
        assert data["status"] == "finished" and len(data["metrics"]["per_label"]) == 10
        assert sum(p["count"] for p in data["metrics"]["per_label"]) == 810
    listed = json.loads(run_cli("runs", cat, "--json").stdout)
    assert [r["loss"] for r in listed] == trained
    table = run_cli("compare", cat, *[str(r["run_id"]) for r in listed], "--markdown")
    assert table.returncode == 0
    assert sum(line.startswith("| ") for line in table.stdout.splitlines()) == len(trained) + 1  # header + runs
    terminal = run_cli("compare", cat, *[str(r["run_id"]) for r in listed])  # a terminal's table by default
    assert terminal.returncode == 0 and "label AP (train/test)" in terminal.stdout
    assert max(len(line) for line in terminal.stdout.splitlines() if not line.startswith("⚠")) <= 100


def test_the_image_cache_changes_nothing_and_forkserver_workers_train(shapes):
    cached = [e for e in drain(train(shapes, config(epochs=1))) if isinstance(e, EpochFinished)]
    decoded = drain(train(shapes, config(epochs=1, cache=False)))
    assert not any(e.kind == "decoding" for e in decoded)
    assert [e.train_loss for e in decoded if isinstance(e, EpochFinished)] == [cached[0].train_loss]
    streamed = drain(train(shapes, config(epochs=1, cache=False, workers=1)))  # worker processes: forkserver
    assert isinstance(streamed[-1], RunFinished), streamed[-1]
    assert np.isfinite([e.train_loss for e in streamed if isinstance(e, EpochFinished)]).all()


def test_out_of_memory_becomes_a_failed_run_with_advice(shapes, monkeypatch):
    from core.training import losses

    def explode(self, logits, targets):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(losses.WeightedCrossEntropy, "forward", explode)
    events = drain(train(shapes, config(batch_size=16)))
    assert isinstance(events[-1], RunFailed)
    assert "out of GPU memory" in events[-1].message and "try batch size 8" in events[-1].message
    with Catalog(shapes) as cat:
        assert get_run(cat, events[-1].run_id).status == "failed"


def test_resume_keeps_selecting_the_best_epoch_on_val(tmp_path):
    rng = np.random.default_rng(1)
    from PIL import Image

    for split, per_label in (("train", 8), ("val", 3), ("test", 3)):
        for label, colour in COLOURS.items():
            for i in range(per_label):
                pixels = np.clip(np.array(colour) + rng.normal(0, 25, (16, 16, 3)), 0, 255).astype(np.uint8)
                path = tmp_path / "split" / split / label / f"{i}.png"
                path.parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(pixels).save(path)
    location = str(tmp_path / "v.sqlite")
    with Catalog.create(location) as cat:
        run(import_source(cat, tmp_path / "split", "colour"))
    cancel = threading.Event()
    first = []
    for event in train(location, config(epochs=3), cancel=cancel):
        first.append(event)
        if isinstance(event, CheckpointSaved):
            cancel.set()
    assert first[0].val_images == 9 and isinstance(first[-1], RunCancelled)
    saved = torch.load(f"{first[0].directory}/checkpoint.pt", weights_only=True)
    assert saved["best"]["epoch"] == 0 and saved["best"]["selected_on"] == "val"
    resumed = drain(train(location, config(), resume=first[0].run_id))
    assert isinstance(resumed[-1], RunFinished)
    whole = drain(train(location, config(epochs=3)))  # the same run, never interrupted (training is reproducible)
    assert [e.train_loss for e in resumed if isinstance(e, EpochFinished)] == [
        e.train_loss for e in whole if isinstance(e, EpochFinished)
    ][1:]
    assert resumed[-1].summary["best"] == whole[-1].summary["best"]
    assert whole[-1].summary["best"]["selected_on"] == "val"


@pytest.mark.parametrize("setting, expected", [("1", "True"), ("0", "False")])
def test_training_processes_keep_freed_memory_unless_told_not_to(setting, expected):
    import os
    import subprocess
    import sys

    code = "from core.base.memory import keep_freed_memory as k; print(k(), k())"
    env = {**os.environ, "TAILOR_KEEP_FREED_MEMORY": setting}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert done.stdout.split() == [expected, expected]


@pytest.mark.parametrize("stop", [KeyboardInterrupt, SystemExit])
def test_a_run_stopped_while_its_model_is_written_finishes_on_resume(shapes, monkeypatch, stop):
    """Ctrl+C / SIGTERM (or kill -9) while model.pt is written: every epoch was checkpointed, so --resume
    finishes the run from its last checkpoint (it failed with 'the run ended without an evaluated epoch')."""
    from core.training import checkpoints

    real_save = checkpoints.save

    def interrupted(obj, path):
        if str(path).endswith("model.pt"):
            raise stop()
        return real_save(obj, path)

    monkeypatch.setattr(checkpoints, "save", interrupted)
    with pytest.raises(stop):
        drain(train(shapes, config(epochs=2)))
    monkeypatch.setattr(checkpoints, "save", real_save)
    with Catalog(shapes) as cat:
        recover_interrupted(cat)  # what the next process does on opening the catalog
        stopped = get_run(cat, 1)
        assert stopped.status in ("cancelled", "interrupted") and stopped.epochs_done == 2
    resumed = drain(train(shapes, config(), resume=1))
    assert isinstance(resumed[-1], RunFinished)
    with Catalog(shapes) as cat:
        info = get_run(cat, 1)
        assert info.status == "finished" and info.epochs_done == 2 and info.metrics is not None
        assert len(final_scores(cat, 1)[0]) > 0
    assert (Path(info.directory) / "model.pt").is_file()
