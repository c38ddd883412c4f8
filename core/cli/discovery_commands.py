"""Finding more of a rare label among the catalog's images: ``tailor similar`` (the nearest images to a few chosen
ones by their stored features), ``tailor suggest`` (the Label next queue), ``tailor answer`` (its answers) and
``tailor map`` (every image on a 2-D map of its features)."""

from __future__ import annotations

import argparse
from typing import Any

from core.base.json_text import json_text
from core.catalog.names import shown
from core.cli.options import EXIT_OK, command, device_option, feature_options, opened, positive, run_id
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
    device_option(p)
    _register_suggest(sub)
    _register_answer(sub)
    _register_map(sub)


def _register_map(sub: argparse._SubParsersAction) -> None:
    p = command(
        sub,
        "map",
        run_map,
        "every image of the catalog as a point of a 2-D map of its features",
        "PCA then openTSNE (or umap-learn) over the feature store's features (computed first where missing); the "
        "map is kept beside the store, so the next call reads it back. --png draws it, coloured by a field.",
        json="print a list by image id: image_id, x, y",
    )
    p.add_argument("--attribute", "-a", metavar="NAME", help="the attribute whose runs give the default features and "
                   "whose labels colour the PNG")  # fmt: skip
    feature_options(p, "features (default: the attribute's newest finished run, else the best bundled backbone)")
    p.add_argument("--method", choices=("tsne", "umap"), default="tsne", help="the layout (default tsne: openTSNE)")
    p.add_argument("--png", metavar="FILE", help="draw the map into this PNG file")
    p.add_argument("--color-by", default="label", metavar="FIELD",
                   help="with --png: label, predicted, confidence, disagrees, split, group or unlabeled")  # fmt: skip
    p.add_argument("--run", type=run_id, metavar="RUN", help="the run whose stored predictions colour the PNG")
    p.add_argument("--force", action="store_true", help="replace an existing --png file")
    device_option(p)


def _register_suggest(sub: argparse._SubParsersAction) -> None:
    p = command(
        sub,
        "suggest",
        run_suggest,
        "the unlabeled images to ask about next, to grow the rare labels",
        "For each label (default: the run's tail labels, rarest first, taking turns) ask first about the images "
        "without a label of the attribute that the run calls something else, most likely the label first by the "
        "run's prior-corrected score (the model's misses), then the others; near-copies of the batch or of the "
        "label's images are left for later. Images answered 'no' (tailor answer) are not proposed again.",
        json="print a list in queue order: image_id, path, label (asked about), score, labels, called (the run's), "
        "split (null: none yet)",
    )
    p.add_argument("--attribute", "-a", required=True, metavar="NAME", help="the attribute to label")
    p.add_argument("--label", action="append", metavar="LABEL", help="a label to find more of (repeatable; "
                   "default: the run's tail labels)")  # fmt: skip
    p.add_argument("--count", "-n", type=positive, default=50, metavar="N", help="images per label (default 50)")
    p.add_argument("--run", type=run_id, metavar="RUN", help="the run that ranks (default: the newest finished)")
    p.add_argument("--no-diversity", dest="diverse", action="store_false",
                   help="the best images by score, near-copies included")  # fmt: skip
    device_option(p)


def _register_answer(sub: argparse._SubParsersAction) -> None:
    p = command(
        sub,
        "answer",
        run_answer,
        "answer the Label next queue: these images are (--yes) or are not (--no) the label",
        "--yes labels the images with the label (source human); --no remembers that they are not, so tailor "
        "suggest never proposes them for that label again.",
        json=None,
    )
    p.add_argument("--attribute", "-a", required=True, metavar="NAME", help="the label's attribute")
    p.add_argument("--label", required=True, metavar="LABEL", help="the label asked about")
    answer = p.add_mutually_exclusive_group(required=True)
    answer.add_argument("--yes", dest="answer", action="store_const", const="yes", help="they are LABEL")
    answer.add_argument("--no", dest="answer", action="store_const", const="no", help="they are not LABEL")
    p.add_argument("images", metavar="IMAGE_ID", nargs="+", type=run_id, help="the images answered")


