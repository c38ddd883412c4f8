"""``tailor train``, ``oversample`` and ``synthetic``: training a variant (optionally then oversampling it),
Phase 2 of the convex-GAN on a finished run, and inspecting what its generator mixes. Options come from the fields
of :class:`core.config.TrainConfig` and :class:`core.config.OversampleConfig`."""

from __future__ import annotations

import argparse
from collections.abc import Generator, Iterator
from dataclasses import replace
from typing import TYPE_CHECKING

from core.base.errors import TailorError
from core.base.json_text import json_text
from core.cli.options import EXIT_OK, add_config_options, command, config_from_args, opened, positive, run_id, seed
from core.config import OversampleConfig, TrainConfig

if TYPE_CHECKING:
    from core.catalog.store import Catalog
    from core.training.events import Event

TRAIN_OPTIONS = (
    "loss",
    "backbone",
    "pretrained",
    "head_only",
    "features_of",
    "mirrored_views",
    "normalization",
    "epochs",
    "batch_size",
    "lr",
    "optimizer",
    "weight_decay",
    "schedule",
    "warmup_epochs",
    "image_size",
    "beta",
    "gamma",
    "tau",
    "device",
    "seed",
    "split_seed",
    "workers",
    "cache",
)
GAN_OPTIONS = ("epochs", "batch_size", "lr")  # tailor train --gan-*: the rest are shared with tailor oversample
OVERSAMPLER_OPTIONS = ("head_loss", "head_lr", "dictionary_size", "samples", "weights", "lam", "d_every", "iterations")


def register(sub: argparse._SubParsersAction) -> None:
    _train_parser(sub)
    p = command(
        sub,
        "oversample",
        run_oversample,
        "Phase 2 of the convex-GAN oversampler on a finished run",
        "Features of RUN's frozen backbone form per-label dictionaries; a convex generator mixes them into "
        "synthetic minority features, trained against a discriminator and the classifier head, which is "
        "fine-tuned on real and synthetic features. Records a new run (base_run_id = RUN).",
        json="print the run's result as JSON",
    )
    p.add_argument("run", metavar="RUN", type=run_id, help="a finished run (any variant)")
    add_config_options(p, OversampleConfig, GAN_OPTIONS + OVERSAMPLER_OPTIONS)
    add_config_options(p, TrainConfig, ("device", "seed"))
    _runs_dir(p)
    p = command(
        sub,
        "adjust",
        run_adjust,
        "post-hoc logit adjustment or tau-normalisation of a finished run (no training)",
        "Shift RUN's logits by -tau * log(training label frequency) (Menon et al. 2021) and/or divide its "
        "classifier's weight rows by their norm to the power P (tau-normalisation, Kang et al. 2020); evaluate on "
        "its test images and record the result as a derived run. Without --tau: chosen on the validation split "
        "when the run has one (best ACSA over 0..3 in steps of 0.25), else 1.",
        json="print the derived run's result as JSON",
    )
    p.add_argument("run", metavar="RUN", type=run_id, help="a finished run")
    p.add_argument("--tau", type=float, help="logit adjustment strength (0: none; 1: balanced)")
    p.add_argument("--tau-norm", type=float, metavar="P", help="tau-normalise the classifier with power P (e.g. 1)")
    _runs_dir(p)
    p = command(
        sub,
        "synthetic",
        run_synthetic,
        "synthetic samples of an oversampled run and the images they mix",
        "Regenerate synthetic features of a label with a convex-gan run's generator and list, for each, the "
        "real training images it mixes with their convex weights; and the per-label counts of synthetic "
        "features the classifier was trained on.",
    )
    p.add_argument("run", metavar="RUN", type=run_id, help="a finished convex-gan run")
    p.add_argument("--label", required=True, metavar="NAME")
    p.add_argument("--count", type=positive, default=5, help="synthetic samples (default 5)")
    p.add_argument("--top", type=positive, default=5, help="largest weights shown per sample (default 5)")
    p.add_argument("--seed", type=seed, default=0)


def _train_parser(sub: argparse._SubParsersAction) -> None:
    p = command(
        sub,
        "train",
        run_train,
        "train and evaluate one weighting variant on an attribute",
        "Train a classifier for an attribute with one loss, evaluate it on the test split every epoch and "
        "record the run (metrics, test scores, checkpoints) in the catalog.",
        json="print the run's result as JSON",
    )
    p.add_argument("--attribute", "-a", metavar="NAME", help="attribute to learn (not with --resume)")
    add_config_options(p, TrainConfig, TRAIN_OPTIONS)
    p.add_argument(
        "--seeds",
        metavar="LIST",
        help="train one run per seed (e.g. 0,1,2 or 0-4), all on the first seed's train/test split: compare "
        "shows their mean and spread (--json prints a list)",
    )
    p.add_argument("--resume", type=run_id, metavar="RUN", help="continue an interrupted or cancelled run")
    p.add_argument(
        "--distributed",
        action="store_true",
        help="data-parallel over the processes torchrun starts (DDP; --batch-size is per process; "
        "rank 0 writes the run), e.g. torchrun --nproc-per-node 4 -m core.cli train ... --distributed",
    )
    _runs_dir(p)
    add_config_options(p, TrainConfig, ("oversample",))
    add_config_options(p, OversampleConfig, GAN_OPTIONS, prefix="gan-")
    add_config_options(p, OversampleConfig, OVERSAMPLER_OPTIONS)


def _runs_dir(p: argparse.ArgumentParser) -> None:
    p.add_argument("--runs-dir", metavar="DIR", help="where run folders go (default: CATALOG.runs/ beside it)")


