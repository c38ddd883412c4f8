"""The variant matrix: every chosen head variant x seed trained on one feature store (seconds each), then one
comparison of all of them: runs x labels with the labels sorted by training count (tail on the right), paired
bootstrap intervals, differences to a baseline variant and each variant's mean and spread over the seeds.

The convex-GAN is Phase 2 on the nw head of the same seed (trained for it when nw is not among the variants, and
then left out of the table); its control, cRT, is a head variant like the others. ``tailor matrix`` and the
window's Matrix tab both run :func:`train_matrix`, then :func:`matrix_table`.
"""

from __future__ import annotations

import threading
from collections.abc import Generator
from dataclasses import dataclass, field, replace
from typing import Any

from core.analysis.compare import DEFAULT_RESAMPLES, compare, sort_labels
from core.base.errors import TailorError
from core.catalog.records import Kind, RunStatus
from core.catalog.runs import get_run
from core.catalog.store import Catalog, open_catalog
from core.config import MATRIX_VARIANTS, OVERSAMPLERS, SINGLE_LABEL_ONLY, OversampleConfig, TrainConfig, new_batch
from core.experiments.seeds import variant_configs
from core.heads.train import train_head
from core.oversampling.job import oversample
from core.training.events import Event, RunFailed


@dataclass(frozen=True)
class MatrixProgress:
    """Before each run of the matrix: ``done`` runs of ``total`` finished, the next one's variant and seed."""

    done: int
    total: int
    variant: str
    seed: int
    run_id: int = 0


@dataclass(frozen=True)
class MatrixPlan:
    """What the window's Matrix tab asks to train: the attribute, whose features, the variants x seeds, the epochs
    of each head and the baseline variant of the table."""

    attribute: str
    features_of: int
    variants: tuple[str, ...]
    seeds: tuple[int, ...]
    epochs: int
    baseline: str

    @property
    def runs(self) -> int:
        return len(self.variants) * len(self.seeds)


@dataclass(frozen=True)
class MatrixRun:
    variant: str
    seed: int
    run_id: int


@dataclass
class MatrixResult:
    runs: list[MatrixRun] = field(default_factory=list)
    cancelled: bool = False

    def run_ids(self, baseline: str) -> list[int]:
        """The runs in table order: the baseline variant's first, then variant by variant, seeds in order."""
        variants = list(dict.fromkeys([baseline] + [r.variant for r in self.runs]))
        return [r.run_id for v in variants for r in self.runs if r.variant == v]


@dataclass(frozen=True)
class FeatureSource:
    """Features a matrix can train on: a finished run's extractor (a head-only run's pretrained backbone, or a
    whole network's trained one)."""

    run_id: int
    text: str


def feature_sources(catalog: Catalog, attribute: str) -> list[FeatureSource]:
    """The attribute's finished runs, newest first, one per distinct extractor (head-only runs on the same
    pretrained backbone, size and statistics share one store)."""
    from core.catalog.runs import list_runs

    seen: set[tuple] = set()
    result = []
    for run in reversed(list_runs(catalog, attribute)):
        if run.status != RunStatus.FINISHED:
            continue
        c = run.config
        if c.head_only:
            key: tuple = ("heads", c.backbone, c.pretrained, c.pixels, c.normalization)
            weights = "ImageNet" if c.pretrained == "imagenet" else f"weights {c.pretrained}"
            statistics = "" if c.normalization == "auto" else f" · {c.normalization} statistics"
            text = f"{c.backbone} ({weights}) · {c.pixels} px{statistics}, as run {run.id}"
        else:
            source = run.base_run_id or run.id
            key = ("run", source)
            text = f"the trained backbone of run {source} ({c.backbone}, {c.pixels} px)"
        if key not in seen:
            seen.add(key)
            result.append(FeatureSource(run.id, text))
    return result


def base_config(catalog: Catalog, attribute: str, features_of: int, **training: Any) -> TrainConfig:
    """The matrix's head-only configuration on the features of run ``features_of`` (its base run's for a derived
    or oversampled run; a head-only run's pretrained backbone), with ``training`` settings (epochs, ...)."""
    run = get_run(catalog, features_of)
    return TrainConfig(attribute=attribute, head_only=True, features_of=run.base_run_id or run.id, **training)


def check_variants(variants: list[str], kind: str) -> list[str]:
    """The variants in matrix order; unknown ones refused, single-label-only ones refused for a multi-label
    attribute (one line naming them)."""
    unknown = [v for v in variants if v not in MATRIX_VARIANTS]
    if unknown:
        raise TailorError(f"unknown variant {', '.join(unknown)} (expected some of {', '.join(MATRIX_VARIANTS)})")
    if kind == Kind.MULTI:
        single = [v for v in variants if v in SINGLE_LABEL_ONLY]
        if single:
            raise TailorError(f"{', '.join(single)}: single-label attributes only; leave them out of --variants")
    if not variants:
        raise TailorError("choose at least one variant")
    return [v for v in MATRIX_VARIANTS if v in variants]


