"""``tailor init``, ``import``, ``info``, ``stats``, ``demo`` and ``gui``: creating, filling and summarising a
catalog, and opening the window on it."""

from __future__ import annotations

import argparse
from collections.abc import Generator
from pathlib import Path
from typing import Any

from core.base.errors import TailorError
from core.base.files import atomic_write
from core.base.json_text import json_text
from core.catalog.records import SPLITS
from core.catalog.store import Catalog
from core.cli.options import EXIT_OK, command, opened
from core.cli.stats import format_stats, stats_dict
from core.config import DEFAULT_BETA


def register(sub: argparse._SubParsersAction) -> None:
    command(sub, "init", run_init, "create an empty catalog", "Create an empty catalog.", json=None)
    _import_parser(sub)
    command(sub, "info", run_info, "images and attributes of a catalog", "Summarise a catalog.")
    p = command(
        sub,
        "stats",
        run_stats,
        "long-tail statistics and class weights of an attribute",
        "Per-label counts, imbalance ratio, head/medium/tail groups, effective numbers and the class "
        "weights of nw, ifw, isw and iew (mean weight 1).",
    )
    p.add_argument("--attribute", "-a", required=True, metavar="NAME")
    p.add_argument(
        "--beta", type=float, default=DEFAULT_BETA, help="beta of the effective number (default %(default)s)"
    )
    p.add_argument("--split", choices=(*SPLITS, "all"),
                   help="count one split (default: train when the catalog has a training split, else all)")  # fmt: skip
    p.add_argument(
        "--groups", default="log", metavar="RULE", help="head/medium/tail rule: log (default), shots or shots:MANY,FEW"
    )
    p = command(
        sub,
        "demo",
        run_demo,
        "build a demo catalog: drawn garments, or CIFAR-10-LT",
        "Draw a few hundred garments (no download), import them into a catalog with a long-tailed "
        "single-label attribute 'sleeve' and a multi-label attribute 'style', and print their statistics.",
        catalog=False,
        json=None,
    )
    p.add_argument(
        "--out", default="tailor-demo", metavar="DIR", help="folder for images and catalog (default ./tailor-demo)"
    )
    p.add_argument("--no-gui", action="store_true", help="only build the catalog and print its statistics")
    p.add_argument("--dataset", choices=("garments", "cifar10-lt"), default="garments",
                   help="garments (drawn, no download; default) or cifar10-lt (CIFAR-10, long-tailed)")  # fmt: skip
    p.add_argument("--from", dest="archive", metavar="ARCHIVE",
                   help="cifar10-lt: CIFAR-10's cifar-10-python.tar.gz, or a tar of train|test/<class>/ images "
                   "(default: download through torchvision)")  # fmt: skip
    p.add_argument("--ratio", type=float, default=100.0, help="cifar10-lt: imbalance ratio (default 100)")
    p.add_argument("--with-unlabeled", action="store_true",
                   help="cifar10-lt: also import the other training images, without a label")  # fmt: skip
    p.add_argument(
        "--force", action="store_true", help="write the demo's files into DIR even over files a demo did not make"
    )
    p = command(
        sub,
        "gui",
        run_gui,
        "open the workbench window (also: tailor with no command)",
        "Open the workbench window on CATALOG (default: the last catalog opened).",
        catalog=False,
        json=None,
    )
    p.add_argument("catalog", metavar="CATALOG", nargs="?", help="catalog file or SQLAlchemy URL")
    p.add_argument("--screenshot", metavar="FILE", help="save the window as a PNG once loaded, then quit")
    p.add_argument(
        "--view",
        choices=VIEWS,
        default="browse",
        help="the tab --screenshot shows (default browse; train, runs and review show the newest finished runs)",
    )
    p.add_argument("--size", type=window_size, metavar="WxH", help="window size for --screenshot, e.g. 1024x700")


VIEWS = ("browse", "imbalance", "train", "runs", "review")


def window_size(text: str) -> tuple[int, int]:
    """``1024x700`` -> (1024, 700); argparse reports anything else in one line."""
    width, _, height = text.lower().partition("x")
    if not (width.isdigit() and height.isdigit()) or not (320 <= int(width) <= 8192 and 240 <= int(height) <= 8192):
        raise argparse.ArgumentTypeError(f"'{text}' is not a window size such as 1024x700 (320x240 to 8192x8192)")
    return int(width), int(height)