def run_suggest(args: argparse.Namespace) -> int:
    from core.curation.suggest import suggest

    with opened(args.catalog) as catalog:
        report = follow_progress(
            suggest(catalog, args.attribute, args.label, count=args.count, run_id=args.run, diverse=args.diverse,
                    device=args.device),
            _features,
        )  # fmt: skip
    if args.json:
        items = [{"image_id": s.image_id, "path": s.path, "label": s.label, "score": round(s.score, 6),
                  "labels": list(s.labels), "called": s.called, "split": s.split}
                 for s in report.suggestions]  # fmt: skip
        print(json_text(items, indent=1))
        return EXIT_OK
    print(
        f"{len(report.suggestions)} of {report.pool:,} unlabeled images to ask about, ranked by run {report.run_id} "
        f"({report.correction}; {report.computed:,} features computed; {report.seconds:.1f} s)"
    )
    for needs in report.labels:
        print(f"  {needs.describe()}")
    for rank, s in enumerate(report.suggestions, 1):
        said = f"the run says {shown(s.called)}"
        print(
            f"{rank:>4}. image {s.image_id}  is it {shown(s.label)}?  score {s.score:.3f} ({said})  "
            f"{shown(s.path, 200)}"
        )
    return EXIT_OK


def run_answer(args: argparse.Namespace) -> int:
    from core.catalog.answers import answer_no, answer_yes
    from core.cli.label_commands import label_id
    from core.curation.similar import checked_ids

    with opened(args.catalog) as catalog:
        label = label_id(catalog, args.attribute, args.label)
        images = checked_ids(catalog, args.images)
        edit = (answer_yes if args.answer == "yes" else answer_no)(catalog, images, label)
    print(edit.sentence)
    return EXIT_OK


def run_map(args: argparse.Namespace) -> int:

    from core.base.errors import TailorError
    from core.catalog.outputs import check_output
    from core.curation.catalog_map import catalog_map, colouring
    from core.curation.label_issues import FeatureChoice
    from core.curation.map_image import draw

    png = check_output(args.png, "--png", force=args.force, catalog=args.catalog) if args.png else None
    choice = FeatureChoice(args.features_of, args.backbone, args.pretrained, args.image_size, args.normalization)
    with opened(args.catalog) as catalog:
        colours = None
        if png is not None:  # bad colour input is refused before any work
            from core.curation.catalog_map import COLOUR_FIELDS, NEEDS_ATTRIBUTE

            if args.color_by not in COLOUR_FIELDS:
                raise TailorError(f"--color-by {args.color_by}: expected one of {', '.join(COLOUR_FIELDS)}")
            if args.color_by in NEEDS_ATTRIBUTE and args.attribute is None:
                raise TailorError(f"--color-by {args.color_by} needs -a NAME")
        made = follow_progress(
            catalog_map(catalog, attribute=args.attribute, choice=choice, method=args.method, device=args.device),
            _map_progress,
        )
        assert made is not None  # only_stored was not asked for
        if png is not None:
            colours = colouring(catalog, made.image_ids, args.color_by, args.attribute, args.run)
            draw(made.points, colours, png)
    if args.json:
        items = [{"image_id": int(i), "x": round(float(x), 4), "y": round(float(y), 4)}
                 for i, (x, y) in zip(made.image_ids, made.points)]  # fmt: skip
        print(json_text(items, indent=1))
        return EXIT_OK
    how = "read back from beside the feature store" if made.reused else f"computed in {made.seconds:.1f} s"
    print(f"map of {len(made.image_ids):,} images ({made.method}; features: {made.features}; {how})")
    if png is not None and colours is not None:
        note = f", {colours.note}" if colours.note else ""
        print(f"drawn into {png} coloured by {args.color_by}{note}")
    return EXIT_OK


def _map_progress(event: Any) -> tuple[Any, ...] | None:
    from core.features.projection import MapProgress

    if isinstance(event, MapProgress):
        return f"map ({event.what})", event.done, event.total, " steps"
    return _features(event)


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
