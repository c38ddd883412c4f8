"""Benchmark: noise recovery of ``tailor label-issues`` and the speed of ``tailor predict``, CIFAR-10-LT ratio 100.

Uses the catalog of ``make bench-heads`` (``.bench/heads/cifar10-lt-100.sqlite`` with the shared EfficientNet-Lite0
features stored and its head-only runs) copied to ``.bench/issues/`` for each variant; the feature store is shared
(a symbolic link), so no image goes through the backbone twice.

1. Noise recovery. ``uniform``: 5% of the training labels (620 of 12,406) flipped to another label drawn uniformly
   (seeded); ``tail``: 100 flipped images drawn from the three rarest labels only (272 images; 37% of them). Then
   ``tailor label-issues`` (5 folds, seed 0) on the whole labeled set (22,406: the test labels are clean) and
   cleanlab called directly on the same out-of-sample scores (``cleanlab.filter.find_label_issues``, ranked by
   self-confidence). ``into-tail``: 30 images of the three largest labels filed under the three rarest (a t-shirt
   under a 5-image "sneaker" label). Printed: precision and recall of the flagged set, and of the top 30 / 100 /
   250 / 500 of each ranking (Tailor's tail-first queue, cleanlab's own order), on the out-of-sample scores as they
   are and prior-corrected (issue 29, point 4: each score divided by its label's share of the labeled images and
   renormalised, the logit adjustment with tau 1, before confident learning).
2. ``tailor predict`` images/s over all 22,406 images of a head-only run: features stored (the head only), and
   through the backbone for ``--images`` of them with an empty store, against a plain torchvision loop (PIL decode
   and resize, ``pil_to_tensor``, ``v2.Normalize``, the same backbone, then the head; batch 128).

    .venv/bin/python benchmarks/bench_label_issues.py [--images 1024] [--skip-speed] [--skip-noise]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SOURCE = ROOT / ".bench" / "heads" / "cifar10-lt-100.sqlite"
FOLDER = ROOT / ".bench" / "issues"
WEIGHTS = ROOT.parent / "shared" / "weights" / "efficientnet_lite0_imagenet.pth"
FEATURES = ["--backbone", "timm:efficientnet_lite0", "--pretrained", str(WEIGHTS), "--normalization", "inception",
            "--image-size", "128"]  # fmt: skip


def fresh_copy(name: str, share_features: bool = True) -> Path:
    FOLDER.mkdir(parents=True, exist_ok=True)
    target = FOLDER / f"{name}.sqlite"
    for old in FOLDER.glob(f"{name}.sqlite*"):
        shutil.rmtree(old) if old.is_dir() and not old.is_symlink() else old.unlink()
    shutil.copy(SOURCE, target)
    if share_features:
        (FOLDER / f"{name}.sqlite.features").symlink_to(SOURCE.with_name(SOURCE.name + ".features"))
    (FOLDER / f"{name}.sqlite.runs").symlink_to(SOURCE.with_name(SOURCE.name + ".runs"))  # the runs' models
    return target


def flip(catalog: Path, variant: str, seed: int = 0) -> dict[int, tuple[int, int]]:
    """Flip training labels in place; image id -> (true label id, given label id)."""
    rng = np.random.default_rng(seed)
    db = sqlite3.connect(catalog)
    rows = db.execute(
        "select a.id, a.image_id, a.label_id from annotation a join image i on i.id = a.image_id "
        "where i.split = 'train' order by a.image_id"
    ).fetchall()
    labels = sorted({r[2] for r in rows})
    counts = {label: sum(r[2] == label for r in rows) for label in labels}
    if variant == "uniform":
        chosen = rng.choice(len(rows), size=round(0.05 * len(rows)), replace=False)
    elif variant == "into-tail":  # 30 images of the three largest labels filed under the three rarest, 10 each
        by_size = sorted(labels, key=lambda label: counts[label])
        rarest, largest = by_size[:3], by_size[-3:]
        pool = [i for i, r in enumerate(rows) if r[2] in largest]
        chosen = rng.choice(pool, size=30, replace=False)
        flipped = {}
        for n, i in enumerate(chosen):
            annotation, image, true = rows[int(i)]
            given = rarest[n % 3]
            db.execute("update annotation set label_id = ? where id = ?", (given, annotation))
            flipped[image] = (true, given)
        db.commit()
        db.close()
        return flipped
    else:
        rarest = sorted(labels, key=lambda label: counts[label])[:3]
        pool = [i for i, r in enumerate(rows) if r[2] in rarest]
        chosen = rng.choice(pool, size=min(100, len(pool)), replace=False)
    flipped = {}
    for i in chosen:
        annotation, image, true = rows[int(i)]
        given = int(rng.choice([label for label in labels if label != true]))
        db.execute("update annotation set label_id = ? where id = ?", (given, annotation))
        flipped[image] = (true, given)
    db.commit()
    db.close()
    return flipped


def scores(ranked: list[int], flipped: set[int], ks=(30, 100, 250, 500)) -> str:
    hits = [image in flipped for image in ranked]
    parts = [f"flagged {len(ranked):5,}: P {np.mean(hits) if hits else 0:5.1%} R {sum(hits) / len(flipped):5.1%}"]
    for k in ks:
        top = hits[:k]
        parts.append(f"top {k}: P {np.mean(top) if top else 0:5.1%} R {sum(top) / len(flipped):5.1%}")
    return " | ".join(parts)


def noise(variant: str) -> None:
    from cleanlab.filter import find_label_issues

    from core.base.iteration import drain
    from core.catalog.snapshot import take_snapshot
    from core.catalog.store import Catalog
    from core.curation.label_issues import FeatureChoice, find_issues

    catalog = fresh_copy(f"noise-{variant}")
    flipped = flip(catalog, variant)
    choice = FeatureChoice(None, "timm:efficientnet_lite0", str(WEIGHTS), 128, "inception")
    started = time.perf_counter()
    report = drain(find_issues(str(catalog), "object", choice, device="cpu"))
    seconds = time.perf_counter() - started
    cli = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "tailor"), "label-issues", str(catalog), "-a", "object", *FEATURES, "--json"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert [item["image_id"] for item in json.loads(cli.stdout)] == [i.image_id for i in report.issues]
    with Catalog(str(catalog)) as cat:
        snapshot = take_snapshot(cat, "object", seed=0)
    given = np.array([t[0] for t in snapshot.targets])
    assert report.scores is not None and list(report.image_ids) == snapshot.image_ids
    direct = find_label_issues(given, report.scores, return_indices_ranked_by="self_confidence", n_jobs=1)
    cleanlab_ranked = [snapshot.image_ids[i] for i in direct]
    queue = [issue.image_id for issue in report.issues]
    print(f"\n{variant}: {len(flipped)} flipped training labels; label-issues {seconds:.1f} s (5 folds, CPU)")
    print(f"  Tailor's tail-first queue   {scores(queue, set(flipped))}")
    print(f"  cleanlab's own ranking      {scores(cleanlab_ranked, set(flipped))}")
    adjusted_queue, adjusted_cleanlab = prior_corrected(snapshot, report.scores)
    print(f"  prior-corrected, queue      {scores(adjusted_queue, set(flipped))}")
    print(f"  prior-corrected, cleanlab   {scores(adjusted_cleanlab, set(flipped))}")


def prior_corrected(snapshot, oos: np.ndarray) -> tuple[list[int], list[int]]:  # type: ignore[no-untyped-def]
    """Tailor's queue and cleanlab's ranking on the out-of-sample scores with the label prior taken out."""
    from cleanlab.filter import find_label_issues

    from core.curation.ranking import rank

    counts = np.bincount([j for labels in snapshot.targets for j in labels], minlength=len(snapshot.labels))
    adjusted = oos / np.maximum(counts / counts.sum(), 1e-12)
    adjusted /= adjusted.sum(axis=1, keepdims=True)
    ranked = rank(snapshot.targets, adjusted, counts, multi_label=False)
    given = np.array([t[0] for t in snapshot.targets])
    direct = find_label_issues(given, adjusted, return_indices_ranked_by="self_confidence", n_jobs=1)
    return [snapshot.image_ids[i] for i in ranked.rows], [snapshot.image_ids[i] for i in direct]


def speed(images: int) -> None:
    import torch

    from core.base.iteration import drain
    from core.catalog.predictions import image_paths
    from core.catalog.runs import list_runs
    from core.catalog.store import Catalog
    from core.curation.predict import predict
    from core.training.export import load_run_model

    torch.set_num_threads(2)
    catalog = fresh_copy("speed")
    with Catalog(str(catalog)) as cat:
        run_id = next(r.id for r in list_runs(cat, "object") if r.config.head_only and r.status == "finished")
        stored = drain(predict(cat, run_id, scope="all", device="cpu"))
        print(f"\ntailor predict, run {run_id} (EfficientNet-Lite0 head), CPU, 2 threads:")
        print(f"  {len(stored.image_ids):,} images, features stored: {stored.images_per_second:8,.0f} images/s "
              f"({stored.seconds:.1f} s, writing included)")  # fmt: skip
        cold = fresh_copy("speed-cold", share_features=False)
        ids = stored.image_ids[:images]
        with Catalog(str(cold)) as cold_cat:
            through = drain(predict(cold_cat, run_id, image_ids=ids, device="cpu"))
        print(f"  {len(ids):,} images through the backbone: {through.images_per_second:8.1f} images/s")
        model, _, _ = load_run_model(cat, run_id)
        paths = image_paths(cat, ids)[0]
    from PIL import Image
    from torchvision.transforms import v2
    from torchvision.transforms.functional import pil_to_tensor

    normalise = v2.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
    model.eval()
    started = time.perf_counter()
    with torch.inference_mode():
        for start in range(0, len(paths), 128):
            batch = [pil_to_tensor(Image.open(p).convert("RGB").resize((128, 128), Image.Resampling.BILINEAR))
                     for p in paths[start : start + 128]]  # fmt: skip
            torch.softmax(model(normalise(torch.stack(batch).float() / 255)), dim=1)
    plain = len(paths) / (time.perf_counter() - started)
    print(f"  plain torchvision loop (decode, backbone, head): {plain:8.1f} images/s "
          f"(ratio {through.images_per_second / plain:.2f})")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=1024)
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--skip-noise", action="store_true")
    args = parser.parse_args()
    if not SOURCE.is_file() or not WEIGHTS.is_file():
        raise SystemExit(f"needs {SOURCE} (make bench-heads) and {WEIGHTS} (see ../shared/weights/README.md)")
    from core.base.memory import keep_freed_memory

    keep_freed_memory()
    if not args.skip_noise:
        for variant in ("uniform", "tail", "into-tail"):
            noise(variant)
    if not args.skip_speed:
        speed(args.images)


if __name__ == "__main__":
    main()
