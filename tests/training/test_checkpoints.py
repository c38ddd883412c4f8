"""core.training.checkpoints: atomic writes through a file object, reads that never run code."""

from __future__ import annotations

import pytest
import torch

from core.base.errors import TailorError
from core.training import checkpoints


class Payload:
    """Not a tensor or plain container: a weights-only load must refuse it."""


def test_save_is_atomic_and_load_round_trips(tmp_path):
    path = tmp_path / "model.pt"
    state = {"weight": torch.arange(6.0).view(2, 3), "epoch": 3, "best": {"value": 0.5, "key": "acsa"}}
    checkpoints.save(state, path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.pt"]  # no temporary file left
    loaded = checkpoints.load(path)
    assert torch.equal(loaded["weight"], state["weight"]) and loaded["best"] == state["best"]
    checkpoints.save({"weight": torch.zeros(1)}, path)  # replaced whole
    assert torch.equal(checkpoints.load(path)["weight"], torch.zeros(1))


def test_load_refuses_objects_that_could_run_code(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"payload": Payload()}, path)
    with pytest.raises(TailorError, match="holds objects other than tensors") as refused:  # one line, nothing ran
        checkpoints.load(path)
    assert "weights_only" not in str(refused.value) and "\n" not in str(refused.value)
