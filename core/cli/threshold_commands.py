"""``tailor thresholds``: a run's operating points per label with bootstrap intervals (the threshold at a target
precision, the one saved with the run), saving them with the run; ``export-model`` writes them beside the model.
``tailor accept``: a run's stored predictions above those thresholds accepted as labels (Browse's "Accept" in the
window), after the same per-label preview."""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict

from core.analysis.compare import MIN_TEST_IMAGES
from core.base.errors import TailorError
from core.base.json_text import json_text
from core.base.percent import percent_text
from core.cli.options import EXIT_OK, command, opened, run_id

# Beyond this the intervals do not change in their shown digits, and the counts table outgrows memory.
MAX_RESAMPLES = 100_000


def register(sub: argparse._SubParsersAction) -> None:
    p = command(
        sub,
        "thresholds",
        run_thresholds,
        "a run's per-label thresholds with 95%% intervals of the precision and recall they give; save them",
        "Per label: the threshold reaching --precision on the run's test images with the most recall (then the most "
        "precision), the precision and "
        "recall it gives with 95% bootstrap intervals, and the threshold saved with the run. --save saves the "
        "thresholds at --precision; --set LABEL=T saves one picked by hand. export-model writes the saved ones "
        "(the others at --precision) beside the model; accepting predictions uses them.",
        json="print the operating points as JSON",
    )
    p.add_argument("run", metavar="RUN", type=run_id)
    p.add_argument("--precision", type=float, default=0.6, metavar="P", help="target precision (default 0.6)")
    p.add_argument("--save", action="store_true", help="save the thresholds at --precision with the run")
    p.add_argument("--set", action="append", default=[], metavar="LABEL=T", help="save LABEL's threshold T")
    p.add_argument("--clear", action="append", default=[], metavar="LABEL", help="forget LABEL's saved threshold")
    p.add_argument("--resamples", type=int, default=2000, metavar="B", help="bootstrap resamples (default 2000)")
    _register_accept(sub)


def _register_accept(sub: argparse._SubParsersAction) -> None:
    p = command(
        sub,
        "accept",
        run_accept,
        "label images with a run's stored predictions that reach each label's threshold",
        "The images the run predicted (tailor predict) get a label where its score reaches the label's threshold: "
        "the one saved with the run (tailor thresholds --save, the Runs tab), else the one reaching --precision on "
        f"the run's test images. Source 'model', in one transaction; a person's labels are never replaced. Labels "
        f"with fewer than {MIN_TEST_IMAGES} test images are left out (a threshold measured on so few is no "
        "evidence) unless --few. Prints per label the images, the threshold and the precision with its 95% "
        "interval first; --dry-run stops there.",
        json="print per label what was (or would be) accepted, and the totals",
    )
    p.add_argument("run", metavar="RUN", type=run_id)
    p.add_argument("--precision", type=float, default=0.6, metavar="P",
                   help="target precision of labels without a saved threshold (default 0.6)")  # fmt: skip
    p.add_argument("--label", action="append", default=[], metavar="LABEL", help="only this label (repeatable)")
    p.add_argument("--few", action="store_true", help=f"also labels with fewer than {MIN_TEST_IMAGES} test images")
    p.add_argument("--dry-run", action="store_true", help="print what would be accepted; write nothing")


def run_accept(args: argparse.Namespace) -> int:
    from core.analysis.accept_preview import accept_preview
    from core.catalog import predictions
    from core.catalog.model_edits import accept_predictions
    from core.catalog.runs import get_run

    if not 0 < args.precision <= 1:
        raise TailorError(f"--precision must be in (0, 1], got {args.precision}")
    with opened(args.catalog) as catalog:
        run = get_run(catalog, args.run)
        names = [label.name for label in run.labels]
        unknown = [name for name in args.label if name not in names]
        if unknown:
            raise TailorError(f"--label {unknown[0]}: run {run.id} has no such label (labels: {', '.join(names)})")
        if predictions.count(catalog, run.id) == 0:
            raise TailorError(f"run {run.id} has no stored predictions: tailor predict CATALOG {run.id} first")
        rows = accept_preview(catalog, run.id, args.precision)
        taken = {row.label_id for row in rows if _taken(row, args)}
        thresholds = {row.label_id: row.threshold if row.label_id in taken else None for row in rows}
        accepted = None if args.dry_run else accept_predictions(catalog, run.id, None, thresholds)
    if args.json:
        items = [{**asdict(row), "accepted": row.label_id in taken} for row in rows]
        done = {"labelled": accepted.labelled, "skipped": accepted.skipped} if accepted else None
        print(json_text({"run_id": run.id, "precision": args.precision, "labels": items, "written": done}, indent=2))
        return EXIT_OK
    _print_accept(rows, taken)
    if accepted is None:
        would = sum(row.images for row in rows if row.label_id in taken)
        print(f"dry run: nothing written; {would:,} images would get a label")
    else:
        print(f"{accepted.edit.sentence}; {accepted.skipped:,} predicted images left alone")
    return EXIT_OK


