"""``tailor thresholds``: a run's operating points per label with bootstrap intervals (the threshold at a target
precision, the one saved with the run), saving them with the run; ``export-model`` writes them beside the model."""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict

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