def _import_parser(sub: argparse._SubParsersAction) -> None:
    p = command(
        sub,
        "import",
        run_import,
        "import a class-per-folder tree or a CSV/Parquet manifest",
        "Import images and their labels. SOURCE is a folder with one subfolder per label (optionally under "
        "train/, val/, test/) or a manifest (.csv, .tsv, .parquet) with columns path, labels ('|'-separated) "
        "and optional split.",
        json="print the import report as JSON",
    )
    p.add_argument("source", metavar="SOURCE", help="folder or manifest file")
    p.add_argument("--attribute", "-a", required=True, metavar="NAME", help="attribute the labels belong to")
    p.add_argument(
        "--multi-label",
        action="store_true",
        help="the attribute is multi-label (several labels per image); only when the attribute is new",
    )
    p.add_argument("--report", metavar="FILE", help="write every skipped file and its reason to FILE (CSV)")
    p.add_argument("--force", action="store_true", help="replace the --report file when it exists")
    p.add_argument(
        "--follow-symlinks",
        action="store_true",
        help="also follow links to folders outside the tree (links inside it, and links to files, are always followed)",
    )


def run_init(args: argparse.Namespace) -> int:
    from core.catalog.engine import describe, is_url, table_names

    if not is_url(args.catalog) and Path(args.catalog).exists():
        raise TailorError(f"{args.catalog} already exists; choose a new file name")
    if is_url(args.catalog) and "alembic_version" in table_names(args.catalog):
        raise TailorError(f"{describe(args.catalog)} already exists (it holds a Tailor catalog); open it instead")
    with Catalog.create(args.catalog):
        pass
    print(f"created catalog {describe(args.catalog)}")
    return EXIT_OK


def _progress_bar(events: Generator[Any, None, Any], *, quiet: bool) -> Any:
    """Draw the import's progress events on stderr (a bar on a terminal, else a line every few seconds) and return
    the report."""
    from core.cli.progress_lines import progress

    bar, phase = None, None
    try:
        while True:
            try:
                event = next(events)
            except StopIteration as stop:
                return stop.value
            if quiet:
                continue
            if event.phase != phase:
                if bar is not None:
                    bar.close()
                phase = event.phase
                bar = progress(event.total or None, event.phase, " files")
            if bar is not None and event.total:
                bar.update(event.done - bar.n)
    finally:
        if bar is not None:
            bar.close()
        events.close()


def run_import(args: argparse.Namespace) -> int:
    from core.catalog.outputs import check_output
    from core.ingest.importer import describe_skipped, import_source, write_skipped_csv

    if args.report:  # before the import commits: a report that cannot be written fails the command first
        check_output(args.report, "--report", force=args.force, catalog=args.catalog)
    with opened(args.catalog) as catalog:
        report = _progress_bar(
            import_source(
                catalog, args.source, args.attribute, multi_label=args.multi_label, follow_symlinks=args.follow_symlinks
            ),
            quiet=args.json,
        )
    if args.report:
        write_skipped_csv(report.skipped, args.report)
    if args.json:
        print(json_text(report.as_dict(), indent=2))
        return EXIT_OK
    limit = None if args.report is None and len(report.skipped) <= 50 else 20
    for line in describe_skipped(report.skipped, limit=limit):
        print(line)
    print(f"imported {report.summary()}")
    if args.report:
        print(f"skipped files written to {args.report}")
    return EXIT_OK


def run_stats(args: argparse.Namespace) -> int:
    with opened(args.catalog) as catalog:
        stats = stats_dict(catalog, args.attribute, beta=args.beta, split=args.split, groups=args.groups)
    print(json_text(stats, indent=2) if args.json else format_stats(stats))
    return EXIT_OK


def run_info(args: argparse.Namespace) -> int:
    with opened(args.catalog) as catalog:
        images = {split or "none": catalog.image_count(split) for split in (None, *SPLITS)}
        attributes = catalog.attributes()
    if args.json:
        print(
            json_text(
                {
                    "catalog": args.catalog,
                    "images": images["none"],
                    "splits": {k: v for k, v in images.items() if k != "none"},
                    "attributes": [
                        {"name": a.name, "kind": a.kind, "labels": a.labels, "images": a.images} for a in attributes
                    ],
                },
                indent=2,
            )
        )
        return EXIT_OK
    print(
        f"{args.catalog}: {images['none']:,} images (train {images['train']:,}, val {images['val']:,}, "
        f"test {images['test']:,})"
    )
    for a in attributes:
        print(f"  {a.name} ({a.kind}-label): {a.labels} labels on {a.images:,} images")
    if not attributes:
        print("  no attributes yet: tailor import CATALOG SOURCE --attribute NAME")
    return EXIT_OK


