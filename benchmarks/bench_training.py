"""Benchmarks of the training engine on CIFAR-10-LT (ratio 100).

overhead (``make bench``): whole-command wall time of ``tailor train`` (resnet18, 32 x 32, batch 128, Adam, 2
  epochs, evaluation on the 10,000 test images each epoch) against a plain PyTorch loop doing the same
  (torchvision ImageFolder + DataLoader + Adam, evaluation each epoch, process start included). Target: plain /
  ours >= 0.9. The plain loop runs with 0 and with 2 DataLoader workers; the faster one is the baseline.

quality (``make bench-quality``): resnet32-cifar, SGD momentum 0.9, batch 128, weight decay 2e-4, lr 0.1 with
  warm-up (from 20 epochs) and the step schedule, pad-4 crop + flip: NW vs IEW (``--beta``, default 0.9999) vs
  LDAM-DRW. Prints top-1, ACSA, GM and the mean accuracy of the three rarest classes (horse, ship, truck) for the
  last epoch.
  ``--epochs 200 --device cuda`` is the full published protocol (Cui et al.; Cao et al.).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cifar_lt import ROOT, build

PLAIN_LOOP = r"""
import sys, time, torch, torch.nn.functional as F
from torchvision import datasets, transforms
from torchvision.models import resnet18
tree, epochs, workers = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
torch.manual_seed(0)
norm = transforms.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
train = datasets.ImageFolder(f"{tree}/train", transforms.Compose([transforms.RandomCrop(32, padding=4),
                             transforms.RandomHorizontalFlip(), transforms.ToTensor(), norm]))
test = datasets.ImageFolder(f"{tree}/test", transforms.Compose([transforms.ToTensor(), norm]))
extra = {"num_workers": workers, "persistent_workers": True} if workers else {}
train_loader = torch.utils.data.DataLoader(train, batch_size=128, shuffle=True, **extra)
test_loader = torch.utils.data.DataLoader(test, batch_size=256, **extra)
model = resnet18(num_classes=10)
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
for epoch in range(epochs):
    model.train()
    for x, y in train_loader:
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        opt.step()
    model.eval()
    correct = 0
    with torch.inference_mode():
        for x, y in test_loader:
            correct += (model(x).argmax(1) == y).sum().item()
    print(f"epoch {epoch + 1}: top-1 {correct / len(test):.3f}", flush=True)
"""


def timed(cmd: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return time.perf_counter() - start, out


def overhead(folder: Path, epochs: int) -> None:
    tree, catalog = build(folder)
    tailor = Path(sys.executable).with_name("tailor")
    with tempfile.TemporaryDirectory() as runs:
        ours, out = timed(
            [
                str(tailor),
                "train",
                str(catalog),
                "-a",
                "object",
                "--loss",
                "nw",
                "--backbone",
                "resnet18",
                "--epochs",
                str(epochs),
                "--batch-size",
                "128",
                "--image-size",
                "32",
                "--optimizer",
                "adam",
                "--lr",
                "1e-3",
                "--device",
                "cpu",
                "--runs-dir",
                runs,
                "--json",
            ]
        )
    result = json.loads(out)
    plain = {}
    for workers in (0, 2):
        plain[workers], _ = timed([sys.executable, "-c", PLAIN_LOOP, str(tree), str(epochs), str(workers)])
    best_workers = min(plain, key=plain.get)
    print(
        f"overhead on CIFAR-10-LT (12,406 train / 10,000 test images), resnet18 32 x 32, batch 128, {epochs} epochs,"
        f" evaluation each epoch, {os.cpu_count()} cores:"
    )
    print(
        f"  tailor train     {ours:6.1f} s  ({result['images_per_second']:.0f} train images/s, top-1 "
        f"{100 * result['metrics']['top1']:.1f}%)"
    )
    for workers, seconds in plain.items():
        print(f"  plain loop, {workers} workers {seconds:6.1f} s")
    print(
        f"  ratio plain / tailor = {plain[best_workers] / ours:.2f} (target >= 0.9; baseline: {best_workers} workers)"
    )


def quality(folder: Path, epochs: int, device: str, variants: list[str], beta: float) -> None:
    _, catalog = build(folder)
    tailor = Path(sys.executable).with_name("tailor")
    rows = []
    for loss in variants:
        extra = ["--beta", str(beta)] if loss in ("iew", "cb-focal") else []
        seconds, out = timed(
            [
                str(tailor),
                "train",
                str(catalog),
                "-a",
                "object",
                "--loss",
                loss,
                "--backbone",
                "resnet32-cifar",
                "--epochs",
                str(epochs),
                "--batch-size",
                "128",
                "--image-size",
                "32",
                "--optimizer",
                "sgd",
                "--lr",
                "0.1",
                "--device",
                device,
                "--json",
                *extra,
            ]
        )
        result = json.loads(out)
        per = {p["name"]: p for p in result["metrics"]["per_label"]}
        rarest = sorted(per.values(), key=lambda p: p["count"])[:3]
        tail = sum(p["accuracy"] for p in rarest) / 3
        if extra:
            loss = f"{loss} (beta {beta:g})"
        rows.append((loss, result, tail, seconds))
        print(
            f"  {loss:<9} run {result['run_id']}: top-1 {100 * result['metrics']['top1']:.1f}, ACSA "
            f"{100 * result['metrics']['acsa']:.1f}, GM {100 * result['metrics']['gm']:.1f}, tail-3 accuracy "
            f"{100 * tail:.1f} ({seconds / 60:.1f} min)",
            flush=True,
        )
    print(f"\n| loss | top-1 | ACSA | GM | tail-3 accuracy ({', '.join(p['name'] for p in rarest)}) | minutes |")
    print("|---|---|---|---|---|---|")
    for loss, result, tail, seconds in rows:
        m = result["metrics"]
        print(
            f"| {loss} | {100 * m['top1']:.1f} | {100 * m['acsa']:.1f} | {100 * m['gm']:.1f} | {100 * tail:.1f} | "
            f"{seconds / 60:.1f} |"
        )
    warmup = "5-epoch warm-up, " if epochs >= 20 else ""
    print(
        f"\nresnet32-cifar, {epochs} epochs, SGD lr 0.1 ({warmup}x0.01 at 80%, x0.0001 at 90%), batch 128, "
        f"device {device}; last-epoch metrics on the balanced test set (top-1 = ACSA there). Catalog: {catalog}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("overhead", "quality"))
    parser.add_argument("--dir", default=str(ROOT / ".bench"))
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--losses", default="nw,iew,ldam-drw")
    parser.add_argument("--beta", type=float, default=0.9999, help="beta of iew and cb-focal (Cui et al.: 0.9999)")
    args = parser.parse_args()
    if args.what == "overhead":
        overhead(Path(args.dir), args.epochs or 2)
    else:
        quality(Path(args.dir), args.epochs or 16, args.device, args.losses.split(","), args.beta)
    return 0


if __name__ == "__main__":
    sys.exit(main())