def default_variants(kind: str) -> list[str]:
    """Every variant the attribute's kind allows (the convex-GAN and its control, cRT, included)."""
    return [v for v in MATRIX_VARIANTS if kind != Kind.MULTI or v not in SINGLE_LABEL_ONLY]


def train_matrix(
    catalog: Catalog | str,
    base: TrainConfig,
    variants: list[str],
    seeds: list[int],
    *,
    oversampler: OversampleConfig | None = None,
    cancel: threading.Event | None = None,
    runs_dir: str | None = None,
) -> Generator[Event | MatrixProgress, None, MatrixResult]:
    """Train every variant x seed as head-only runs on ``base``'s features (all seeds on the first seed's split);
    yields each run's events and a :class:`MatrixProgress` before each; stops at a run that fails (one line) and
    returns what finished when cancelled."""
    if not base.head_only:
        raise TailorError(
            "the variant matrix trains heads on stored features: give --backbone B --pretrained [FILE] or "
            "--features-of RUN"
        )
    result = MatrixResult()
    base = replace(base, batch=new_batch("matrix"))  # the Runs tab shows the matrix's runs as one group
    with open_catalog(catalog) as opened:
        kind = str(opened.attribute(base.attribute).kind)  # one line for an unknown attribute
        chosen = check_variants(variants, kind)
        heads = [v for v in chosen if v not in OVERSAMPLERS]
        gan = [v for v in chosen if v in OVERSAMPLERS]
        hidden_base = bool(gan) and "nw" not in heads
        plan = variant_configs(base, (["nw"] if hidden_base else []) + heads + gan, seeds)
        nw_run = 0  # the nw head of the seed: each seed's variants follow its nw run, the convex-GAN last
        for done, (variant, config) in enumerate(plan):
            yield MatrixProgress(done, len(plan), variant, config.seed)
            failures: list[str] = []
            if variant in OVERSAMPLERS:
                settings = replace(oversampler or OversampleConfig(), seed=config.seed, device=config.device)
                events = oversample(opened, nw_run, settings, cancel=cancel, runs_dir=runs_dir, batch=config.batch)
            else:
                events = train_head(opened, config, cancel=cancel, runs_dir=runs_dir)
            run_id = yield from _watched(events, failures)
            if failures:
                raise TailorError(f"{variant} (seed {config.seed}): {failures[-1]}")
            if not _finished(opened, run_id, cancel, variant, config.seed):
                result.cancelled = True
                return result
            if variant == "nw":
                nw_run = run_id
            if variant != "nw" or not hidden_base:
                result.runs.append(MatrixRun(variant, config.seed, run_id))
        yield MatrixProgress(len(plan), len(plan), "", seeds[-1])
    return result


def _watched(events: Generator[Event, None, int], failures: list[str]) -> Generator[Event, None, int]:
    """The run's events, passed on; a failure's message kept in ``failures``."""
    while True:
        try:
            event = next(events)
        except StopIteration as stop:
            return int(stop.value or 0)
        if isinstance(event, RunFailed):
            failures.append(event.message)
        yield event


def _finished(catalog: Catalog, run_id: int, cancel: threading.Event | None, variant: str, seed: int) -> bool:
    """Whether the run finished; a failed run stops the matrix with its message, a cancelled one quietly."""
    if cancel is not None and cancel.is_set():
        return False
    if not run_id:
        raise TailorError(f"{variant} (seed {seed}) did not start")
    run = get_run(catalog, run_id)
    if run.status == RunStatus.FINISHED:
        return True
    if run.status == RunStatus.CANCELLED:
        return False
    raise TailorError(f"{variant} (seed {seed}), run {run_id}: {run.message or run.status}")


def matrix_table(
    catalog: Catalog,
    result: MatrixResult,
    baseline: str,
    *,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> dict:
    """The comparison of the matrix's runs (the baseline variant's first run as the baseline), labels sorted by
    training count with the tail on the right, and what the matrix was."""
    if not result.runs:
        raise TailorError("the matrix has no finished run to compare")
    if baseline not in {r.variant for r in result.runs}:
        raise TailorError(f"the baseline variant {baseline} is not in the matrix")
    table = sort_labels(compare(catalog, result.run_ids(baseline), resamples=resamples, seed=seed))
    table["matrix"] = {
        "baseline_variant": baseline,
        "variants": list(dict.fromkeys(r.variant for r in result.runs)),
        "seeds": list(dict.fromkeys(r.seed for r in result.runs)),
        "runs": [{"variant": r.variant, "seed": r.seed, "run_id": r.run_id} for r in result.runs],
    }
    return table
