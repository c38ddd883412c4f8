"""``tailor runs``, ``compare`` and ``export-model``: reading recorded runs back, comparing them label by label and
writing a run's model for use elsewhere."""

from __future__ import annotations

import argparse
import sys

from core.base.errors import TailorError
from core.base.json_text import json_text
from core.base.percent import percent
from core.catalog.runs import RunInfo, variant_name
from core.cli.options import EXIT_OK, command, opened, run_id, seed


def register(sub: argparse._SubParsersAction) -> None:
    p = command(sub, "runs", run_runs, "list training runs", "List the training runs of a catalog.", json="")
    p.add_argument("--attribute", "-a", metavar="NAME", help="only runs of this attribute")
    p = command(
        sub,
        "compare",
        run_compare,
        "compare runs label by label (runs x labels AP table)",
        "Top-1, ACSA, GM and macro AP of each run, then each label's AP (labels as rows, runs as columns), with "
        "95% bootstrap intervals and the difference to the first run, sized to the terminal; --markdown (the "
        "runs x labels table with head / medium / tail means), --csv or --json for everything.",
        json=None,
    )
    p.add_argument("runs", metavar="RUN", type=run_id, nargs="+")
    output = p.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true")
    output.add_argument("--markdown", action="store_true")
    output.add_argument("--csv", action="store_true")
    p.add_argument(
        "--resamples",
        type=int,
        default=2000,
        metavar="B",
        help="bootstrap resamples of the test images for the 95%% intervals (0: none; default 2000)",
    )
    p.add_argument("--bootstrap-seed", type=seed, default=0, metavar="S", help="seed of the resamples (default 0)")
    p = command(
        sub,
        "export-model",
        run_export_model,
        "write a run's model as TorchScript or ONNX",
        "Export the final model of a finished run (image in: N x 3 x S x S float; out: N x labels logits) with "
        "what a deployer needs inside it (ONNX metadata_props / TorchScript extra file 'tailor': the "
        "preprocessing, the labels, how scores come from the logits, the thresholds with their test counts, the "
        "Tailor version and run id), and beside it FILE.thresholds.json (per label the threshold: saved with the "
        "run by tailor thresholds or the Runs tab, else the smallest reaching --precision on the test images) and "
        "the model card FILE.card.json and FILE.card.md (data, split sizes, metrics with intervals, how to call "
        "it: docs/examples/predict_onnx.py).",
        json=None,
    )
    p.add_argument("run", metavar="RUN", type=run_id)
    p.add_argument("--format", choices=("torchscript", "onnx"), default="torchscript")
    p.add_argument("--out", required=True, metavar="FILE")
    p.add_argument("--precision", type=float, default=0.6, metavar="P", help="target precision of labels without a "
                   "saved threshold (default 0.6)")  # fmt: skip
    p.add_argument(
        "--force", action="store_true", help="replace FILE when it exists (never a catalog or a run's own files)"
    )


def run_runs(args: argparse.Namespace) -> int:
    from core.catalog.run_groups import RunGroup, grouped, heading
    from core.catalog.runs import list_runs, summary

    with opened(args.catalog) as catalog:
        runs = list_runs(catalog, args.attribute)
    if args.json:
        print(json_text([summary(run) for run in runs], indent=2))
        return EXIT_OK
    if not runs:
        print("no runs yet: tailor train CATALOG --attribute NAME --loss nw")
        return EXIT_OK
    print(
        f"{'run':>4}  {'attribute':<12} {'variant':<22} {'backbone':<23} {'status':<10} {'epochs':>6}  {'top-1':>6} "
        f"{'ACSA':>6} {'GM':>6} {'mAP':>6}  {'time':>7}  created"
    )
    for item in grouped(runs):
        if isinstance(item, RunGroup):
            print(heading(item))
            for run in item.runs:
                print(_run_line(run))
            print("──")
        else:
            print(_run_line(item))
    return EXIT_OK


def _run_line(run: RunInfo) -> str:
    last = run.last

    def cell(key: str) -> str:
        return percent(last.get(key))

    seconds = "-" if run.seconds is None else f"{run.seconds:.0f} s"
    variant = variant_name(run)
    return (
        f"{run.id:>4}  {run.attribute[:12]:<12} {variant[:22]:<22} {run.backbone[:23]:<23} {run.status:<10} "
        f"{run.epochs_done:>3}/{run.epochs:<3} {cell('top1'):>6} {cell('acsa'):>6} {cell('gm'):>6} "
        f"{cell('macro_ap'):>6}  {seconds:>7}  {run.created_at:%Y-%m-%d %H:%M}"
    )


def run_compare(args: argparse.Namespace) -> int:
    import shutil

    from core.analysis.compare import compare
    from core.analysis.compare_exports import compare_csv, compare_json, compare_markdown, compare_text

    if args.resamples < 0:
        raise TailorError("--resamples must be 0 (no intervals) or more")
    with opened(args.catalog) as catalog:
        table = compare(catalog, args.runs, resamples=args.resamples, seed=args.bootstrap_seed)
    if args.json:
        print(json_text(compare_json(table), indent=2))
    elif args.csv:
        print(compare_csv(table), end="")
    elif args.markdown:
        print(compare_markdown(table))
    else:
        print(compare_text(table, shutil.get_terminal_size((100, 24)).columns))
    return EXIT_OK


def run_export_model(args: argparse.Namespace) -> int:
    from core.catalog.outputs import check_output
    from core.training.model_card import beside, export_package

    check_output(args.out, "--out", force=args.force, catalog=args.catalog)
    for what, path in beside(args.out).items():
        check_output(str(path), f"--out's {what.replace('_', ' ')} file", force=args.force, catalog=args.catalog)
    with opened(args.catalog) as catalog:
        written = export_package(catalog, args.run, args.format, args.out, args.precision)
    for line in written["ignored"]:
        print(line, file=sys.stderr)
    print(f"wrote {args.format} model of run {args.run} to {written['model']} (its preprocessing, labels and "
          f"thresholds inside), its thresholds to {written['thresholds']} and its model card to {written['card']} "
          f"and {written['card_markdown']}")  # fmt: skip
    return EXIT_OK
