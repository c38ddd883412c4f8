"""``tailor matrix``: every head variant x seed on one feature store, then one comparison table (Markdown, CSV or
JSON) with intervals, differences to a baseline variant and the seeds' spread."""

from __future__ import annotations

import argparse
from typing import Any

from core.base.errors import TailorError
from core.base.json_text import json_text
from core.cli.options import EXIT_OK, add_config_options, command, config_from_args, opened
from core.config import TrainConfig

MATRIX_OPTIONS = (
    "backbone",
    "pretrained",
    "features_of",
    "normalization",
    "image_size",
    "epochs",
    "batch_size",
    "lr",
    "beta",
    "gamma",
    "tau",
    "device",
    "split_seed",
)


def register(sub: argparse._SubParsersAction) -> None:
    p = command(
        sub,
        "matrix",
        run_matrix,
        "train every head variant x seed on stored features and compare them in one table",
        "Head-only runs of each variant (default: all, the convex-GAN and its control cRT included) and seed on "
        "one feature store, then the runs x labels table (labels by training count, tail on the right) with 95% "
        "bootstrap intervals, differences to the baseline variant and the mean and spread over seeds, sized to "
        "the terminal as tailor compare prints it (--markdown, --csv or --json for the whole table). Progress goes "
        "to stderr, the table to stdout.",
        json=None,
    )
    p.add_argument("--attribute", "-a", metavar="NAME", required=True, help="attribute to learn")
    add_config_options(p, TrainConfig, MATRIX_OPTIONS)
    p.add_argument("--variants", metavar="LIST", help="comma-separated variants (default: every one the kind allows)")
    p.add_argument("--seeds", metavar="LIST", default="0", help="seeds, e.g. 0,1,2 or 0-4 (default 0)")
    p.add_argument("--baseline", metavar="VARIANT", help="differences are to this variant (default: nw, or the first)")
    p.add_argument("--resamples", type=int, default=2000, metavar="B", help="bootstrap resamples (0: no intervals)")
    p.add_argument("--runs-dir", metavar="DIR", help="where run folders go (default: CATALOG.runs/ beside it)")
    output = p.add_mutually_exclusive_group()
    output.add_argument("--markdown", action="store_true", help="the whole table as Markdown")
    output.add_argument("--csv", action="store_true")
    output.add_argument("--json", action="store_true", help="a list of the runs with their metrics and intervals")


def _describe(event: Any) -> tuple[str, int, int] | None:
    name = type(event).__name__
    if name == "MatrixProgress":
        return "runs", event.done, event.total
    if name == "FeatureProgress":
        return "features", event.done, event.total
    return None


def run_matrix(args: argparse.Namespace) -> int:
    import shutil

    from core.analysis.compare_exports import compare_csv, compare_json, compare_markdown, compare_text
    from core.cli.render import follow_progress
    from core.experiments.matrix import check_variants, default_variants, matrix_table, train_matrix
    from core.experiments.seeds import parse_seeds

    if args.resamples < 0:
        raise TailorError("--resamples must be 0 (no intervals) or more")
    seeds = parse_seeds(args.seeds)
    base = config_from_args(TrainConfig, args, MATRIX_OPTIONS, attribute=args.attribute, head_only=True)
    base.validate()
    with opened(args.catalog) as catalog:
        kind = str(catalog.attribute(args.attribute).kind)
        variants = check_variants(args.variants.split(",") if args.variants else default_variants(kind), kind)
        baseline = args.baseline or ("nw" if "nw" in variants else variants[0])
        if baseline not in variants:
            raise TailorError(f"--baseline {baseline} is not among the variants ({', '.join(variants)})")
        if base.pretrained == "imagenet":
            from core.cli.train_commands import download_weights

            download_weights(base.backbone)
        result = follow_progress(train_matrix(catalog, base, variants, seeds, runs_dir=args.runs_dir), _describe)
        if result.cancelled:
            raise KeyboardInterrupt
        table = matrix_table(catalog, result, baseline, resamples=args.resamples)
    if args.json:
        print(json_text(compare_json(table)["runs"], indent=2))
    elif args.csv:
        print(compare_csv(table), end="")
    elif args.markdown:
        print(compare_markdown(table))
    else:
        print(compare_text(table, shutil.get_terminal_size((100, 24)).columns))
    return EXIT_OK
