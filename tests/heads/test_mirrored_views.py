"""Heads with mirrored views: trained on the images' and their mirrored copies' features, scored by both views'
mean logits wherever the run is scored (its own test scores, predict, adjust, the exported network)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from core.catalog.runs import final_scores, get_run
from core.catalog.store import Catalog
from core.training.dataset import decode_square
from core.training.runtime import Normaliser
from tests.conftest import main_cli
from tests.features.test_feature_store import weights_file as weights_file
from tests.heads.test_heads import shapes as shapes


def train(catalog: str, weights: str, *extra: str) -> dict:
    result = main_cli("train", catalog, "-a", "colour", "--head-only", "--backbone", "resnet32-cifar",
                      "--pretrained", weights, "--image-size", "16", "--epochs", "3", "--batch-size", "8",
                      "--json", *extra)  # fmt: skip
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def network_scores(network: torch.nn.Module, paths: list[str]) -> np.ndarray:
    pixels = torch.stack([torch.from_numpy(decode_square(p, 16)) for p in paths])
    with torch.no_grad():
        return torch.softmax(network(Normaliser(torch.device("cpu"), False)(pixels)), dim=1).numpy()


@pytest.fixture
def mirrored_run(shapes, weights_file) -> tuple[str, dict]:
    return shapes, train(shapes, weights_file, "--mirrored-views")


def test_a_mirrored_views_run_keeps_both_views_and_scores_by_their_mean(mirrored_run, tmp_path):
    catalog, result = mirrored_run
    assert result["status"] == "finished"
    stores = sorted(p.name for p in Path(catalog + ".features").iterdir() if not p.name.startswith("."))
    assert len(stores) == 2 and sum("-mirrored-" in name for name in stores) == 1
    with Catalog(catalog) as opened:
        run = get_run(opened, result["run_id"])
        assert run.config.mirrored_views
        ids, paths, _targets, recorded = final_scores(opened, result["run_id"])
        names = [label.name for label in run.labels]
    # the exported network averages the two views itself, and computes what the run recorded
    out = tmp_path / "m.pt"
    assert main_cli("export-model", catalog, str(result["run_id"]), "--format", "torchscript", "--out",
                    str(out)).returncode == 0  # fmt: skip
    exported = torch.jit.load(str(out))
    both = np.abs(network_scores(exported, paths) - recorded).max()
    one = np.abs(network_scores(exported.classifier, paths) - recorded).max()  # the image alone
    assert both < 2e-2 and both < one / 5  # features stored in float16; one view alone is far off
    # predicting from the stored features gives the recorded scores too
    predicted = main_cli("predict", catalog, str(result["run_id"]), "--all", "--json")
    assert predicted.returncode == 0, predicted.stderr
    by_id = {row["image_id"]: [row["scores"][name] for name in names] for row in json.loads(predicted.stdout)}
    assert np.allclose([by_id[i] for i in ids], recorded, atol=1e-5)


def test_the_mirrored_view_changes_the_scores(mirrored_run, weights_file):
    catalog, mirrored = mirrored_run
    plain = train(catalog, weights_file)
    with Catalog(catalog) as opened:
        a = final_scores(opened, mirrored["run_id"])[3]
        b = final_scores(opened, plain["run_id"])[3]
    assert a.shape == b.shape and not np.allclose(a, b)


def test_what_a_mirrored_run_cannot_do_is_refused_in_one_line(mirrored_run, weights_file):
    catalog, result = mirrored_run
    run = str(result["run_id"])
    refused = main_cli("adjust", catalog, run, "--tau-norm", "1")
    assert refused.returncode == 2 and "mirrored views" in refused.stderr and "--tau" in refused.stderr
    refused = main_cli("oversample", catalog, run)
    assert refused.returncode == 2 and "mirrored views" in refused.stderr
    adjusted = main_cli("adjust", catalog, run, "--tau", "1", "--json")
    assert adjusted.returncode == 0, adjusted.stderr
    whole = main_cli("train", catalog, "-a", "colour", "--mirrored-views", "--epochs", "1")
    assert whole.returncode == 2 and "--mirrored-views needs --head-only" in whole.stderr


def test_crt_draws_an_image_uniformly_by_label_then_one_of_its_views(shapes, weights_file):
    from core.catalog.runs import load_snapshot
    from core.heads.train import HeadTrainer
    from tests.features.test_feature_store import head_config
    from tests.heads.test_heads import _crt_loss, _model

    plain = train(shapes, weights_file)
    with Catalog(shapes) as cat:
        snapshot = load_snapshot(cat, plain["run_id"])
    config = head_config(weights_file, loss="crt", mirrored_views=True).resolved(False)
    views = [torch.zeros(len(snapshot.image_ids), 4)] * 2
    trainer = HeadTrainer(config, snapshot, views, _model(), _crt_loss(snapshot), torch.device("cpu"))
    n = len(trainer.train_idx)
    rows = [r for _ in range(200) for r in trainer.order().tolist()]
    assert len(rows) == 200 * 2 * n and 0.45 < np.mean([r >= n for r in rows]) < 0.55  # both views drawn
    labels = [snapshot.targets[trainer.train_idx[r % n]][0] for r in rows]
    assert np.allclose(np.bincount(labels, minlength=3) / len(labels), 1 / 3, atol=0.02)
    assert torch.equal(trainer.targets[:n], trainer.targets[n:])  # each view's rows carry the image's labels
