"""``tailor similar``: finding more of a rare label among the catalog's images (the nearest images to a few chosen
ones by their stored features)."""

from __future__ import annotations

import argparse
from typing import Any

from core.base.json_text import json_text
from core.cli.options import EXIT_OK, command, device, feature_options, opened, positive, run_id
from core.cli.render import follow_progress


def register(sub: argparse._SubParsersAction) -> None:
    p = command(
        sub,
        "similar",
        run_similar,
        "the images most like a few chosen ones, nearest first",
        "Rank the catalog's other images by the cosine distance of their features to the mean of the chosen "
        "images' features (computed first where the feature store lacks them). Default features: the attribute's "
        "newest finished run (with -a), else the best backbone whose ImageNet weights are here.",
        json="print a list nearest first: image_id, path, distance, labels",
    )
    p.add_argument("images", metavar="IMAGE_ID", nargs="+", type=run_id, help="the images to find more like")
    p.add_argument("-k", type=positive, default=50, metavar="K", help="how many to list (default 50)")
    p.add_argument("--attribute", "-a", metavar="NAME", help="labels shown, and --unlabeled, of this attribute")
    p.add_argument("--unlabeled", action="store_true", help="only images without a label (of --attribute, else of any)")
    feature_options(p, "features (default: the attribute's newest finished run, else the best bundled backbone)")
    p.add_argument("--device", type=device, default="auto", help="auto (default), cpu, cuda, cuda:N or mps")


def run_similar(args: argparse.Namespace) -> int:
    from core.base.errors import TailorError
    from core.curation.label_issues import FeatureChoice
    from core.curation.similar import find_similar

    if args.image_size is not None and not 8 <= args.image_size <= 1024:
        raise TailorError("--image-size must be between 8 and 1024")
    choice = FeatureChoice(args.features_of, args.backbone, args.pretrained, args.image_size, args.normalization)
    with opened(args.catalog) as catalog:
        result = follow_progress(
            find_similar(catalog, args.images, k=args.k, attribute=args.attribute, unlabeled=args.unlabeled,
                         choice=choice, device=args.device),
            _features,
        )  # fmt: skip
    if args.json:
        items = [{"image_id": n.image_id, "path": n.path, "distance": round(n.distance, 6), "labels": list(n.labels)}
                 for n in result.neighbours]  # fmt: skip
        print(json_text(items, indent=1))
        return EXIT_OK
    print(
        f"{len(result.neighbours)} of {result.searched:,} images nearest to {len(set(args.images))} chosen "
        f"(features: {result.features}; {result.computed:,} computed; {result.seconds:.1f} s)"
    )
    for rank, n in enumerate(result.neighbours, 1):
        labels = ", ".join(n.labels) or "unlabeled"
        print(f"{rank:>4}. image {n.image_id}  distance {n.distance:.4f}  [{labels}]  {n.path}")
    return EXIT_OK


def _features(event: Any) -> tuple[str, int, int] | None:
    from core.training.events import FeatureProgress

    if isinstance(event, FeatureProgress) and event.done < event.total:
        return "features", event.done, event.total
    return None
