"""Benchmark: each loss's forward + backward against one ResNet-18 training step (target: < 2% of the step).

The step: torchvision's resnet18 (10 outputs), a batch of 256 RGB images of 32 x 32, forward, cross-entropy,
backward and an SGD update, median of several steps. Each loss: forward + backward on 256 x 10 and 256 x 1000
logits (single-label, and multi-label where the loss applies), median of many repetitions.

    make bench            # or: .venv/bin/python benchmarks/bench_losses.py
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.training.losses import LOSSES, SINGLE_LABEL_ONLY, make_loss


def median_seconds(fn, repeat: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def resnet18_step_seconds() -> float:
    from torchvision.models import resnet18

    torch.manual_seed(0)
    model = resnet18(num_classes=10)
    optimiser = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    images, labels = torch.randn(256, 3, 32, 32), torch.randint(0, 10, (256,))

    def step() -> None:
        optimiser.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(images), labels).backward()
        optimiser.step()

    return median_seconds(step, repeat=5, warmup=1)


def loss_seconds(name: str, classes: int, multi_label: bool) -> float:
    counts = np.round(5000 * 0.01 ** (np.arange(classes) / max(1, classes - 1))).astype(int)
    loss = make_loss(name, counts, multi_label=multi_label)
    logits = torch.randn(256, classes, requires_grad=True)
    targets = (torch.rand(256, classes) < 0.1).float() if multi_label else torch.randint(0, classes, (256,))

    def run() -> None:
        logits.grad = None
        loss(logits, targets).backward()

    return median_seconds(run, repeat=200, warmup=10)


def main() -> int:
    torch.set_num_threads(torch.get_num_threads())
    step = resnet18_step_seconds()
    print(
        f"ResNet-18 training step, 256 x 3 x 32 x 32 on CPU ({torch.get_num_threads()} threads): "
        f"{step * 1000:.0f} ms; loss forward + backward as a share of it (target < 2%):"
    )
    print(f"  {'loss':<9} {'256x10 single':>14} {'256x1000 single':>16} {'256x10 multi':>13} {'256x1000 multi':>15}")
    worst = 0.0
    for name in LOSSES:
        cells = []
        for multi_label in (False, True):
            for classes in (10, 1000):
                if multi_label and name in SINGLE_LABEL_ONLY:
                    cells.append("-")
                    continue
                share = loss_seconds(name, classes, multi_label) / step
                worst = max(worst, share)
                cells.append(f"{share:.3%}")
        print(f"  {name:<9} {cells[0]:>14} {cells[1]:>16} {cells[2]:>13} {cells[3]:>15}")
    print(f"  worst: {worst:.3%} of a step")
    return 0


if __name__ == "__main__":
    sys.exit(main())
