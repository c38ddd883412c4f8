"""Classifier networks: a torchvision or timm backbone (or the CIFAR ResNet-32) and a head sized to the label count.

``build_classifier(name, num_labels, cosine=False, pretrained=None)`` returns a :class:`Classifier` whose
``features(x)`` is the input of the head (used by the GAN oversampler) and whose ``forward(x)`` is
``head(features(x))``. For the torchvision models the head is the model's own last linear layer resized to the
label count and nothing else changes: ``resnet18`` computes exactly what ``torchvision.models.resnet18
(num_classes=C)`` computes. With ``cosine=True`` (LDAM, LDAM-DRW) the head is a feature- and weight-normalised
linear layer as in Cao et al.'s code, so its logits are cosines in [-1, 1] and the LDAM scale s = 30 means what it
means there.

timm backbones are named ``timm:NAME`` (``timm.create_model(NAME, num_classes=0)``: the network without its
classifier, ``num_features`` wide).

``pretrained`` is ``"imagenet"`` (bundled with the install, or the file :mod:`core.training.weights` downloads into
the torch hub cache) or a path to a state-dict file: :mod:`core.training.pretrained` loads it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from core.base.errors import TailorError
from core.config import BACKBONES, TIMM_PREFIX
from core.training.pretrained import imagenet_file, load_into


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


class PosthocHead(nn.Module):
    """A finished head adjusted after training (core.heads.adjust): optionally tau-normalised (Kang et al. 2020:
    each class's weight row divided by its norm to the power ``norm_power``, bias dropped), then the logits shifted
    by ``offset`` (post-hoc logit adjustment, Menon et al. 2021)."""

    def __init__(self, inner: nn.Module, num_labels: int) -> None:
        super().__init__()
        self.inner = inner
        self.offset: torch.Tensor
        self.norm_power: torch.Tensor
        self.register_buffer("offset", torch.zeros(num_labels))
        self.register_buffer("norm_power", torch.zeros(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        inner = self.inner
        if not isinstance(inner, nn.Linear):  # a cosine head: never tau-normalised (its rows are unit already)
            shifted: torch.Tensor = inner(x) + self.offset
            return shifted
        # no Python branch on the buffer's value, so a traced or exported model keeps both cases
        weight = inner.weight / inner.weight.norm(dim=1, keepdim=True).clamp_min(1e-12) ** self.norm_power
        bias = inner.bias * (self.norm_power == 0).to(inner.bias.dtype) if inner.bias is not None else 0.0
        adjusted: torch.Tensor = x @ weight.T + bias + self.offset
        return adjusted


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


class MirroredViews(nn.Module):
    """A run with mirrored views as one network: the mean of its logits of the image and of the image mirrored
    left to right (what the run recorded and ``tailor predict`` computes from stored features)."""

    def __init__(self, classifier: Classifier) -> None:
        super().__init__()
        self.classifier = classifier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits: torch.Tensor = (self.classifier(x) + self.classifier(x.flip(-1))) / 2
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


def _timm_backbone(name: str) -> tuple[nn.Module, int]:
    import timm

    model_name = name[len(TIMM_PREFIX) :]
    if not timm.is_model(model_name):
        raise TailorError(f"unknown timm model '{model_name}' (timm.list_models() names them, e.g. efficientnet_lite0)")
    model = timm.create_model(model_name, pretrained=False, num_classes=0)
    features: int = model.num_features  # type: ignore[assignment]  # timm's attribute, an int
    return model, features


def build_classifier(
    name: str, num_labels: int, *, cosine: bool = False, pretrained: str | None = None, posthoc: bool = False
) -> tuple[Classifier, str | None]:
    """The classifier and a message about pretrained weights (None when there is nothing to say). ``pretrained``
    "imagenet" needs the file downloaded (``core.training.weights.fetch``; training does that first)."""
    if name not in BACKBONES and not name.startswith(TIMM_PREFIX):
        raise TailorError(f"unknown backbone '{name}' (expected one of {', '.join(BACKBONES)}, or timm:NAME)")
    message = None
    backbone: nn.Module
    if name == "resnet32-cifar":
        backbone, features = ResNet32Cifar(), ResNet32Cifar.out_features
        if pretrained == "imagenet":
            message = "resnet32-cifar has no ImageNet weights; training from random initialisation"
        elif pretrained:
            message = load_into(backbone, name, Path(pretrained).expanduser(), prefix="backbone.")
    else:
        if name.startswith(TIMM_PREFIX):
            backbone, features = _timm_backbone(name)
        else:
            from torchvision import models

            backbone, features = _strip_head(name, models.get_model(name, weights=None))
        if pretrained:
            path = imagenet_file(name) if pretrained == "imagenet" else Path(pretrained).expanduser()
            message = load_into(backbone, name, path, prefix="backbone.")
    head: nn.Module = CosineLinear(features, num_labels) if cosine else nn.Linear(features, num_labels)
    if posthoc:
        head = PosthocHead(head, num_labels)
    return Classifier(backbone, head, name), message
