"""Probe: what a linear head on stored features gains from mirrored views and standardisation (a research aid for
bench_lite2.py; reads the feature stores ``tailor features`` filled, trains nothing into the catalog).

    .venv/bin/python benchmarks/probe_heads.py CATALOG PLAIN_STORE [MIRRORED_STORE] [--epochs 30]

Balanced softmax (Ren et al. 2020) with Adam 1e-3, batch 256, cosine schedule, as Tailor's heads; prints ACSA and
top-1 on the test split for: plain features; + standardised; + mirrored views added to training; + the test
images' two views averaged.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def load_store(folder: Path) -> dict[bytes, np.ndarray]:
    out: dict[bytes, np.ndarray] = {}
    for keys_file in sorted(folder.glob("*.keys.npy")):
        features = np.load(str(keys_file).replace(".keys.npy", ".npy"))
        out.update(zip(np.load(keys_file).tolist(), features))
    return out


def split(catalog: str) -> tuple[list[str], np.ndarray, list[str], np.ndarray]:
    from sqlalchemy import text

    from core.catalog.store import Catalog

    with Catalog(catalog) as cat, cat.session() as s:
        rows = s.execute(text(
            "select i.content_hash, l.name, i.split from image i join annotation a on a.image_id = i.id "
            "join label l on l.id = a.label_id order by i.id"
        )).all()  # fmt: skip
    names = sorted({r[1] for r in rows})
    index = {n: i for i, n in enumerate(names)}
    train = [(r[0], index[r[1]]) for r in rows if r[2] == "train"]
    test = [(r[0], index[r[1]]) for r in rows if r[2] == "test"]
    return [h for h, _ in train], np.array([y for _, y in train]), [h for h, _ in test], np.array([y for _, y in test])


def matrix(store: dict[bytes, np.ndarray], hashes: list[str]) -> torch.Tensor:
    from core.features.store import key_of

    return torch.from_numpy(np.stack([store[key_of(h).rstrip(b"\0")] for h in hashes]).astype(np.float32))


def train_head(x: torch.Tensor, y: torch.Tensor, classes: int, epochs: int, prior: torch.Tensor) -> torch.nn.Linear:
    torch.manual_seed(0)
    head = torch.nn.Linear(x.shape[1], classes)
    optimiser = torch.optim.Adam(head.parameters(), lr=1e-3)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, epochs)
    log_prior = prior.log()
    for _ in range(epochs):
        order = torch.randperm(len(x))
        for start in range(0, len(x), 256):
            rows = order[start : start + 256]
            loss = torch.nn.functional.cross_entropy(head(x[rows]) + log_prior, y[rows])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        schedule.step()
    return head


def acsa(logits: torch.Tensor, y: torch.Tensor, classes: int) -> tuple[float, float]:
    predicted = logits.argmax(1)
    per_class = [float((predicted[y == c] == c).float().mean()) for c in range(classes)]
    return float(np.mean(per_class)), float((predicted == y).float().mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("catalog")
    parser.add_argument("plain")
    parser.add_argument("mirrored", nargs="?")
    parser.add_argument("--epochs", type=int, default=30)
    args = parser.parse_args()
    torch.set_num_threads(2)
    train_h, train_y, test_h, test_y = split(args.catalog)
    classes = int(train_y.max()) + 1
    plain = load_store(Path(args.plain))
    xtr, xte = matrix(plain, train_h), matrix(plain, test_h)
    ytr, yte = torch.from_numpy(train_y), torch.from_numpy(test_y)
    prior = torch.bincount(ytr, minlength=classes).float() / len(ytr)
    mean, std = xtr.mean(0), xtr.std(0) + 1e-6
    results = {}
    head = train_head(xtr, ytr, classes, args.epochs, prior)
    results["plain"] = acsa(head(xte).detach(), yte, classes)
    head = train_head((xtr - mean) / std, ytr, classes, args.epochs, prior)
    results["standardised"] = acsa(head((xte - mean) / std).detach(), yte, classes)
    if args.mirrored:
        mirrored = load_store(Path(args.mirrored))
        mtr, mte = matrix(mirrored, train_h), matrix(mirrored, test_h)
        both_x, both_y = torch.cat([xtr, mtr]), torch.cat([ytr, ytr])
        head = train_head(both_x, both_y, classes, args.epochs, prior)
        results["+ mirrored training views"] = acsa(head(xte).detach(), yte, classes)
        results["+ both test views averaged"] = acsa(((head(xte) + head(mte)) / 2).detach(), yte, classes)
        head = train_head((both_x - mean) / std, both_y, classes, args.epochs, prior)
        two = (head((xte - mean) / std) + head((mte - mean) / std)) / 2
        results["standardised, both views, both test views"] = acsa(two.detach(), yte, classes)
    for name, (balanced, top1) in results.items():
        print(f"{name:45} ACSA {balanced:6.1%}  top-1 {top1:6.1%}")
    print(json.dumps({k: v[0] for k, v in results.items()}))


if __name__ == "__main__":
    main()
