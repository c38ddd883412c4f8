"""``tailor predict``, ``label-issues`` and ``duplicates``: what a model learnt, back to the catalog."""

from __future__ import annotations

import argparse
from typing import Any

from core.base.json_text import json_text
from core.base.percent import chance
from core.catalog.records import SPLITS
from core.cli.options import EXIT_OK, command, device_option, feature_options, opened, positive, run_id, seed
from core.cli.render import follow_progress


def register(sub: argparse._SubParsersAction) -> None:
    p = command(
        sub,
        "predict",
        run_predict,
        "store a run's predictions for catalog images",
        "Score images with a finished run's own model (backbone features through the feature store, then the "
        "head) and store the scores in the catalog, replacing the run's earlier predictions of those images. "
        "Default: the images without a label of the run's attribute.",
        json="print a list with one item per image: image_id, path, label, confidence, scores",
    )
    p.add_argument("run", metavar="RUN", type=run_id)
    scope = p.add_mutually_exclusive_group()
    scope.add_argument("--unlabeled", action="store_true", help="images without a label of the attribute (default)")
    scope.add_argument("--all", action="store_true", help="every image of the catalog")
    scope.add_argument("--split", choices=SPLITS, help="the images of one split")
    p.add_argument("--attribute", "-a", metavar="NAME", help="refuse unless the run was trained on this attribute")
    device_option(p)
    register_label_issues(sub)
    register_duplicates(sub)


def _feature_or_write(event: Any) -> tuple[str, int, int] | None:
    from core.curation.predict import WriteProgress
    from core.training.events import FeatureProgress

    if isinstance(event, FeatureProgress) and event.done < event.total:
        return "features", event.done, event.total
    if isinstance(event, WriteProgress):
        return "writing", event.done, event.total
    return None


def run_predict(args: argparse.Namespace) -> int:
    import sys

    from core.catalog import predictions
    from core.curation.predict import predict

    scope = "all" if args.all else "split" if args.split else "unlabeled"
    with opened(args.catalog) as catalog:
        result = follow_progress(
            predict(catalog, args.run, scope=scope, split=args.split, attribute=args.attribute, device=args.device),
            _feature_or_write,
        )
        paths = predictions.image_paths(catalog, result.image_ids)[0] if args.json else []
    if args.json:
        top = result.scores.argmax(axis=1) if len(result.image_ids) else []
        items = [
            {
                "image_id": image_id,
                "path": path,
                "label": result.label_names[int(best)],
                "confidence": round(float(row[best]), 6),
                "scores": {name: round(float(v), 6) for name, v in zip(result.label_names, row)},
            }
            for image_id, path, row, best in zip(result.image_ids, paths, result.scores, top)
        ]
        print(json_text(items, indent=1))
        return EXIT_OK
    if not result.image_ids:
        print(f"no images to predict ({scope}); nothing written", file=sys.stderr)
        return EXIT_OK
    print(
        f"run {args.run}: predicted {len(result.image_ids):,} images ({scope}) in {result.seconds:.1f} s "
        f"({result.images_per_second:,.0f} images/s; {result.computed:,} through the backbone, the rest from the "
        f"feature store)"
    )
    _print_label_summary(result.label_names, result.scores)
    return EXIT_OK


def _print_label_summary(names: list[str], scores: Any) -> None:
    import numpy as np

    top = scores.argmax(axis=1)
    confidence = scores.max(axis=1)
    width = max(len(name) for name in names)
    print(f"{'predicted label':<{width}}  {'images':>7}  {'median confidence':>17}")
    for j in np.argsort(-np.bincount(top, minlength=len(names)), kind="stable"):
        chosen = confidence[top == j]
        if len(chosen):
            print(f"{names[j]:<{width}}  {len(chosen):>7,}  {100 * float(np.median(chosen)):>16.1f}%")


def register_label_issues(sub: argparse._SubParsersAction) -> None:
    p = command(
        sub,
        "label-issues",
        run_label_issues,
        "list suspected label errors, rarest labels first",
        "Cross-fit a head on stored features (K folds: every labeled image scored by a head that never saw it), "
        "flag suspected label errors with cleanlab and rank them tail first: priority = ln(rarity) + ln(t / q), q "
        "cleanlab's label quality, t the mean quality of the given label, rarity = 1 + ln(n_max / n) / "
        "ln(n_max / n_min) of the rarest label in question. "
        "Labels kept (the window's Keep label, or --keep here) are not listed again for the same features.",
        json="print the queue: a list of {image_id, path, given, suggested, score, priority}",
    )
    p.add_argument("--attribute", "-a", required=True, metavar="NAME")
    feature_options(p, "features (default: those of the attribute's newest finished run)")
    p.add_argument("--folds", type=int, default=5, help="cross-fitting folds (default 5)")
    p.add_argument("--seed", type=seed, default=0)
    p.add_argument("--limit", type=positive, default=30, metavar="N", help="issues printed without --json (default 30)")
    keep = "keep these images' labels as they are: not listed again for these features (no search)"
    p.add_argument("--keep", nargs="+", type=run_id, metavar="IMAGE_ID", help=keep)
    device_option(p)


def _feature_or_fold(event: Any) -> tuple[str, int, int] | None:
    from core.curation.crossfit import FoldProgress
    from core.training.events import FeatureProgress

    if isinstance(event, FeatureProgress) and event.done < event.total:
        return "features", event.done, event.total
    if isinstance(event, FoldProgress) and event.done < event.total:
        return "folds", event.done, event.total
    return None