def _taken(row, args: argparse.Namespace) -> bool:  # type: ignore[no-untyped-def]
    """Whether a label's predictions are accepted: it has a threshold and images above it, the minimum test count
    (or --few), and is among --label when given."""
    chosen = not args.label or row.label in args.label
    return chosen and row.threshold is not None and row.images > 0 and (row.enough or args.few)


def _print_accept(rows: list, taken: set[int]) -> None:
    from core.catalog.names import shown

    print(f"{'label':<20} {'images':>7} {'threshold':>9}  {'test':>5}  {'precision [95%]':<22} how")
    for row in rows:
        threshold = "-" if row.threshold is None else f"{row.threshold:.3f}"
        how = row.chosen if row.enough else f"too few test images (fewer than {MIN_TEST_IMAGES}); {row.chosen}"
        mark = "" if row.label_id in taken else "  (left out)"
        print(f"{shown(row.label, 20)[1:-1]:<20} {row.images:>7,} {threshold:>9}  {row.test_positives:>5}  "
              f"{percent_text(row.precision, row.precision_ci):<22} {how}{mark}")  # fmt: skip


def _picked(run, pairs: list[str], cleared: list[str]) -> dict[int, float | None]:  # type: ignore[no-untyped-def]
    ids = {label.name: label.id for label in run.labels}
    chosen: dict[int, float | None] = {}
    for pair in pairs:
        name, equals, value = pair.rpartition("=")
        if not equals:
            raise TailorError(f"--set {pair}: expected LABEL=T, a label's name and a threshold (e.g. {pair}=0.8)")
        if name not in ids:
            raise TailorError(f"--set {pair}: run {run.id} has no label '{name}' (labels: {', '.join(ids)})")
        try:
            chosen[ids[name]] = float(value)
        except ValueError:
            raise TailorError(f"--set {pair}: '{value}' is not a number") from None
    for name in cleared:
        if name not in ids:
            raise TailorError(f"--clear {name}: run {run.id} has no such label")
        chosen[ids[name]] = None
    return chosen


def run_thresholds(args: argparse.Namespace) -> int:
    from core.analysis.operating_points import operating_points
    from core.catalog.run_thresholds import save_thresholds, saved_thresholds
    from core.catalog.runs import get_run

    if not 0 < args.precision <= 1:
        raise TailorError(f"--precision must be in (0, 1], got {args.precision}")
    if not 1 <= args.resamples <= MAX_RESAMPLES:
        raise TailorError(f"--resamples must be between 1 and {MAX_RESAMPLES:,}, got {args.resamples:,}")
    with opened(args.catalog) as catalog:
        run = get_run(catalog, args.run)
        picked = _picked(run, args.set, args.clear)
        if args.save:
            points = operating_points(catalog, args.run, args.precision, resamples=1)
            at: dict[int, float | None] = {p.label_id: p.at_target.threshold for p in points if p.at_target}
            save_thresholds(catalog, args.run, at, f"at {args.precision:.0%} precision")
        if picked:
            save_thresholds(catalog, args.run, picked, "set by hand")
        points = operating_points(catalog, args.run, args.precision, resamples=args.resamples)
        for line in saved_thresholds(catalog, args.run).ignored:
            print(line, file=sys.stderr)
    if args.json:
        items = [{k: v for k, v in asdict(p).items() if k not in ("curve", "band")} for p in points]
        print(json_text(items, indent=2))
        return EXIT_OK
    print(f"run {args.run}: thresholds at {args.precision:.0%} precision and saved, 95% intervals")
    print(f"{'label':<20} {'pos':>5}  {'at target: threshold, precision, recall':<44}  saved")
    for p in points:
        print(f"{p.label[:20]:<20} {p.positives:>5}  {_measured(p.at_target):<44}  {_measured(p.saved)}")
    return EXIT_OK


def _measured(m) -> str:  # type: ignore[no-untyped-def]
    if m is None:
        return "-"

    return f"{m.threshold:.4f}, P {percent_text(m.precision, m.precision_ci)}, R {percent_text(m.recall, m.recall_ci)}"