def _oversampler(args: argparse.Namespace, *, prefix: str = "") -> OversampleConfig:
    """Phase 2's settings: the epochs, batch and rate options (``--gan-*`` under ``tailor train``), the shared
    oversampler options, and the run's seed and device."""
    config: OversampleConfig = config_from_args(
        OversampleConfig,
        args,
        GAN_OPTIONS + OVERSAMPLER_OPTIONS,
        prefixes={name: prefix for name in GAN_OPTIONS},
        seed=args.seed,
        device=args.device,
    )
    config.validate()
    return config


def run_train(args: argparse.Namespace) -> int:
    from core.cli.render import render_training
    from core.oversampling.job import train_and_oversample
    from core.training.distributed import env_rank, require_launched
    from core.training.loop import train

    if args.resume is None and not args.attribute:
        raise TailorError("--attribute is required (or --resume RUN)")
    config = config_from_args(TrainConfig, args, (*TRAIN_OPTIONS, "oversample"), attribute=args.attribute or "")
    oversampler = _oversampler(args, prefix="gan-")
    if args.distributed:
        if config.head_only:
            raise TailorError("--head-only trains a head in seconds on one device; drop --distributed")
        if args.oversample:
            raise TailorError(
                "--oversample cannot run --distributed; train the run distributed, then oversample "
                "it with: tailor oversample CATALOG RUN"
            )
        require_launched()
    if config.pretrained == "imagenet" and args.resume is None:
        config.validate()
        download_weights(config.backbone)  # before the catalog is opened: offline is one line, exit 2
    seeds = _seeds(args)
    from core.experiments.seeds import seed_configs

    with opened(args.catalog) as catalog:
        if args.distributed:
            events = train(catalog, config, resume=args.resume, runs_dir=args.runs_dir, distributed=True)
            if env_rank() != 0:  # rank 0 reports; the others train quietly
                return render_training(events, catalog, as_json=args.json, quiet=True)
            return render_training(events, catalog, as_json=args.json)
        if seeds is None:
            events = train_and_oversample(catalog, config, oversampler, resume=args.resume, runs_dir=args.runs_dir)
            return render_training(events, catalog, as_json=args.json)
        return _train_seeds(catalog, seed_configs(config, seeds), oversampler, args)


def _seeds(args: argparse.Namespace) -> list[int] | None:
    from core.experiments.seeds import parse_seeds

    if args.seeds is None:
        return None
    if args.resume is not None or args.distributed:
        raise TailorError("--seeds starts new runs one after another: not with --resume or --distributed")
    return parse_seeds(args.seeds)


def _train_seeds(
    catalog: Catalog, configs: list[TrainConfig], oversampler: OversampleConfig, args: argparse.Namespace
) -> int:
    """The runs of a seed group one after another; stops at the first that does not finish."""
    from core.cli.render import render_training
    from core.oversampling.job import train_and_oversample

    results: list[dict] = []
    status = EXIT_OK
    for config in configs:
        if not args.json:
            print(f"seed {config.seed} ({len(results) + 1} of {len(configs)}, split of seed {config.split_seed})")
        events = train_and_oversample(catalog, config, replace(oversampler, seed=config.seed), runs_dir=args.runs_dir)
        status = render_training(events, catalog, as_json=args.json, results=results if args.json else None)
        if status != EXIT_OK:
            break
    if args.json:
        print(json_text(results, indent=2))
    return status


def download_weights(backbone: str) -> None:
    from core.cli.render import render_download
    from core.training import weights

    render_download(weights.ensure(backbone))


def run_oversample(args: argparse.Namespace) -> int:
    from core.cli.render import render_training
    from core.oversampling.job import oversample

    config = _oversampler(args)
    with opened(args.catalog) as catalog:
        return render_training(
            oversample(catalog, args.run, config, runs_dir=args.runs_dir), catalog, as_json=args.json
        )


def run_adjust(args: argparse.Namespace) -> int:
    from core.catalog.runs import get_run
    from core.cli.render import render_training
    from core.heads.adjust import adjust
    from core.training.events import RunFinished

    finished: list[int] = []

    def watched(events: Iterator[Event]) -> Generator[Event, None, None]:
        for event in events:
            if isinstance(event, RunFinished):
                finished.append(event.run_id)
            yield event

    with opened(args.catalog) as catalog:
        events = adjust(catalog, args.run, tau=args.tau, tau_norm=args.tau_norm, runs_dir=args.runs_dir)
        status = render_training(watched(events), catalog, as_json=args.json)
        if finished and not args.json:
            before, after = get_run(catalog, args.run).last, get_run(catalog, finished[0]).last
            print(
                f"run {args.run} -> run {finished[0]}: ACSA {before['acsa']:.1%} -> {after['acsa']:.1%}, top-1 "
                f"{before['top1']:.1%} -> {after['top1']:.1%}, GM {before['gm']:.1%} -> {after['gm']:.1%}"
            )
    return status


def run_synthetic(args: argparse.Namespace) -> int:
    from core.oversampling.job import synthetic

    if args.count < 1 or args.top < 1:
        raise TailorError("--count and --top must be at least 1")
    with opened(args.catalog) as catalog:
        result = synthetic(catalog, args.run, args.label, count=args.count, top=args.top, seed=args.seed)
    if args.json:
        print(json_text(result, indent=2))
        return EXIT_OK
    print(
        f"run {args.run}: synthetic '{args.label}' features, each mixing {result['samples_per_synthetic']} real "
        f"ones ({result['weights']} weights); largest weights:"
    )
    for k, sample in enumerate(result["synthetic"], 1):
        mixes = ", ".join(f"image {m['image_id']} x {m['weight']:.3f}" for m in sample["mixes"])
        print(f"  {k}. {mixes}")
    print(
        "synthetic features the classifier was trained on, per label: "
        + ", ".join(f"{name} {n:,}" for name, n in result["generated_per_label"].items())
    )
    return EXIT_OK
