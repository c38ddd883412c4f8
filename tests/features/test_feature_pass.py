"""The feature pass at the machine's limit: bfloat16 where the CPU has bf16 units (recorded in the store's key,
checked against float32), large JPEGs decoded at a reduced scale, ``tailor features`` filling a store ahead of any
run, and the same store from two torchrun processes as from one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from core.base.errors import TailorError
from core.catalog.store import Catalog
from core.ingest.images import open_rgb
from core.ingest.importer import import_source, run
from core.training.dataset import decode_square
from core.training.precision import choose, cpu_bf16_units
from tests.catalog.test_crash_safety import _tiny_tree
from tests.conftest import main_cli
from tests.features.test_feature_store import weights_file as weights_file
from tests.training.test_bundled_weights import fake_bundle as fake_bundle

BF16_UNITS = cpu_bf16_units()
needs_bf16 = pytest.mark.skipif(
    BF16_UNITS is None, reason="this CPU has no bfloat16 units (AVX-512 BF16 or AMX): the float32 path runs here"
)


@pytest.fixture
def tiny(tmp_path) -> str:
    location = str(tmp_path / "c.sqlite")
    with Catalog.create(location) as catalog:
        run(import_source(catalog, _tiny_tree(tmp_path / "tree", 40), "sleeve"))
    return location


def features_cli(location: str, weights: str, *extra: str) -> dict:
    result = main_cli("features", location, "--backbone", "resnet32-cifar", "--pretrained", weights,
                      "--image-size", "16", "--device", "cpu", "--json", *extra)  # fmt: skip
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_the_precision_follows_the_device_the_cpu_and_the_setting(monkeypatch):
    cpu = torch.device("cpu")
    monkeypatch.setenv("TAILOR_PRECISION", "fp32")
    assert choose(cpu).name == "fp32" and not choose(cpu).channels_last
    monkeypatch.setenv("TAILOR_PRECISION", "auto")
    assert choose(cpu).name == ("bf16" if BF16_UNITS else "fp32")
    assert choose(torch.device("cuda")).name == "fp16" and choose(torch.device("cuda")).channels_last
    monkeypatch.setenv("TAILOR_PRECISION", "fp8")
    with pytest.raises(TailorError, match="TAILOR_PRECISION=fp8: expected one of auto, fp32, bf16"):
        choose(cpu)


def test_the_float32_path_records_no_precision_and_says_which_path_ran(tiny, weights_file, monkeypatch):
    monkeypatch.setenv("TAILOR_PRECISION", "fp32")
    result = features_cli(tiny, weights_file)
    assert result["precision"] == "fp32" and result["computed"] == 40 and result["images"] == 40
    key = json.loads((Path(result["store"]) / "meta.json").read_text())["key"]
    assert "precision" not in key  # float32 stores keep the key they always had
    again = main_cli("features", tiny, "--backbone", "resnet32-cifar", "--pretrained", weights_file,
                     "--image-size", "16", "--device", "cpu")  # fmt: skip
    assert "0 computed" in again.stdout and "fp32" in again.stdout


@needs_bf16
def test_bfloat16_features_are_a_store_of_their_own_and_agree_with_float32(tiny, weights_file, monkeypatch):
    monkeypatch.setenv("TAILOR_PRECISION", "fp32")
    fp32 = features_cli(tiny, weights_file)
    monkeypatch.setenv("TAILOR_PRECISION", "auto")
    bf16 = features_cli(tiny, weights_file)
    assert bf16["precision"] == "bf16" and bf16["computed"] == 40 and bf16["store"] != fp32["store"]
    key = json.loads((Path(bf16["store"]) / "meta.json").read_text())["key"]
    assert key["precision"] == "bf16"
    a, b = (load_all(r["store"]) for r in (fp32, bf16))
    assert a.keys() == b.keys()
    x, y = (np.stack([d[k] for k in sorted(a)]).astype(np.float32) for d in (a, b))
    cosine = (x * y).sum(1) / np.linalg.norm(x, axis=1) / np.linalg.norm(y, axis=1)
    assert cosine.min() > 0.99, cosine.min()


def load_all(folder: str) -> dict[bytes, np.ndarray]:
    chunks = sorted(Path(folder).glob("*.keys.npy"))
    out = {}
    for keys_file in chunks:
        features = np.load(str(keys_file).replace(".keys.npy", ".npy"))
        out.update(zip(np.load(keys_file).tolist(), features))
    return out


def test_large_jpegs_are_decoded_at_a_reduced_scale_with_the_same_picture(tmp_path):
    rng = np.random.default_rng(0)
    smooth = np.kron(rng.integers(0, 255, (25, 25, 3), dtype=np.uint8), np.ones((40, 40, 1), np.uint8))
    path = tmp_path / "big.jpg"
    Image.fromarray(smooth).save(path, quality=95)
    assert open_rgb(path, at_least=64).size == (125, 125)  # 1/8 scale: still at least 64 px
    assert open_rgb(path, at_least=400).size == (500, 500)
    assert open_rgb(path).size == (1000, 1000)
    full = np.asarray(open_rgb(path).resize((64, 64), Image.Resampling.BILINEAR), np.float32).transpose(2, 0, 1)
    assert np.abs(decode_square(str(path), 64).astype(np.float32) - full).mean() < 6


def test_features_defaults_to_the_best_bundled_backbone(tiny, fake_bundle):
    result = main_cli("features", tiny, "--image-size", "32", "--device", "cpu", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert "timm:efficientnet_lite0" in report["features"] and "inception statistics" in report["features"]
    assert report["computed"] == 40


def test_features_refuses_bad_input_in_one_line(tiny, tmp_path):
    result = main_cli("features", tiny, "--backbone", "resnet18", "--image-size", "4")
    assert result.returncode == 2 and "--image-size must be between 8 and 1024" in result.stderr
    result = main_cli("features", tiny, "--backbone", "resnet18")
    assert result.returncode == 2 and "--pretrained" in result.stderr
    result = main_cli("features", tiny, "--distributed")
    assert result.returncode == 2 and "torchrun" in result.stderr


def test_two_torchrun_processes_fill_the_same_store_as_one(tiny, weights_file, tmp_path):
    env = {**os.environ, "TAILOR_PRECISION": "fp32", "OMP_NUM_THREADS": "1"}
    torchrun = Path(sys.executable).with_name("torchrun")
    result = subprocess.run(
        [str(torchrun), "--standalone", "--nproc-per-node", "2", "-m", "core.cli", "features", tiny,
         "--backbone", "resnet32-cifar", "--pretrained", weights_file, "--image-size", "16", "--device", "cpu",
         "--distributed", "--json"],
        capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    distributed = json.loads(result.stdout)  # rank 0 alone prints
    assert distributed["processes"] == 2 and distributed["computed"] == 40
    together = load_all(distributed["store"])
    os.rename(distributed["store"], str(tmp_path / "by-two"))
    single_run = subprocess.run(
        [str(Path(sys.executable).with_name("tailor")), "features", tiny, "--backbone", "resnet32-cifar",
         "--pretrained", weights_file, "--image-size", "16", "--device", "cpu", "--json"],
        capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip
    assert single_run.returncode == 0, single_run.stderr
    single = json.loads(single_run.stdout)
    assert single["store"] == distributed["store"] and single["processes"] == 1
    alone = load_all(single["store"])
    assert together.keys() == alone.keys() and len(alone) == 40
    for k in alone:
        np.testing.assert_allclose(together[k].astype(np.float32), alone[k].astype(np.float32), rtol=1e-2, atol=1e-3)
