"""The ``tailor`` command line.

Every command reports bad input as one line on stderr and exits with status 2; an interrupted command exits
with 130 and leaves the catalog as it was; an unexpected failure prints one line and exits with 1 (set
``TAILOR_DEBUG=1`` to see the traceback).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from core.errors import TailorError

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors are one line: ``tailor import: error: ... (see tailor import --help)``."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _add_catalog(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("catalog", metavar="CATALOG",
                        help="catalog file (SQLite) or SQLAlchemy URL, e.g. postgresql+psycopg://host/db")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="tailor", description="Tailor: a workbench for long-tailed image labels.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("init", help="create an empty catalog", description="Create an empty catalog.")
    _add_catalog(p)

    p = sub.add_parser("import", help="import a class-per-folder tree or a CSV/Parquet manifest",
                       description="Import images and their labels. SOURCE is a folder with one subfolder per "
                       "label (optionally under train/, val/, test/) or a manifest (.csv, .tsv, .parquet) with "
                       "columns path, labels ('|'-separated) and optional split.")
    _add_catalog(p)
    p.add_argument("source", metavar="SOURCE", help="folder or manifest file")
    p.add_argument("--attribute", "-a", required=True, metavar="NAME", help="attribute the labels belong to")
    p.add_argument("--multi-label", action="store_true", help="the attribute is multi-label (several labels "
                   "per image); only when the attribute is new")
    p.add_argument("--report", metavar="FILE", help="write every skipped file and its reason to FILE (CSV)")
    p.add_argument("--json", action="store_true", help="print the import report as JSON")

    p = sub.add_parser("stats", help="long-tail statistics and class weights of an attribute",
                       description="Per-label counts, imbalance ratio, head/medium/tail groups, effective "
                       "numbers and the class weights of nw, ifw, isw and iew (mean weight 1).")
    _add_catalog(p)
    p.add_argument("--attribute", "-a", required=True, metavar="NAME")
    p.add_argument("--beta", type=float, default=0.99, help="beta of the effective number (default 0.99)")
    p.add_argument("--split", choices=("train", "val", "test"), help="count one split only")
    p.add_argument("--groups", default="log", metavar="RULE",
                   help="head/medium/tail rule: log (default), shots or shots:MANY,FEW")
    p.add_argument("--json", action="store_true", help="print JSON")

    p = sub.add_parser("info", help="images and attributes of a catalog", description="Summarise a catalog.")
    _add_catalog(p)
    p.add_argument("--json", action="store_true", help="print JSON")

    p = sub.add_parser("demo", help="build the demo catalog of drawn garments",
                       description="Draw a few hundred garments (no download), import them into a catalog with "
                       "a long-tailed single-label attribute 'sleeve' and a multi-label attribute 'style', and "
                       "print their statistics.")
    p.add_argument("--out", default="tailor-demo", metavar="DIR", help="folder for images and catalog "
                   "(default ./tailor-demo)")
    p.add_argument("--no-gui", action="store_true", help="do not open the window (the window is not part of "
                   "this version yet: the demo prints statistics)")
    return parser


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("tailor")
    except Exception:  # pragma: no cover - running from a source tree without installing
        return "dev"


# -- commands ---------------------------------------------------------------------------------------------

def cmd_init(args) -> int:
    from core.catalog import Catalog
    from core.db import is_url

    if not is_url(args.catalog) and Path(args.catalog).exists():
        raise TailorError(f"{args.catalog} already exists; choose a new file name")
    with Catalog.create(args.catalog):
        pass
    print(f"created catalog {args.catalog}")
    return EXIT_OK


def _progress_bar(events, *, quiet: bool):
    """Draw the import's progress events on stderr (only on a terminal) and return the report."""
    from tqdm import tqdm

    bar = None
    phase = None
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
                bar = tqdm(total=event.total or None, desc=f"{event.phase:<8}", unit=" files", file=sys.stderr,
                           disable=None, dynamic_ncols=True, leave=False)
            if bar is not None and event.total:
                bar.update(event.done - bar.n)
    finally:
        if bar is not None:
            bar.close()
        events.close()


def cmd_import(args) -> int:
    from core.catalog import Catalog
    from core.importer import describe_skipped, import_source, write_skipped_csv

    with Catalog(args.catalog) as catalog:
        report = _progress_bar(import_source(catalog, args.source, args.attribute, multi_label=args.multi_label),
                               quiet=args.json)
    if args.report:
        write_skipped_csv(report.skipped, args.report)
    if args.json:
        print(json.dumps(report.as_dict(), indent=2))
        return EXIT_OK
    for line in describe_skipped(report.skipped, limit=None if args.report is None and len(report.skipped) <= 50
                                 else 20):
        print(line)
    print(f"imported {report.summary()}")
    if args.report:
        print(f"skipped files written to {args.report}")
    return EXIT_OK


def stats_dict(catalog, attribute: str, *, beta: float, split: str | None, groups: str) -> dict:
    from core.imbalance import GroupRule, summarize

    try:
        rule = GroupRule.parse(groups)
        if not 0 <= beta < 1:
            raise ValueError(f"--beta must be in [0, 1), got {beta}")
    except ValueError as exc:
        raise TailorError(str(exc)) from None
    counts = catalog.label_counts(attribute, split)
    return summarize(counts.attribute, counts.kind, [c.name for c in counts.labels], [c.count for c in counts.labels],
                     images=counts.images, split=split, beta=beta, rule=rule)


