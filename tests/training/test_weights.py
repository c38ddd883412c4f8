"""Pretrained weights: the download path against an HTTP server on 127.0.0.1 (no test touches the internet), the
hash check, cancel, offline, and loading a weights file with its keys checked."""

from __future__ import annotations

import hashlib
import http.server
import threading
from functools import partial
from pathlib import Path

import pytest
import torch

from core.base.errors import TailorError
from core.base.iteration import drain
from core.training import weights
from core.training.backbones import build_classifier
from tests.conftest import run_cli


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep the test output clean
        pass


@pytest.fixture
def hub(tmp_path, monkeypatch) -> Path:
    """torch's hub folder in tmp_path for this test only (torch.hub.set_dir would outlive it)."""
    monkeypatch.setattr(torch.hub, "_hub_dir", str(tmp_path / "hub"))
    return tmp_path / "hub"


@pytest.fixture
def mirror(tmp_path, monkeypatch, hub):
    """A folder served on 127.0.0.1, set as the weights mirror; the torch hub cache in tmp_path."""
    served = tmp_path / "served"
    served.mkdir()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(served)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv(weights.MIRROR_ENV, f"http://127.0.0.1:{server.server_address[1]}")
    yield served
    server.shutdown()
    server.server_close()


def test_torchvision_weights_come_from_the_weights_api_into_the_hub_cache(tmp_path, monkeypatch, hub):
    monkeypatch.delenv(weights.MIRROR_ENV)
    source = weights.source_for("resnet18")
    assert source.url == "https://download.pytorch.org/models/resnet18-f37072fd.pth"
    assert source.path == tmp_path / "hub" / "checkpoints" / "resnet18-f37072fd.pth"
    assert 40e6 < source.size < 50e6 and source.describe() == "download 45 MB"
    timm_source = weights.source_for("timm:test_resnet")
    assert timm_source.url == "https://huggingface.co/timm/test_resnet.r160_in1k/resolve/main/model.safetensors"
    assert weights.source_for("resnet32-cifar") is None


def test_a_download_keeps_the_file_when_its_hash_matches(mirror):
    payload = b"tailor" * 300_000  # 1.8 MB: two chunks
    name = f"tiny-{hashlib.sha256(payload).hexdigest()[:8]}.pth"
    (mirror / name).write_bytes(payload)
    source = weights._mirrored(_tiny(name))
    steps = []
    events = weights.fetch(source)
    while True:
        try:
            steps.append(next(events))
        except StopIteration as stop:
            path = stop.value
            break
    assert path.read_bytes() == payload and steps[-1] == (len(payload), len(payload)) and len(steps) == 2
    assert not path.with_name(name + ".partial").exists()


def _tiny(name: str) -> weights.WeightsSource:
    return weights.WeightsSource("tiny", "unused", weights.checkpoints_dir() / name)


def test_a_corrupt_download_is_refused_and_nothing_is_kept(mirror):
    (mirror / "resnet18-f37072fd.pth").write_bytes(b"not the weights")
    with pytest.raises(TailorError, match=r"is not resnet18-f37072fd.pth .*nothing was kept"):
        drain(weights.ensure("resnet18"))
    assert list(weights.checkpoints_dir().iterdir()) == []


def test_cancel_stops_a_download_and_keeps_nothing(mirror):
    payload = bytes(3 * weights.CHUNK)
    (mirror / "big.pth").write_bytes(payload)
    source = weights._mirrored(_tiny("big.pth"))
    cancel = threading.Event()
    events = weights.fetch(source, cancel)
    next(events)
    cancel.set()
    with pytest.raises(TailorError, match="cancelled while downloading"):
        next(events)
    assert list(weights.checkpoints_dir().iterdir()) == []


def test_offline_is_one_line_naming_what_to_download_and_where(tmp_path, monkeypatch, hub):
    monkeypatch.setenv(weights.MIRROR_ENV, "http://127.0.0.1:9")  # nothing listens there
    with pytest.raises(TailorError) as error:
        drain(weights.ensure("mobilenet_v3_small"))
    message = str(error.value)
    assert "cannot download the ImageNet weights of mobilenet_v3_small (no connection" in message
    assert "http://127.0.0.1:9/mobilenet_v3_small-047dcff4.pth" in message
    assert str(tmp_path / "hub" / "checkpoints" / "mobilenet_v3_small-047dcff4.pth") in message


def test_tailor_train_offline_with_imagenet_weights_is_one_line_exit_2(tmp_path):
    catalog = str(tmp_path / "c.sqlite")
    result = run_cli("train", catalog, "-a", "colour", "--backbone", "mobilenet_v3_small", "--pretrained")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "cannot download the ImageNet weights of mobilenet_v3_small" in result.stderr


def _timm_weights(name: str) -> dict:
    import timm

    torch.manual_seed(1)
    return timm.create_model(name, pretrained=False).state_dict()


def test_timm_weights_download_from_the_mirror_and_load(mirror):
    from safetensors.torch import save_file

    state = _timm_weights("test_resnet")
    folder = mirror / "timm" / "timm" / "test_resnet.r160_in1k"
    folder.mkdir(parents=True)
    save_file({k: v.contiguous() for k, v in state.items()}, str(folder / "model.safetensors"))
    assert weights.source_for("timm:test_resnet").describe() == "download needed"
    events = list(weights.ensure("timm:test_resnet"))
    assert events[-1].done == events[-1].total > 0
    assert weights.source_for("timm:test_resnet").describe() == "ImageNet weights present"
    model, message = build_classifier("timm:test_resnet", 3, pretrained="imagenet")
    assert "loaded pretrained weights" in message
    assert torch.equal(model.backbone.state_dict()["conv1.0.weight"], state["conv1.0.weight"])
    assert model.head.in_features == model.backbone.num_features


def test_a_weights_file_with_other_keys_is_refused_naming_them(tmp_path):
    path = tmp_path / "other.pth"
    torch.save(_timm_weights("test_efficientnet"), path)
    with pytest.raises(TailorError, match=r"does not hold timm:test_resnet weights: \d+ of \d+ tensors missing"):
        build_classifier("timm:test_resnet", 3, pretrained=str(path))
    torch.save(_timm_weights("test_resnet"), path)
    model, message = build_classifier("timm:test_resnet", 3, pretrained=str(path))
    assert message.startswith(f"loaded pretrained weights from {path}")


def test_an_unknown_timm_model_is_one_line():
    with pytest.raises(TailorError, match="unknown timm model 'no_such_net'"):
        build_classifier("timm:no_such_net", 3)


def test_imagenet_weights_not_downloaded_are_named_when_building(tmp_path, hub):
    with pytest.raises(TailorError, match="not downloaded yet"):
        build_classifier("resnet18", 3, pretrained="imagenet")
    assert Path(weights.checkpoints_dir()).parent == tmp_path / "hub"
