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

from core.config import BACKBONES, HEAD_LOSSES, LOSSES, OVERSAMPLERS
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
    p.add_argument("--force", action="store_true", help="replace the --report file when it exists")
    p.add_argument("--follow-symlinks", action="store_true", help="also follow links to folders outside the tree "
                   "(links inside it, and links to files, are always followed)")
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

    p = sub.add_parser("train", help="train and evaluate one weighting variant on an attribute",
                       description="Train a classifier for an attribute with one loss, evaluate it on the test "
                       "split every epoch and record the run (metrics, test scores, checkpoints) in the catalog.")
    _add_catalog(p)
    p.add_argument("--attribute", "-a", metavar="NAME", help="attribute to learn (not with --resume)")
    p.add_argument("--loss", default="nw", choices=LOSSES, help="weighting variant (default nw)")
    p.add_argument("--backbone", default="resnet18", choices=BACKBONES, help="network (default resnet18)")
    p.add_argument("--pretrained", nargs="?", const="imagenet", metavar="FILE",
                   help="start from ImageNet weights in the local torch cache, or from FILE (never downloads)")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, help="learning rate (default: Adam 1e-3, or 1e-4/1e-5 pretrained; SGD 0.1)")
    p.add_argument("--optimizer", choices=("adam", "sgd"), default="adam")
    p.add_argument("--weight-decay", type=float, help="default: SGD 2e-4, Adam 0")
    p.add_argument("--schedule", choices=("constant", "step", "cosine"),
                   help="default: step (x0.01 at 80%%, x0.0001 at 90%% of the epochs) for SGD, constant for Adam")
    p.add_argument("--warmup-epochs", type=int, help="linear warm-up epochs (default: 5 for SGD with >= 20 epochs)")
    p.add_argument("--image-size", type=int, default=32)
    p.add_argument("--beta", type=float, default=0.99, help="beta of iew and cb-focal (default 0.99)")
    p.add_argument("--gamma", type=float, default=2.0, help="gamma of focal and cb-focal (default 2)")
    p.add_argument("--device", default="auto", help="auto (cuda, then mps, then cpu), cpu, cuda or cuda:N")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=0, help="DataLoader processes when images are not cached")
    p.add_argument("--no-cache", dest="cache", action="store_false",
                   help="decode images every epoch instead of once into memory")
    p.add_argument("--resume", type=int, metavar="RUN", help="continue an interrupted or cancelled run")
    p.add_argument("--distributed", action="store_true",
                   help="data-parallel over the processes torchrun starts (DDP; --batch-size is per process; "
                   "rank 0 writes the run), e.g. torchrun --nproc-per-node 4 -m core.cli train ... --distributed")
    p.add_argument("--runs-dir", metavar="DIR", help="where run folders go (default: CATALOG.runs/ beside it)")
    p.add_argument("--oversample", choices=OVERSAMPLERS,
                   help="then run Phase 2 of the convex-GAN oversampler on the trained run (a second run)")
    p.add_argument("--gan-epochs", type=int, default=10, help="Phase 2 epochs (default 10)")
    p.add_argument("--gan-batch-size", type=int, default=256, help="Phase 2 batch (default 256)")
    p.add_argument("--gan-lr", type=float, default=5e-5, help="Phase 2 rate of G and D (default 5e-5)")
    _oversampler_options(p)
    p.add_argument("--json", action="store_true", help="print the run's result as JSON")

    p = sub.add_parser("oversample", help="Phase 2 of the convex-GAN oversampler on a finished run",
                       description="Features of RUN's frozen backbone form per-label dictionaries; a convex "
                       "generator mixes them into synthetic minority features, trained against a discriminator "
                       "and the classifier head, which is fine-tuned on real and synthetic features. Records a new "
                       "run (base_run_id = RUN).")
    _add_catalog(p)
    p.add_argument("run", metavar="RUN", type=int, help="a finished run (any variant)")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--lr", type=float, default=5e-5, help="rate of G and D (default 5e-5)")
    _oversampler_options(p)
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--runs-dir", metavar="DIR", help="where run folders go (default: CATALOG.runs/ beside it)")
    p.add_argument("--json", action="store_true", help="print the run's result as JSON")

    p = sub.add_parser("synthetic", help="synthetic samples of an oversampled run and the images they mix",
                       description="Regenerate synthetic features of a label with a convex-gan run's generator "
                       "and list, for each, the real training images it mixes with their convex weights; and the "
                       "per-label counts of synthetic features the classifier was trained on.")
    _add_catalog(p)
    p.add_argument("run", metavar="RUN", type=int, help="a finished convex-gan run")
    p.add_argument("--label", required=True, metavar="NAME")
    p.add_argument("--count", type=int, default=5, help="synthetic samples (default 5)")
    p.add_argument("--top", type=int, default=5, help="largest weights shown per sample (default 5)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("runs", help="list training runs", description="List the training runs of a catalog.")
    _add_catalog(p)
    p.add_argument("--attribute", "-a", metavar="NAME", help="only runs of this attribute")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("compare", help="compare runs label by label (runs x labels AP table)",
                       description="Per-label AP of each run (rows: runs, columns: labels), top-1, ACSA, GM, macro "
                       "AP with the difference to the first run, and head/medium/tail means.")
    _add_catalog(p)
    p.add_argument("runs", metavar="RUN", type=int, nargs="+")
    output = p.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true")
    output.add_argument("--markdown", action="store_true")
    output.add_argument("--csv", action="store_true")

    p = sub.add_parser("export-model", help="write a run's model as TorchScript or ONNX",
                       description="Export the final model of a finished run (image in: N x 3 x S x S float, "
                       "ImageNet-normalised; out: N x labels logits).")
    _add_catalog(p)
    p.add_argument("run", metavar="RUN", type=int)
    p.add_argument("--format", choices=("torchscript", "onnx"), default="torchscript")
    p.add_argument("--out", required=True, metavar="FILE")
    p.add_argument("--force", action="store_true", help="replace FILE when it exists (never a catalog or a run's "
                   "own files)")

    p = sub.add_parser("demo", help="build the demo catalog of drawn garments",
                       description="Draw a few hundred garments (no download), import them into a catalog with "
                       "a long-tailed single-label attribute 'sleeve' and a multi-label attribute 'style', and "
                       "print their statistics.")
    p.add_argument("--out", default="tailor-demo", metavar="DIR", help="folder for images and catalog "
                   "(default ./tailor-demo)")
    p.add_argument("--no-gui", action="store_true", help="only build the catalog and print its statistics")

    p = sub.add_parser("gui", help="open the workbench window (also: tailor with no command)",
                       description="Open the workbench window on CATALOG (default: the last catalog opened).")
    p.add_argument("catalog", metavar="CATALOG", nargs="?", help="catalog file or SQLAlchemy URL")
    p.add_argument("--screenshot", metavar="FILE", help="save the window as a PNG once loaded, then quit")
    p.add_argument("--view", choices=("browse", "imbalance"), default="browse",
                   help="the view --screenshot shows (default browse)")
    return parser


def _oversampler_options(p) -> None:
    p.add_argument("--head-loss", choices=HEAD_LOSSES, default="mse",
                   help="loss of the fine-tuned classifier (default mse, the paper's baseline)")
    p.add_argument("--head-lr", type=float, default=1e-3,
                   help="rate of the classifier (default 1e-3; the paper uses the GAN's rate, 5e-5)")
    p.add_argument("--dictionary-size", type=int, default=2000, help="features per label kept (default 2000)")
    p.add_argument("--samples", type=int, help="N_s, features mixed per synthetic one (default min(100, "
                   "smallest label - 1))")
    p.add_argument("--weights", choices=("per-feature", "per-dimension"), default="per-feature",
                   help="one convex weight per sampled feature (default) or per feature and dimension")
    p.add_argument("--lam", type=float, default=1e3, help="weight of the discriminator in G's loss (default 1e3)")
    p.add_argument("--d-every", type=int, default=5, help="update D every N iterations (default 5)")
    p.add_argument("--iterations", type=int, help="iterations per epoch (default: labels x largest count / batch)")


def _oversample_config(args, *, epochs: int, batch_size: int, lr: float):
    from core.config import OversampleConfig

    return OversampleConfig(dictionary_size=args.dictionary_size, samples=args.samples, weights=args.weights,
                            lam=args.lam, head_loss=args.head_loss, epochs=epochs, iterations=args.iterations,
                            batch_size=batch_size, lr=lr, head_lr=args.head_lr, d_every=args.d_every,
                            seed=args.seed, device=args.device)


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("tailor")
    except Exception:  # pragma: no cover - running from a source tree without installing
        return "dev"


# -- commands ---------------------------------------------------------------------------------------------

def cmd_init(args) -> int:
    from core.catalog import Catalog
    from core.db import describe, is_url, table_names

    if not is_url(args.catalog) and Path(args.catalog).exists():
        raise TailorError(f"{args.catalog} already exists; choose a new file name")
    if is_url(args.catalog) and "alembic_version" in table_names(args.catalog):
        raise TailorError(f"{describe(args.catalog)} already exists (it holds a Tailor catalog); open it instead")
    with Catalog.create(args.catalog):
        pass
    print(f"created catalog {describe(args.catalog)}")
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
    from core.outputs import check_output

    if args.report:  # before the import commits: a report that cannot be written fails the command first
        check_output(args.report, "--report", force=args.force, catalog=args.catalog)
    with Catalog(args.catalog) as catalog:
        report = _progress_bar(import_source(catalog, args.source, args.attribute, multi_label=args.multi_label,
                                             follow_symlinks=args.follow_symlinks), quiet=args.json)
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
    if not counts.labels:
        where = f" in split {split}" if split else ""
        raise TailorError(f"attribute '{attribute}' has no labelled images{where} yet "
                          f"(tailor import CATALOG SOURCE --attribute {attribute})")
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
    if args.no_gui:
        return EXIT_OK
    return _open_window(args, str(location))


def _open_window(args, catalog: str | None, screenshot: str | None = None, view: str = "browse") -> int:
    opener = getattr(args, "open_window", None)
    if opener is None:
        raise TailorError("the workbench window is not available in this installation (use the commands "
                          "listed by tailor --help)")
    return opener(catalog, screenshot=screenshot, view=view)


def cmd_gui(args) -> int:
    if args.catalog and "://" not in args.catalog and not Path(args.catalog).exists():
        raise TailorError(f"catalog {args.catalog} does not exist (create one with tailor init, or from the "
                          "window's File menu)")
    if args.screenshot:  # named for this purpose, so replaced; never a catalog or a run's file
        from core.outputs import check_output

        check_output(args.screenshot, "--screenshot", force=True, catalog=args.catalog)
    return _open_window(args, args.catalog, args.screenshot, args.view)


def cmd_train(args) -> int:
    from core.config import TrainConfig
    from core.training import train

    if args.resume is None and not args.attribute:
        raise TailorError("--attribute is required (or --resume RUN)")
    config = TrainConfig(attribute=args.attribute or "", loss=args.loss, backbone=args.backbone,
                         pretrained=args.pretrained, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                         optimizer=args.optimizer, weight_decay=args.weight_decay, schedule=args.schedule,
                         warmup_epochs=args.warmup_epochs, image_size=args.image_size, beta=args.beta,
                         gamma=args.gamma, device=args.device, seed=args.seed, workers=args.workers,
                         cache=args.cache, oversample=args.oversample)
    from core.oversample_run import train_and_oversample
    from core.training_cli import render_training

    oversampler = _oversample_config(args, epochs=args.gan_epochs, batch_size=args.gan_batch_size, lr=args.gan_lr)
    oversampler.validate()
    if args.distributed:
        from core.distributed import env_rank

        if args.oversample:
            raise TailorError("--oversample cannot run --distributed; train the run distributed, then oversample "
                              "it with: tailor oversample CATALOG RUN")
        events = train(args.catalog, config, resume=args.resume, runs_dir=args.runs_dir, distributed=True)
        if env_rank() != 0:  # rank 0 reports; the others train quietly
            return render_training(events, args.catalog, as_json=args.json, quiet=True)
    else:
        events = train_and_oversample(args.catalog, config, oversampler, resume=args.resume, runs_dir=args.runs_dir)
    return render_training(events, args.catalog, as_json=args.json)


def cmd_oversample(args) -> int:
    from core.oversample_run import oversample
    from core.training_cli import render_training

    config = _oversample_config(args, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr)
    config.validate()
    return render_training(oversample(args.catalog, args.run, config, runs_dir=args.runs_dir), args.catalog,
                           as_json=args.json)


def cmd_synthetic(args) -> int:
    from core.oversample_run import synthetic

    if args.count < 1 or args.top < 1:
        raise TailorError("--count and --top must be at least 1")
    result = synthetic(args.catalog, args.run, args.label, count=args.count, top=args.top, seed=args.seed)
    if args.json:
        print(json.dumps(result, indent=2))
        return EXIT_OK
    print(f"run {args.run}: synthetic '{args.label}' features, each mixing {result['samples_per_synthetic']} real "
          f"ones ({result['weights']} weights); largest weights:")
    for k, sample in enumerate(result["synthetic"], 1):
        mixes = ", ".join(f"image {m['image_id']} x {m['weight']:.3f}" for m in sample["mixes"])
        print(f"  {k}. {mixes}")
    print("synthetic features the classifier was trained on, per label: "
          + ", ".join(f"{name} {n:,}" for name, n in result["generated_per_label"].items()))
    return EXIT_OK


def cmd_runs(args) -> int:
    from core.catalog import Catalog
    from core.runs import list_runs, summary

    with Catalog(args.catalog) as catalog:
        runs = list_runs(catalog, args.attribute)
    if args.json:
        print(json.dumps([summary(run) for run in runs], indent=2))
        return EXIT_OK
    if not runs:
        print("no runs yet: tailor train CATALOG --attribute NAME --loss nw")
        return EXIT_OK
    print(f"{'run':>4}  {'attribute':<12} {'loss':<10} {'backbone':<18} {'status':<10} {'epochs':>6}  {'top-1':>6} "
          f"{'ACSA':>6} {'GM':>6} {'mAP':>6}  {'time':>7}  created")
    for run in runs:
        last = (run.metrics or {}).get("last") or {}
        cell = lambda key: "-" if last.get(key) is None else f"{100 * last[key]:.1f}"  # noqa: E731
        seconds = "-" if run.seconds is None else f"{run.seconds:.0f} s"
        print(f"{run.id:>4}  {run.attribute[:12]:<12} {run.loss:<10} {run.backbone:<18} {run.status:<10} "
              f"{run.epochs_done:>3}/{run.epochs:<3} {cell('top1'):>6} {cell('acsa'):>6} {cell('gm'):>6} "
              f"{cell('macro_ap'):>6}  {seconds:>7}  {run.created_at:%Y-%m-%d %H:%M}")
    return EXIT_OK


def cmd_compare(args) -> int:
    from core.catalog import Catalog
    from core.runs import compare, compare_csv, compare_markdown

    with Catalog(args.catalog) as catalog:
        table = compare(catalog, args.runs)
    if args.json:
        print(json.dumps(table, indent=2))
    elif args.csv:
        print(compare_csv(table), end="")
    else:
        print(compare_markdown(table))
    return EXIT_OK


def cmd_export_model(args) -> int:
    from core.outputs import check_output

    check_output(args.out, "--out", force=args.force, catalog=args.catalog)
    from core.export import export_model

    path = export_model(args.catalog, args.run, args.format, args.out)
    print(f"wrote {args.format} model of run {args.run} to {path}")
    return EXIT_OK


COMMANDS = {"init": cmd_init, "import": cmd_import, "stats": cmd_stats, "info": cmd_info, "demo": cmd_demo,
            "train": cmd_train, "runs": cmd_runs, "compare": cmd_compare, "export-model": cmd_export_model,
            "oversample": cmd_oversample, "synthetic": cmd_synthetic, "gui": cmd_gui}


def _stop_on_sigterm():
    """SIGTERM (``kill``, a scheduler's stop) stops a run the way Ctrl+C does: recorded as cancelled, resumable.
    Returns the previous handler (None when none was set: not the main thread)."""
    import signal
    import threading

    def stop(_signum, _frame) -> None:
        raise KeyboardInterrupt

    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, stop)


def main(argv: list[str] | None = None, *, open_window=None) -> int:
    """Run one command. ``open_window(catalog, screenshot=, view=) -> int`` is how ``gui``, ``demo`` and no
    command at all open the window; the workbench passes it in (``workbench.launcher``), so core never imports Qt.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        if open_window is None:
            parser.print_help()
            return EXIT_OK
        args.command = "gui"
        args.catalog, args.screenshot, args.view = None, None, "browse"
    args.open_window = open_window
    previous = _stop_on_sigterm() if args.command in ("train", "oversample") else None
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
    finally:
        if previous is not None:
            import signal

            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