def format_stats(stats: dict) -> str:
    where = f"split {stats['split']}" if stats["split"] else "all splits"
    ratio = stats["imbalance_ratio"]
    groups = stats["groups"]
    lines = [
        f"{stats['attribute']} ({stats['kind']}-label), {where}: {stats['images']:,} images, "
        f"{len(stats['labels'])} labels, imbalance ratio {'n/a' if ratio is None else f'{ratio:,.1f}'}",
        f"groups ({stats['group_rule']}): head {groups['head']}, medium {groups['medium']}, tail {groups['tail']}; "
        f"class weights have mean 1",
    ]
    if not stats["labels"]:
        return "\n".join(lines)
    width = max(5, *(len(item["name"]) for item in stats["labels"]))
    top = max(item["count"] for item in stats["labels"]) or 1
    beta = stats["beta"]
    lines.append(f"{'label':<{width}}  {'count':>7}  {'share':>6}  {'group':<6}  {f'E_n(b={beta:g})':>12}  "
                 f"{'nw':>6}  {'ifw':>7}  {'isw':>6}  {'iew':>7}  ")
    for item in stats["labels"]:
        w = item["weights"]
        fmt = lambda v, n: f"{'-':>{n}}" if v is None else f"{v:>{n}.3f}"  # noqa: E731
        bar = "█" * max(1 if item["count"] else 0, round(20 * item["count"] / top))
        lines.append(f"{item['name']:<{width}}  {item['count']:>7,}  {item['share']:>6.1%}  {item['group']:<6}  "
                     f"{item['effective_number']:>12.2f}  {fmt(w['nw'], 6)}  {fmt(w['ifw'], 7)}  {fmt(w['isw'], 6)}  "
                     f"{fmt(w['iew'], 7)}  {bar}")
    if stats["empty_labels"]:
        lines.append(f"labels without images (no weights): {', '.join(stats['empty_labels'])}")
    return "\n".join(lines)


def cmd_stats(args) -> int:
    from core.catalog import Catalog

    with Catalog(args.catalog) as catalog:
        stats = stats_dict(catalog, args.attribute, beta=args.beta, split=args.split, groups=args.groups)
    print(json.dumps(stats, indent=2) if args.json else format_stats(stats))
    return EXIT_OK


def cmd_info(args) -> int:
    from core.catalog import Catalog

    with Catalog(args.catalog) as catalog:
        images = {split or "none": catalog.image_count(split) for split in (None, "train", "val", "test")}
        attributes = catalog.attributes()
    if args.json:
        print(json.dumps({"catalog": args.catalog, "images": images["none"],
                          "splits": {k: v for k, v in images.items() if k != "none"},
                          "attributes": [{"name": a.name, "kind": a.kind, "labels": a.labels, "images": a.images}
                                         for a in attributes]}, indent=2))
        return EXIT_OK
    print(f"{args.catalog}: {images['none']:,} images (train {images['train']:,}, val {images['val']:,}, "
          f"test {images['test']:,})")
    for a in attributes:
        print(f"  {a.name} ({a.kind}-label): {a.labels} labels on {a.images:,} images")
    if not attributes:
        print("  no attributes yet: tailor import CATALOG SOURCE --attribute NAME")
    return EXIT_OK


def cmd_demo(args) -> int:
    from core.catalog import Catalog
    from core.demo import generate
    from core.importer import run, import_source

    out = Path(args.out).expanduser()
    if out.exists() and not out.is_dir():
        raise TailorError(f"--out {out} is a file, not a folder")
    out.mkdir(parents=True, exist_ok=True)
    images, manifest = generate(out)
    location = out / "catalog.sqlite"
    with Catalog(location, create=True) as catalog:
        for source, attribute, multi in ((images, "sleeve", False), (manifest, "style", True)):
            report = run(import_source(catalog, source, attribute, multi_label=multi))
            print(f"{attribute}: {report.summary()}")
        for attribute in ("sleeve", "style"):
            print()
            print(format_stats(stats_dict(catalog, attribute, beta=0.99, split=None, groups="log")))
    print(f"\ndemo catalog: {location}")
    return EXIT_OK


COMMANDS = {"init": cmd_init, "import": cmd_import, "stats": cmd_stats, "info": cmd_info, "demo": cmd_demo}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_OK
    try:
        return COMMANDS[args.command](args)
    except TailorError as exc:
        print(f"tailor {args.command}: error: {exc.message}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"tailor {args.command}: interrupted; the catalog is unchanged by the unfinished step",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # e.g. `tailor stats ... | head`
        sys.stderr.close()
        return EXIT_OK
    except Exception as exc:  # noqa: BLE001 - last line of defence: one line, not a traceback
        if os.environ.get("TAILOR_DEBUG"):
            raise
        print(f"tailor {args.command}: internal error: {type(exc).__name__}: {exc} "
              "(set TAILOR_DEBUG=1 for the traceback)", file=sys.stderr)
        return EXIT_FAILURE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
