"""Benchmark: the simulated labeling loop of the Label next queue (``make bench-label-next``).

CIFAR-10-LT (ratio 100: 5,000 … 50 training images per class, the first files of each class folder as in
``cifar_lt.py``) is labeled, with CIFAR-10's test set; the other 37,594 training images are imported unlabeled, their
true labels hidden from everything but the simulated analyst. Features: the bundled EfficientNet-Lite0 at 128 px
(``tailor[weights]``; computed once, about 4 minutes on 2 cores, shared by every catalog copy through hard links).

Three strategies, each on its own copy of the catalog, 5 rounds of 100 answers each; every answer is a Yes/No to
"is this image L?", answered from the hidden truth (Yes labels the image, source human; No is remembered):

* ``random``: 100 random unlabeled images not asked before, L = the current model's top label for it;
* ``random-tail``: 100 random unlabeled images not asked before, L = the run's tail labels in turn (the questions
  Tailor's queue asks, about random images);
* ``least-confident``: the 100 unlabeled images not asked before with the lowest top score, L = that top label;
* ``tailor``: ``tailor suggest`` (core ``suggest``): the run's tail labels taking turns, the images the run calls
  something else first, by prior-corrected score, near-copies left out; the first 100 of its queue.

Before round 1 and after each round a balanced-softmax head (``--head-only``, 30 epochs) is trained on the stored
features of every labeled training image; printed per round and strategy: ACSA and top-1 on the test set, the mean
accuracy of the 3 rarest labels (horse, ship, truck), the Yes answers so far per rare label, and the Yes rate.
Results also go to ``.bench/label-next/results.json`` (``--strategies`` reruns some; the table shows all saved).

    .venv/bin/python benchmarks/bench_label_next.py [--rounds 5] [--answers 100] [--epochs 30]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from cifar_lt import CLASSES, lt_counts

FOLDER = ROOT / ".bench" / "label-next"
RARE = CLASSES[-3:]  # horse 139, ship 83, truck 50 training images
STRATEGIES = ("random", "random-tail", "least-confident", "tailor")


def _features():  # type: ignore[no-untyped-def]
    from core.curation.label_issues import FeatureChoice

    return FeatureChoice(backbone="timm:efficientnet_lite0", pretrained="imagenet", image_size=128)


def raw_tree() -> Path:
    import cifar_lt

    cifar_lt.build(ROOT / ".bench")  # unpacks ../shared/datasets/cifar10-jpg.tar.gz once
    return ROOT / ".bench" / "cifar10"


def build_base(raw: Path) -> tuple[Path, dict[str, str]]:
    """The labeled LT catalog with the rest of the training images unlabeled; path -> true class."""
    from core.catalog.store import Catalog
    from core.ingest.importer import import_source, run

    truth: dict[str, str] = {}
    lines = ["path,labels,split"]
    for split, counts in (("train", lt_counts(100)), ("test", [None] * 10)):
        for name, n in zip(CLASSES, counts):
            files = sorted((raw / split / name).iterdir())
            for i, file in enumerate(files):
                truth[str(file)] = name
                shown = name if n is None or i < n else ""
                lines.append(f"{file},{shown},{split}")
    base = FOLDER / "base.sqlite"
    if not base.exists():
        FOLDER.mkdir(parents=True, exist_ok=True)
        (FOLDER / "base.csv").write_text("\n".join(lines) + "\n")
        tmp = FOLDER / "base.tmp.sqlite"
        tmp.unlink(missing_ok=True)
        with Catalog.create(str(tmp)) as cat:
            run(import_source(cat, FOLDER / "base.csv", "object"))
        tmp.rename(base)
    return base, truth


def ensure_features(base: Path) -> None:
    """Every image's features in the base catalog's store (hard links from ``.bench/c10.sqlite``'s store when it
    holds the same extractor's features: the key decides, not the folder name)."""
    from core.base.iteration import drain
    from core.catalog.store import Catalog
    from core.curation.label_issues import choose_extractor
    from core.features.catalog_pass import fill_store

    store_root = Path(str(base) + ".features")
    donor = ROOT / ".bench" / "c10.sqlite.features"
    if not store_root.exists() and donor.is_dir():
        shutil.copytree(donor, store_root, copy_function=os.link, ignore=shutil.ignore_patterns(".owner.json"))
    started = time.perf_counter()
    with Catalog(str(base)) as cat:
        done = drain(fill_store(cat, choose_extractor(cat, "object", _features())))
    print(f"features ready: {done.computed:,} computed ({time.perf_counter() - started:.0f} s)", flush=True)


def copy_catalog(base: Path, name: str) -> Path:
    target = FOLDER / f"{name}.sqlite"
    for old in FOLDER.glob(f"{name}.sqlite*"):
        shutil.rmtree(old) if old.is_dir() else old.unlink()
    shutil.copy(base, target)
    shutil.copytree(
        str(base) + ".features",
        str(target) + ".features",
        copy_function=os.link,
        ignore=shutil.ignore_patterns(".owner.json", "map-*.npz", "similarity.*"),
    )  # the copy's own
    return target


def train(catalog: Path, epochs: int) -> dict:
    from core.base.errors import TailorError
    from core.config import TrainConfig
    from core.heads.train import train_head
    from core.training.events import RunFailed, RunFinished

    config = TrainConfig(attribute="object", head_only=True, backbone="timm:efficientnet_lite0", pretrained="imagenet",
                         image_size=128, loss="balanced-softmax", epochs=epochs, batch_size=128)  # fmt: skip
    last = None
    for event in train_head(str(catalog), config):
        last = event
        if isinstance(event, RunFailed):
            raise TailorError(event.message)
    assert isinstance(last, RunFinished)
    per_label = {p["name"]: p["accuracy"] for p in last.summary["metrics"]["per_label"]}
    metrics = last.summary["metrics"]
    return {"run_id": last.run_id, "acsa": metrics["acsa"], "top1": metrics["top1"],
            "tail3": float(np.mean([per_label[name] for name in RARE]))}  # fmt: skip


def questions(strategy: str, catalog: Path, run_id: int, asked: set[int], answers: int, rng) -> list[tuple[int, str]]:
    """(image id, label) pairs to ask about this round."""
    from core.base.iteration import drain
    from core.curation.suggest import suggest

    if strategy == "tailor":
        report = drain(suggest(str(catalog), "object", None, count=answers, run_id=run_id))
        return [(s.image_id, s.label) for s in report.suggestions[:answers]]
    ids, scores, names = pool_scores(catalog, run_id)
    if strategy == "random-tail":  # random images asked about the tail labels in turn, as Tailor's queue asks
        tail = tail_labels(catalog, run_id)
        fresh_rows = [r for r, i in enumerate(ids) if i not in asked]
        picked = rng.choice(fresh_rows, size=min(answers, len(fresh_rows)), replace=False)
        return [(ids[r], tail[n % len(tail)]) for n, r in enumerate(picked)]
    fresh = np.array([i not in asked for i in ids])
    rows = np.flatnonzero(fresh)
    if strategy == "random":
        chosen = rng.choice(rows, size=min(answers, rows.size), replace=False)
    else:
        top = scores[rows].max(axis=1)
        chosen = rows[np.argsort(top, kind="stable")[:answers]]
    return [(ids[r], names[int(scores[r].argmax())]) for r in chosen]


def tail_labels(catalog: Path, run_id: int) -> list[str]:
    """The run's tail labels, rarest first (what ``tailor suggest`` queues by default)."""
    from core.analysis.imbalance import assign_groups
    from core.catalog.runs import get_run
    from core.catalog.store import Catalog

    with Catalog(str(catalog)) as cat:
        labels = get_run(cat, run_id).labels
    groups = assign_groups([label.train for label in labels])
    tail = [label for label, group in zip(labels, groups) if group == "tail"]
    return [label.name for label in sorted(tail, key=lambda label: (label.train, label.name))]


def pool_scores(catalog: Path, run_id: int) -> tuple[list[int], np.ndarray, list[str]]:
    from core.base.iteration import drain
    from core.curation.predict import predict

    result = drain(predict(str(catalog), run_id, scope="unlabeled"))
    return result.image_ids, result.scores, result.label_names


def answer(catalog: Path, pairs: list[tuple[int, str]], truth_by_id: dict[int, str]) -> dict[str, int]:
    """Answer from the hidden truth; the Yes answers per label."""
    from core.catalog.answers import answer_no, answer_yes
    from core.catalog.store import Catalog

    yes: dict[str, int] = {}
    with Catalog(str(catalog)) as cat:
        label_ids = {c.name: c.label_id for c in cat.label_counts("object").labels}
        for image_id, label in pairs:
            if truth_by_id[image_id] == label:
                answer_yes(cat, [image_id], label_ids[label])
                yes[label] = yes.get(label, 0) + 1
            else:
                answer_no(cat, [image_id], label_ids[label])
    return yes


def ids_by_path(catalog: Path, truth: dict[str, str]) -> dict[int, str]:
    from sqlalchemy import text

    from core.catalog.store import Catalog

    with Catalog(str(catalog)) as cat, cat.session() as s:
        return {int(i): truth[p] for i, p in s.execute(text("select id, path from image"))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--answers", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--strategies", default=",".join(STRATEGIES))
    parser.add_argument("--candidates", type=int, help="core.curation.suggest.CANDIDATES for this run (a probe)")
    args = parser.parse_args()
    if args.candidates:
        import core.curation.suggest

        core.curation.suggest.CANDIDATES = args.candidates
    import torch

    torch.set_num_threads(min(2, os.cpu_count() or 1))
    base, truth = build_base(raw_tree())
    ensure_features(base)
    truth_by_id = ids_by_path(base, truth)
    saved = FOLDER / "results.json"
    results: dict[str, list[dict]] = json.loads(saved.read_text()) if saved.is_file() else {}  # others kept
    for strategy in args.strategies.split(","):
        catalog = copy_catalog(base, strategy)
        rng, asked, gained = np.random.default_rng(0), set(), dict.fromkeys(RARE, 0)
        yes_total, history = 0, []
        model = train(catalog, args.epochs)
        history.append({"round": 0, **model, "gained": dict(gained), "yes_rate": None})
        print(f"{strategy} round 0: ACSA {model['acsa']:.3f} tail-3 {model['tail3']:.3f}", flush=True)
        for round_ in range(1, args.rounds + 1):
            started = time.perf_counter()
            pairs = questions(strategy, catalog, model["run_id"], asked, args.answers, rng)
            asked.update(i for i, _ in pairs)
            yes = answer(catalog, pairs, truth_by_id)
            for name in RARE:
                gained[name] += yes.get(name, 0)
            yes_total += sum(yes.values())
            chose = time.perf_counter() - started
            model = train(catalog, args.epochs)
            rate = sum(yes.values()) / len(pairs)
            history.append({"round": round_, **model, "gained": dict(gained), "yes_rate": rate,
                            "asked": len(pairs), "choose_seconds": chose})  # fmt: skip
            print(f"{strategy} round {round_}: ACSA {model['acsa']:.3f} tail-3 {model['tail3']:.3f} rare gained "
                  f"{gained} yes {sum(yes.values())}/{len(pairs)} (chosen in {chose:.1f} s)", flush=True)  # fmt: skip
        results[strategy] = history
        saved.write_text(json.dumps({name: results[name] for name in STRATEGIES if name in results}, indent=1))
    print_table(results)


def print_table(results: dict[str, list[dict]]) -> None:
    print("\n| strategy | round | answers | ACSA | top-1 | tail-3 acc | " + " | ".join(f"+{n}" for n in RARE)
          + " | rare gained | Yes rate |")  # fmt: skip
    print("|---|---|---|---|---|---|" + "---|" * len(RARE) + "---|---|")
    for strategy, history in results.items():
        answered = 0
        for h in history:
            answered += h.get("asked", 0)
            gained = [h["gained"][n] for n in RARE]
            rate = "" if h["yes_rate"] is None else f"{100 * h['yes_rate']:.0f}%"
            print(f"| {strategy} | {h['round']} | {answered} | {100 * h['acsa']:.1f} | {100 * h['top1']:.1f} | "
                  f"{100 * h['tail3']:.1f} | " + " | ".join(map(str, gained))
                  + f" | {sum(gained)} | {rate} |")  # fmt: skip


if __name__ == "__main__":
    main()