def run_cifar_demo(args: argparse.Namespace) -> int:
    """``tailor demo --dataset cifar10-lt``: CIFAR-10-LT as a catalog (core.ingest.cifar_demo)."""
    import csv

    from core.cli.demo_data import download, is_python_archive, python_archive_tree
    from core.ingest.cifar_demo import check_out, manifest, unpack
    from core.ingest.importer import import_source, run

    if not args.ratio >= 1:
        raise TailorError("--ratio must be at least 1")
    out = Path(args.out).expanduser()  # a folder, or none yet (run_demo checked)
    check_out(out, args.force)
    location = out / "catalog.sqlite"
    out.mkdir(parents=True, exist_ok=True)
    archive = Path(args.archive).expanduser() if args.archive else download(out / "download")
    tree = python_archive_tree(archive, out) if is_python_archive(archive) else unpack(archive, out)
    rows, counts = manifest(tree, args.ratio, args.with_unlabeled)
    with atomic_write(out / "cifar10-lt.csv", "w", newline="", encoding="utf-8") as fh:  # never through a link
        writer = csv.writer(fh)
        writer.writerow(["path", "labels", "split"])
        writer.writerows(rows)
    with Catalog(location, create=True) as catalog:
        report = run(import_source(catalog, out / "cifar10-lt.csv", "object"))
        print(f"object: {report.summary()}")
        print(f"training images per class: {', '.join(map(str, counts))} (ratio {args.ratio:g})\n")
        print(format_stats(stats_dict(catalog, "object", beta=DEFAULT_BETA, split=None, groups="log")))
    print(f"\ndemo catalog: {location}")
    return EXIT_OK if args.no_gui else _open_window(args, str(location))


def run_demo(args: argparse.Namespace) -> int:
    out = Path(args.out).expanduser()
    if out.exists() and not out.is_dir():
        raise TailorError(f"--out {out} is a file, not a folder")
    if args.dataset == "cifar10-lt":
        return run_cifar_demo(args)
    from core.ingest.demo import conflicts, demo_files, generate
    from core.ingest.importer import import_source, run

    files = demo_files()
    foreign = conflicts(out, files)
    if foreign and not args.force:
        shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
        raise TailorError(
            f"--out {out} holds files the demo did not make where it writes images/ and style.csv ({shown}): "
            "choose a new or empty folder, or pass --force"
        )
    out.mkdir(parents=True, exist_ok=True)
    images, manifest = generate(out, files=files)
    location = out / "catalog.sqlite"
    with Catalog(location, create=True) as catalog:
        for source, attribute, multi in ((images, "sleeve", False), (manifest, "style", True)):
            report = run(import_source(catalog, source, attribute, multi_label=multi))
            print(f"{attribute}: {report.summary()}")
        for attribute in ("sleeve", "style"):
            print()
            print(format_stats(stats_dict(catalog, attribute, beta=DEFAULT_BETA, split=None, groups="log")))
    print(f"\ndemo catalog: {location}")
    if args.no_gui:
        return EXIT_OK
    return _open_window(args, str(location))


def _open_window(
    args: argparse.Namespace,
    catalog: str | None,
    screenshot: str | None = None,
    view: str = "browse",
    size: tuple[int, int] | None = None,
) -> int:
    opener = getattr(args, "open_window", None)
    if opener is None:
        raise TailorError(
            "the workbench window is not available in this installation (use the commands listed by tailor --help)"
        )
    if size is not None:
        return int(opener(catalog, screenshot=screenshot, view=view, size=size))
    return int(opener(catalog, screenshot=screenshot, view=view))


def run_gui(args: argparse.Namespace) -> int:
    if args.catalog and "://" not in args.catalog and not Path(args.catalog).exists():
        raise TailorError(
            f"catalog {args.catalog} does not exist (create one with tailor init, or from the window's File menu)"
        )
    if args.screenshot:  # named for this purpose, so replaced; never a catalog or a run's file
        from core.catalog.outputs import check_output

        check_output(args.screenshot, "--screenshot", force=True, catalog=args.catalog)
    if args.size is not None and not args.screenshot:
        raise TailorError("--size goes with --screenshot (the window otherwise keeps the size it had last time)")
    return _open_window(args, args.catalog, args.screenshot, args.view, args.size)
