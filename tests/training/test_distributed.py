"""Data-parallel training under torchrun: two CPU processes joined by gloo give a run shaped like a single one."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from sqlalchemy import text

from core.catalog.runs import epochs, final_scores
from core.catalog.store import Catalog
from core.ingest.importer import import_source, run
from core.training.checkpoints import load
from tests.catalog.test_crash_safety import _tiny_tree
from tests.conftest import run_cli

ARGS = [
    "-a",
    "sleeve",
    "--backbone",
    "resnet32-cifar",
    "--epochs",
    "2",
    "--image-size",
    "16",
    "--batch-size",
    "16",
    "--json",
]


def test_two_processes_with_gloo_train_one_run_like_a_single_process(tmp_path):
    root = _tiny_tree(tmp_path / "tree", 120)
    location = str(tmp_path / "c.sqlite")
    with Catalog.create(location) as catalog:
        run(import_source(catalog, root, "sleeve"))
    torchrun = Path(sys.executable).with_name("torchrun")
    result = subprocess.run(
        [
            str(torchrun),
            "--standalone",
            "--nproc-per-node",
            "2",
            "-m",
            "core.cli",
            "train",
            location,
            *ARGS,
            "--distributed",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    distributed = json.loads(result.stdout)  # rank 0 alone prints the result
    single = json.loads(run_cli("train", location, *ARGS).stdout)
    assert distributed["status"] == single["status"] == "finished"
    assert distributed["run_id"] == 1 and single["run_id"] == 2  # one run for the whole group
    assert set(distributed) == set(single) and set(distributed["metrics"]) == set(single["metrics"])
    with Catalog(location) as catalog:
        assert [len(epochs(catalog, r)) for r in (1, 2)] == [2, 2]  # each epoch written once, by rank 0
        shapes = [final_scores(catalog, r)[3].shape for r in (1, 2)]
        assert shapes[0] == shapes[1] and shapes[0][1] == 4
        assert np.allclose(final_scores(catalog, 1)[3].sum(axis=1), 1, atol=1e-4)
        with catalog.engine.connect() as conn:
            assert conn.execute(text("SELECT COUNT(*) FROM run")).scalar() == 2
    models = [load(Path(r["directory"]) / "model.pt") for r in (distributed, single)]
    assert models[0].keys() == models[1].keys()  # the plain network, not DDP's "module." wrapper
    assert all(models[0][k].shape == models[1][k].shape for k in models[0])


def test_distributed_without_torchrun_says_how_to_start_it(tmp_path):
    result = run_cli("train", str(tmp_path / "c.sqlite"), "-a", "x", "--distributed")
    assert result.returncode == 2 and "torchrun" in result.stderr and "Traceback" not in result.stderr
