"""Batch norms folded into convolutions for the feature pass: the same features, the caller's network untouched,
and a network whose registration order lies is left as it is."""

from __future__ import annotations

import torch
from torch import nn

from core.features.folding import folded


def features(net: nn.Module, size: int = 32) -> torch.Tensor:
    with torch.inference_mode():
        return net(torch.randn(3, 3, size, size, generator=torch.Generator().manual_seed(1)))


def trained_statistics(net: nn.Module) -> nn.Module:
    """Batch norms with running statistics and affine parameters other than the defaults."""
    generator = torch.Generator().manual_seed(0)
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1, generator=generator)
            m.running_var.uniform_(0.5, 2, generator=generator)
            m.weight.data.uniform_(0.5, 1.5, generator=generator)
            m.bias.data.uniform_(-0.5, 0.5, generator=generator)
    return net.eval()


def test_a_timm_network_folds_every_batch_norm_and_computes_the_same_features():
    import timm

    net = trained_statistics(timm.create_model("efficientnet_lite0", pretrained=False, num_classes=0))
    before = {k: v.clone() for k, v in net.state_dict().items()}
    copy, count = folded(net, 32)
    assert count == 49 and copy is not net
    assert not any(isinstance(m, nn.BatchNorm2d) for m in copy.modules())
    expected = features(net)
    assert torch.allclose(features(copy), expected, atol=1e-4 * float(expected.abs().max()))
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())  # the caller's network is kept


def test_a_torchvision_network_folds_too():
    from torchvision.models import resnet18

    net = trained_statistics(resnet18(weights=None))
    net.fc = nn.Identity()
    copy, count = folded(net, 32)
    assert count == 20
    expected = features(net)
    assert torch.allclose(features(copy), expected, atol=1e-4 * float(expected.abs().max()))


class Misleading(nn.Module):
    """A convolution registered right before a batch norm that is applied to something else."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, padding=1)
        self.norm = nn.BatchNorm2d(3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.conv(x) + self.norm(x)).mean((2, 3))


def test_a_network_whose_order_lies_is_not_folded():
    net = trained_statistics(Misleading())
    copy, count = folded(net, 16)
    assert copy is net and count == 0
