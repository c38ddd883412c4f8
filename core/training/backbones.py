"""Classifier networks: a torchvision backbone (or the CIFAR ResNet-32) and a head sized to the label count.

``build_classifier(name, num_labels, cosine=False, pretrained=None)`` returns a :class:`Classifier` whose
``features(x)`` is the input of the head (used by the GAN oversampler) and whose ``forward(x)`` is
``head(features(x))``. For the torchvision models the head is the model's own last linear layer resized to the
label count and nothing else changes: ``resnet18`` computes exactly what ``torchvision.models.resnet18
(num_classes=C)`` computes. With ``cosine=True`` (LDAM, LDAM-DRW) the head is a feature- and weight-normalised
linear layer as in Cao et al.'s code, so its logits are cosines in [-1, 1] and the LDAM scale s = 30 means what it
means there.

Pretrained ImageNet weights are never downloaded: ``pretrained`` is ``"imagenet"`` (torchvision's file in the
local torch hub cache, ``~/.cache/torch/hub/checkpoints``) or a path to a state-dict file; both are loaded with
``weights_only=True``. When the file is absent the classifier starts from random initialisation and the returned
message says so.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from core.base.errors import TailorError
from core.config import BACKBONES
from core.training import checkpoints


class CosineLinear(nn.Module):
    """``normalize(x) @ normalize(W)``: Cao et al.'s NormedLinear (weights init uniform, renormalised)."""

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = nn.Parameter(torch.empty(in_features, out_features))
        self.weight.data.uniform_(-1, 1).renorm_(2, 1, 1e-5).mul_(1e5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(x, dim=1).mm(F.normalize(self.weight, dim=0))

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}"


class Classifier(nn.Module):
    def __init__(self, backbone: nn.Module, head: nn.Module, name: str) -> None:
        super().__init__()
        self.backbone: nn.Module = backbone
        self.head: nn.Module = head
        self.name = name

    def features(self, x: torch.Tensor) -> torch.Tensor:
        features: torch.Tensor = self.backbone(x)
        return features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits: torch.Tensor = self.head(self.backbone(x))
        return logits


# -- ResNet-32 for 32 x 32 images (He et al. 2016; the version of Cao et al.'s LDAM code) ---------------------


class _Block(nn.Module):
    def __init__(self, inp: int, out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inp, out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out)
        self.conv2 = nn.Conv2d(out, out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out)
        self.pad = out - inp if (stride != 1 or inp != out) else 0  # option A: subsample + zero-pad channels
        self.stride = stride

    def shortcut(self, x: torch.Tensor) -> torch.Tensor:
        if not self.pad:
            return x
        x = x[:, :, :: self.stride, :: self.stride]
        return F.pad(x, (0, 0, 0, 0, self.pad // 2, self.pad - self.pad // 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class ResNet32Cifar(nn.Module):
    """Feature extractor of ResNet-32: 3 stages of 5 basic blocks (16, 32, 64 channels), global average pool."""

    out_features = 64

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        layers, inp = [], 16
        for out, stride in ((16, 1), (32, 2), (64, 2)):
            for k in range(5):
                layers.append(_Block(inp, out, stride if k == 0 else 1))
                inp = out
        self.layers = nn.Sequential(*layers)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layers(F.relu(self.bn1(self.conv1(x))))
        return F.adaptive_avg_pool2d(x, 1).flatten(1)


# -- torchvision ----------------------------------------------------------------------------------------------


def _strip_head(name: str, model: Any) -> tuple[nn.Module, int]:  # torchvision models differ in layout
    """Replace the model's last linear layer by Identity; return the model and that layer's input size."""
    if name.startswith("resnet"):
        features = model.fc.in_features
        model.fc = nn.Identity()
    elif name.startswith("densenet"):
        features = model.classifier.in_features
        model.classifier = nn.Identity()
    else:  # vgg16, mobilenet_v3_small, efficientnet_b0: the last module of ``classifier``
        features = model.classifier[-1].in_features
        model.classifier[-1] = nn.Identity()
    return model, int(features)


def local_weights_file(name: str) -> Path:
    """Where torchvision keeps the default ImageNet weights of ``name`` (never downloaded here)."""
    from torchvision.models import get_model_weights

    url = get_model_weights(name).DEFAULT.url
    return Path(str(torch.hub.get_dir())) / "checkpoints" / os.path.basename(str(url))


def _load_state(path: Path) -> dict:
    try:
        state = checkpoints.load(path)
    except Exception as exc:
        raise TailorError(f"cannot load weights {path}: {str(exc).splitlines()[0]}") from None
    if isinstance(state, dict) and "model" in state and isinstance(state["model"], dict):
        state = state["model"]
    if not isinstance(state, dict):
        raise TailorError(f"{path} does not hold a state dict")
    return state


def _load_into(module: nn.Module, name: str, path: Path, prefix: str = "") -> str:
    """Load a state dict (torchvision's, or a Tailor run's ``model.pt`` whose backbone keys carry ``prefix``)
    into ``module``, ignoring the classifier head; returns the message for the user."""
    if not path.is_file():
        raise TailorError(f"--pretrained {path}: no such file")
    state = _load_state(path)
    if prefix and any(k.startswith(prefix) for k in state):
        state = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
    own = module.state_dict()
    usable = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    if len(usable) < 0.5 * len(own):
        raise TailorError(f"{path} does not hold {name} weights ({len(usable)} of {len(own)} tensors match)")
    module.load_state_dict(usable, strict=False)
    return f"loaded pretrained weights from {path} ({len(usable)} of {len(own)} tensors)"


def build_classifier(
    name: str, num_labels: int, *, cosine: bool = False, pretrained: str | None = None
) -> tuple[Classifier, str | None]:
    """The classifier and a message about pretrained weights (None when there is nothing to say)."""
    if name not in BACKBONES:
        raise TailorError(f"unknown backbone '{name}' (expected one of {', '.join(BACKBONES)})")
    message = None
    backbone: nn.Module
    if name == "resnet32-cifar":
        backbone, features = ResNet32Cifar(), ResNet32Cifar.out_features
        if pretrained == "imagenet":
            message = "resnet32-cifar has no ImageNet weights; training from random initialisation"
        elif pretrained:
            message = _load_into(backbone, name, Path(pretrained).expanduser(), prefix="backbone.")
    else:
        from torchvision import models

        model = models.get_model(name, weights=None)
        if pretrained:
            path = local_weights_file(name) if pretrained == "imagenet" else Path(pretrained).expanduser()
            if path.is_file() or pretrained != "imagenet":
                message = _load_into(model, name, path)
            else:
                message = (
                    f"no ImageNet weights for {name} in {path.parent} (nothing is downloaded); training from "
                    f"random initialisation — put {path.name} there or pass --pretrained FILE"
                )
        backbone, features = _strip_head(name, model)
    head = CosineLinear(features, num_labels) if cosine else nn.Linear(features, num_labels)
    return Classifier(backbone, head, name), message