def run_label_issues(args: argparse.Namespace) -> int:
    from core.base.errors import TailorError
    from core.curation.crossfit import CrossFit
    from core.curation.label_issues import FeatureChoice, find_issues

    if not 2 <= args.folds <= 20:
        raise TailorError("--folds must be between 2 and 20")
    if args.image_size is not None and not 8 <= args.image_size <= 1024:
        raise TailorError("--image-size must be between 8 and 1024")
    choice = FeatureChoice(args.features_of, args.backbone, args.pretrained, args.image_size, args.normalization)
    if args.keep:
        return _keep(args, choice)
    with opened(args.catalog) as catalog:
        report = follow_progress(
            find_issues(catalog, args.attribute, choice, settings=CrossFit(folds=args.folds, seed=args.seed),
                        device=args.device),
            _feature_or_fold,
        )  # fmt: skip
    single = not report.multi_label
    if args.json:
        items = [
            {
                "image_id": issue.image_id,
                "path": issue.path,
                "given": issue.given[0] if single else list(issue.given),
                "suggested": issue.suggested[0] if single else list(issue.suggested),
                "score": round(issue.quality, 6),
                "priority": round(issue.priority, 6),
            }
            for issue in report.issues
        ]
        print(json_text(items, indent=1))
        return EXIT_OK
    print(
        f"{len(report.issues):,} suspected label errors among {report.examined:,} labeled images of "
        f"'{report.attribute}' ({report.kept:,} kept earlier left out; features: {report.extractor}; "
        f"{args.folds} folds, {report.seconds:.1f} s)"
    )
    for rank_, issue in enumerate(report.issues[: args.limit], 1):
        print(
            f"{rank_:>4}. image {issue.image_id}: {'/'.join(issue.given)} -> {'/'.join(issue.suggested) or 'none'} "
            f"(label quality {chance(issue.quality)}, priority {issue.priority:.3f})  {issue.path}"
        )
    return EXIT_OK


def register_duplicates(sub: argparse._SubParsersAction) -> None:
    p = command(
        sub,
        "duplicates",
        run_duplicates,
        "list (near) duplicate images across splits",
        "Images in two splits that are the same file (content hash) or nearly the same picture (cosine of their "
        "features >= --threshold): a product photographed twice, in training and in test, inflates every metric. "
        "With --run, the run's own splits and features; else the catalog's splits.",
        json="print a list of {image_a, path_a, split_a, image_b, path_b, split_b, similarity, exact}",
    )
    p.add_argument("--run", type=run_id, metavar="RUN", help="check this run's splits (default features: its backbone)")
    p.add_argument("--attribute", "-a", metavar="NAME", help="take features from this attribute's newest run")
    feature_options(p, "features (default: --run's backbone, or the --attribute's newest finished run)")
    p.add_argument("--threshold", type=float, default=0.95, help="cosine similarity of near duplicates (0.95)")
    p.add_argument("--exact-only", action="store_true", help="only identical files (no features needed)")
    p.add_argument("--limit", type=positive, default=50, metavar="N", help="pairs printed without --json (default 50)")
    device_option(p)


def run_duplicates(args: argparse.Namespace) -> int:
    from core.curation.duplicates import find_duplicates
    from core.curation.label_issues import FeatureChoice

    choice = FeatureChoice(args.features_of, args.backbone, args.pretrained, args.image_size, args.normalization)
    with opened(args.catalog) as catalog:
        report = follow_progress(
            find_duplicates(catalog, run_id=args.run, attribute=args.attribute, choice=choice,
                            threshold=args.threshold, exact_only=args.exact_only, device=args.device),
            _feature_or_write,
        )  # fmt: skip
    if args.json:
        print(json_text([vars(pair) for pair in report.pairs], indent=1))
        return EXIT_OK
    exact = sum(pair.exact for pair in report.pairs)
    where = f"run {args.run}'s splits" if args.run is not None else "the catalog's splits"
    if report.more:
        print(f"{len(report.pairs) + report.more:,} pairs found: the {len(report.pairs):,} listed below and "
              f"{report.more:,} more, not listed (raise --threshold to see fewer, closer ones)")  # fmt: skip
    print(
        f"{len(report.pairs):,} duplicate pairs across {where} ({exact:,} identical files, "
        f"{len(report.pairs) - exact:,} with cosine >= {report.threshold:g}"
        f"{' of ' + report.features if report.features else ''}); {report.test_images_with_training_twin:,} test "
        f"images have a twin in training"
    )
    for pair in report.pairs[: args.limit]:
        kind = "identical" if pair.exact else f"cosine {pair.similarity:.3f}"
        print(
            f"  {pair.split_a} {pair.image_a} {pair.path_a}  ~  {pair.split_b} {pair.image_b} {pair.path_b}  ({kind})"
        )
    return EXIT_OK


def _keep(args: argparse.Namespace, choice: Any) -> int:
    from core.curation.label_issues import keep
    from core.curation.similar import checked_ids

    with opened(args.catalog) as catalog:
        edit, features = keep(catalog, args.attribute, checked_ids(catalog, args.keep), choice, device=args.device)
    print(f"{edit.sentence} (features {features})")
    return EXIT_OK
