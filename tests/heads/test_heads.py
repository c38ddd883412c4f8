"""Head-only runs for every variant (single- and multi-label), cRT's sampler, --features-of, and post-hoc
adjustment against hand computations; a derived run's saved model computes the scores it recorded."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from core.analysis.posthoc import adjusted_scores, offset
from core.base.errors import TailorError
from core.base.iteration import drain
from core.catalog.runs import final_scores, get_run, load_snapshot
from core.catalog.store import Catalog
from core.config import LOSSES, SINGLE_LABEL_ONLY, TrainConfig
from core.heads.adjust import adjust, tau_normalised_scores
from core.heads.train import HeadTrainer, train_head
from core.ingest.importer import import_source, run
from core.training.backbones import PosthocHead
from core.training.events import FeatureProgress, RunFailed, RunFinished
from core.training.export import export_model, load_run_model
from tests.conftest import main_cli, run_cli
from tests.features.test_feature_store import head_config
from tests.features.test_feature_store import weights_file as weights_file
from tests.training.test_training import _shapes_catalog


@pytest.fixture
def shapes(tmp_path) -> str:
    return _shapes_catalog(tmp_path, str(tmp_path / "c.sqlite"))


@pytest.fixture
def tagged(tmp_path) -> str:
    """A multi-label catalog: 30 images, tags 'warm' (red ones), 'bright' and 'plain'."""
    from PIL import Image

    rows, rng = [], np.random.default_rng(0)
    for i in range(30):
        colour = (220, 40, 40) if i % 3 == 0 else (40, 40, 220)
        path = tmp_path / "tagged" / f"{i}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.clip(np.array(colour) + rng.normal(0, 20, (24, 24, 3)), 0, 255).astype(np.uint8)).save(path)
        tags = ["warm"] if i % 3 == 0 else ["plain"]
        if i % 2 == 0:
            tags.append("bright")
        rows.append((str(path), "|".join(tags), "test" if i % 5 == 0 else "train"))
    pd.DataFrame(rows, columns=["path", "labels", "split"]).to_csv(tmp_path / "tags.csv", index=False)
    location = str(tmp_path / "tags.sqlite")
    with Catalog.create(location) as cat:
        run(import_source(cat, tmp_path / "tags.csv", "tags", multi_label=True))
    return location


def finished(events) -> RunFinished:
    events = list(events)
    assert isinstance(events[-1], RunFinished), [e for e in events if isinstance(e, RunFailed)]
    return events[-1]


@pytest.mark.parametrize("loss", LOSSES)
def test_every_variant_trains_a_head_and_records_a_run(shapes, weights_file, loss):
    done = finished(train_head(shapes, head_config(weights_file, loss=loss, epochs=3)))
    with Catalog(shapes) as cat:
        info = get_run(cat, done.run_id)
        assert info.status == "finished" and info.config.head_only and info.epochs_done == 3
        assert 0 <= info.last["acsa"] <= 1 and len(final_scores(cat, done.run_id)[0]) == sum(
            x.test for x in info.labels
        )
        model, config, _ = load_run_model(cat, done.run_id)
        assert config.loss == loss and model.backbone.conv1.weight.shape == (16, 3, 3, 3)


@pytest.mark.parametrize("loss", [x for x in LOSSES if x not in SINGLE_LABEL_ONLY])
def test_multi_label_heads(tagged, weights_file, loss):
    config = head_config(weights_file, attribute="tags", loss=loss, epochs=2)
    done = finished(train_head(tagged, config))
    with Catalog(tagged) as cat:
        scores = final_scores(cat, done.run_id)[3]
    assert scores.shape == (6, 3) and np.isfinite(scores).all() and ((scores >= 0) & (scores <= 1)).all()


def test_balanced_softmax_refuses_a_multi_label_attribute_before_any_pass(tagged, weights_file):
    events = list(train_head(tagged, head_config(weights_file, attribute="tags", loss="balanced-softmax")))
    assert isinstance(events[-1], RunFailed) and "defined for single-label" in events[-1].message
    assert not any(e.kind == "features" for e in events)


def test_crt_draws_labels_uniformly(shapes, weights_file):
    with Catalog(shapes) as cat:
        snapshot = load_snapshot(cat, finished(train_head(shapes, head_config(weights_file))).run_id)
    config = head_config(weights_file, loss="crt").resolved(False)
    trainer = HeadTrainer(config, snapshot, [torch.zeros(len(snapshot.image_ids), 4)], _model(), _crt_loss(snapshot),
                          torch.device("cpu"))  # fmt: skip
    labels = [snapshot.targets[trainer.train_idx[r]][0] for _ in range(200) for r in trainer.order().tolist()]
    shares = np.bincount(labels, minlength=3) / len(labels)
    assert np.allclose(shares, 1 / 3, atol=0.02)  # training counts are 14 / 7 / 4


def _model():
    from core.training.backbones import build_classifier

    return build_classifier("resnet32-cifar", 3)[0]


def _crt_loss(snapshot):
    from core.training.losses import make_loss

    return make_loss("crt", snapshot.counts("train"), multi_label=False)


def test_heads_on_the_features_of_a_finished_run(shapes, weights_file):
    base = finished(train_head(shapes, head_config(weights_file)))
    events = list(train_head(shapes, TrainConfig(attribute="colour", head_only=True, features_of=base.run_id,
                                                 loss="crt", epochs=2)))  # fmt: skip
    done = finished(iter(events))
    with Catalog(shapes) as cat:
        config = get_run(cat, done.run_id).config
    assert (config.backbone, config.image_size, config.features_of) == ("resnet32-cifar", 16, base.run_id)
    assert config.pretrained == weights_file
    # a head-only run's backbone is the frozen pretrained one: its store serves, nothing is computed again
    progress = [e for e in events if isinstance(e, FeatureProgress)][-1]
    assert progress.cached == progress.total


def test_head_only_needs_pretrained_weights_or_a_run(shapes):
    events = list(train_head(shapes, TrainConfig(attribute="colour", head_only=True, backbone="resnet32-cifar")))
    assert isinstance(events[-1], RunFailed) and "add --pretrained [FILE]" in events[-1].message


def test_cli_head_only_then_export(shapes, weights_file, tmp_path):
    result = run_cli("train", shapes, "-a", "colour", "--head-only", "--backbone", "resnet32-cifar", "--pretrained",
                     weights_file, "--image-size", "16", "--loss", "balanced-softmax", "--json")  # fmt: skip
    assert result.returncode == 0, result.stderr
    with Catalog(shapes) as cat:
        target = export_model(cat, 1, "torchscript", str(tmp_path / "m.pt"))
    assert target.stat().st_size > 0


# -- post-hoc adjustment ------------------------------------------------------------------------------------------


def test_logit_adjustment_by_hand():
    p, prior = np.array([[0.7, 0.2, 0.1]]), np.array([0.6, 0.3, 0.1])
    by_hand = np.array([0.7 / 0.6, 0.2 / 0.3, 0.1 / 0.1])  # softmax(log p - log prior) = normalised p / prior
    assert np.allclose(adjusted_scores(p, offset(prior, 1.0, False), False), by_hand / by_hand.sum())
    half = p / np.sqrt(prior)
    assert np.allclose(adjusted_scores(p, offset(prior, 0.5, False), False), half / half.sum())
    assert np.allclose(adjusted_scores(p, offset(prior, 0.0, False), False), p)


def test_multi_label_logit_adjustment_by_hand():
    # logit(0.8) = log 4; prior 0.2 has log odds log(1/4): the shifted logit is log 16, sigmoid 16/17
    assert adjusted_scores(np.array([[0.8]]), offset(np.array([0.2]), 1.0, True), True)[0, 0] == pytest.approx(16 / 17)


def test_tau_normalisation_by_hand():
    head = torch.nn.Linear(2, 2)
    with torch.no_grad():
        head.weight.copy_(torch.tensor([[2.0, 0.0], [0.0, 1.0]]))
        head.bias.fill_(5.0)  # dropped
    x = np.array([[1.0, 1.0]])
    # power 1: rows [1, 0] and [0, 1], logits [1, 1] -> 0.5 / 0.5; power 0: logits [2, 1]
    assert np.allclose(tau_normalised_scores(x, head, 1.0, False), [[0.5, 0.5]])
    e = np.exp([2.0, 1.0])
    assert np.allclose(tau_normalised_scores(x, head, 1e-12, False), [e / e.sum()])


@pytest.mark.parametrize("tau_norm", [None, 1.0])
def test_a_derived_run_records_the_adjusted_scores_and_its_model_computes_them(shapes, weights_file, tau_norm):
    base = finished(train_head(shapes, head_config(weights_file, epochs=3)))
    derived = finished(adjust(shapes, base.run_id, tau=1.0, tau_norm=tau_norm))
    with Catalog(shapes) as cat:
        info = get_run(cat, derived.run_id)
        assert info.base_run_id == base.run_id and info.config.posthoc == {"tau": 1.0, **(
            {"tau_norm": 1.0} if tau_norm else {})}  # fmt: skip
        ids, paths, _targets, recorded = final_scores(cat, derived.run_id)
        base_scores = final_scores(cat, base.run_id)[3]
        snapshot = load_snapshot(cat, base.run_id)
        if tau_norm is None:
            prior = snapshot.counts("train") / snapshot.counts("train").sum()
            assert np.allclose(recorded, adjusted_scores(base_scores, offset(prior, 1.0, False), False), atol=1e-6)
        model, _, _ = load_run_model(cat, derived.run_id)
        assert isinstance(model.head, PosthocHead)
    from core.training.dataset import decode_square
    from core.training.runtime import Normaliser

    pixels = torch.stack([torch.from_numpy(decode_square(p, 16)) for p in paths])
    with torch.no_grad():
        exported = torch.softmax(model(Normaliser(torch.device("cpu"), False)(pixels)), dim=1).numpy()
    assert np.allclose(exported, recorded, atol=2e-3)  # features stored in float16


def test_adjust_cli_prints_the_change_and_refuses_bad_input(shapes, weights_file):
    base = finished(train_head(shapes, head_config(weights_file)))
    result = run_cli("adjust", shapes, str(base.run_id), "--tau", "1")
    assert result.returncode == 0, result.stderr
    assert f"run {base.run_id} -> run {base.run_id + 1}: ACSA" in result.stdout
    # nothing is trained: no losses, learning rate or images/s that were never measured
    assert "loss" not in result.stdout and "images/s" not in result.stdout and ", lr " not in result.stdout
    assert "adjusted test scores: top-1" in result.stdout and "best epoch" not in result.stdout
    for args, message in (
        (["--tau", "-1"], "--tau must be a number in [0, 10]"),
        (["--tau-norm", "0"], "--tau-norm must be a number in (0, 5]"),
    ):
        bad = main_cli("adjust", shapes, str(base.run_id), *args)
        assert bad.returncode == 2 and message in bad.stderr and "Traceback" not in bad.stderr
    again = main_cli("adjust", shapes, str(base.run_id + 1))
    assert again.returncode == 2 and "already adjusted" in again.stderr
    with pytest.raises(TailorError, match="no run 99"):
        drain(adjust(shapes, 99))


@pytest.fixture
def with_val(tmp_path) -> str:
    """A single-label catalog with train, val and test splits (two colours, 3:1 imbalance)."""
    from PIL import Image

    rows, rng = [], np.random.default_rng(1)
    for i in range(48):
        label = "red" if i % 4 else "blue"
        colour = (200, 40, 40) if label == "red" else (40, 40, 200)
        path = tmp_path / "v" / f"{i}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.clip(np.array(colour) + rng.normal(0, 60, (24, 24, 3)), 0, 255).astype(np.uint8)).save(path)
        rows.append((str(path), label, ("val", "test", "train", "train")[i % 8 // 2] if i % 8 < 4 else "train"))
    pd.DataFrame(rows, columns=["path", "labels", "split"]).to_csv(tmp_path / "v.csv", index=False)
    location = str(tmp_path / "v.sqlite")
    with Catalog.create(location) as cat:
        run(import_source(cat, tmp_path / "v.csv", "colour"))
    return location


def test_without_tau_adjust_chooses_it_on_the_validation_split(with_val, weights_file):
    base = finished(train_head(with_val, head_config(weights_file, epochs=2)))
    events = list(adjust(with_val, base.run_id))
    note = next(e.message for e in events if e.kind == "note")
    assert isinstance(events[-1], RunFinished) and "the best validation ACSA" in note
    with Catalog(with_val) as cat:
        tau = get_run(cat, events[-1].run_id).config.posthoc["tau"]
    from core.analysis.posthoc import TAU_GRID

    assert tau in TAU_GRID and f"tau {tau:g}" in note


def test_head_only_defaults_to_128_px_and_whole_network_to_32():
    """ImageNet features of 32 px images are nearly constant: a head on them stayed at chance on CIFAR-10-LT."""
    assert TrainConfig(attribute="a", head_only=True).resolved(False).image_size == 128
    assert TrainConfig(attribute="a").resolved(False).image_size == 32
    assert TrainConfig(attribute="a", head_only=True, image_size=64).resolved(False).image_size == 64
