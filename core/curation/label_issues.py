"""The label-issue finder: stored features of every labeled image, out-of-sample scores by cross-fitting
(:mod:`core.curation.crossfit`), cleanlab's flags and the tail-first queue (:mod:`core.curation.ranking`), less the
labels a person already kept for the same features (``core.catalog.model_edits.kept``).

The features come from an extractor: a run's backbone (``features_of``), a pretrained backbone (``backbone`` +
``pretrained``), or by default the newest finished run of the attribute (a head-only run's extractor, else the
run's own backbone).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Generator, Sequence
from dataclasses import dataclass, replace

import numpy as np

from core.base.errors import TailorError
from core.catalog.edits import Edit
from core.catalog.model_edits import keep_labels, kept, labels_key
from core.catalog.records import RunStatus
from core.catalog.runs import get_run, list_runs
from core.catalog.snapshot import content_hashes, take_snapshot
from core.catalog.store import Catalog, open_catalog
from core.config import TrainConfig
from core.curation.crossfit import CrossFit, FoldProgress, out_of_sample
from core.curation.predict import features_of, run_extractor
from core.curation.ranking import rank
from core.features.extractor import Extractor, build_model
from core.features.store import FeatureStore
from core.training import weights
from core.training.backbones import Classifier
from core.training.events import FeatureProgress, Note, WeightsDownload
from core.training.runtime import pick_device


@dataclass(frozen=True)
class FeatureChoice:
    """Which features: a run's backbone, or a pretrained backbone (all None: the attribute's newest run)."""

    features_of: int | None = None
    backbone: str | None = None
    pretrained: str | None = None  # "imagenet" or a weights file
    image_size: int | None = None
    normalization: str = "auto"


@dataclass(frozen=True)
class LabelIssue:
    image_id: int
    path: str
    given: tuple[str, ...]
    suggested: tuple[str, ...]
    quality: float  # cleanlab's label quality score (0: surely wrong)
    rarity: float
    priority: float
    given_ids: tuple[int, ...]
    suggested_ids: tuple[int, ...]


@dataclass(frozen=True)
class IssueReport:
    attribute: str
    attribute_id: int
    multi_label: bool
    features: str  # the feature store's name: what a kept decision is remembered against
    extractor: str  # for people
    examined: int
    issues: list[LabelIssue]  # queue order
    cleanlab_order: list[int]  # image ids of the same flagged set in cleanlab's own order (quality ascending)
    kept: int  # flagged but kept earlier: left out
    seconds: float
    cancelled: bool = False
    scores: np.ndarray | None = None  # the out-of-sample scores (examined images, snapshot order)
    image_ids: tuple[int, ...] = ()


def with_default_backbone(choice: FeatureChoice) -> FeatureChoice:
    """``choice``, with the best backbone whose ImageNet weights are here when it names neither a run nor a backbone
    (its image size and statistics kept)."""
    if choice.features_of is not None or choice.backbone is not None:
        return choice
    from core.training.backbone_list import best_for_heads, offered

    best = best_for_heads(offered())
    if best is None:
        raise TailorError("no backbone has its ImageNet weights here: give --backbone NAME --pretrained [FILE]")
    return replace(choice, backbone=best.name, pretrained=choice.pretrained or "imagenet")


def choose_extractor(catalog: Catalog, attribute: str, choice: FeatureChoice) -> Extractor:
    """The extractor of ``choice``. A run's features are those its head reads: a head-only run's pretrained
    backbone (its store, no new pass), a whole-network run's own backbone."""
    if choice.features_of is not None:
        run = get_run(catalog, choice.features_of)
        if run.status != RunStatus.FINISHED:
            raise TailorError(f"--features-of {run.id}: run is {run.status}, not finished")
        return run_extractor(catalog, run)
    if choice.backbone is not None:
        if not choice.pretrained:
            raise TailorError("--backbone needs --pretrained [FILE] (ImageNet weights or a weights file)")
        config = TrainConfig(
            attribute=attribute, head_only=True, backbone=choice.backbone, pretrained=choice.pretrained,
            image_size=choice.image_size, normalization=choice.normalization,
        )  # fmt: skip
        return Extractor.for_config(catalog, config)
    finished = [r for r in list_runs(catalog, attribute) if r.status == RunStatus.FINISHED]
    if not finished:
        raise TailorError(
            f"no finished run of '{attribute}' to take features from: give --features-of RUN or --backbone NAME "
            "--pretrained [FILE]"
        )
    return run_extractor(catalog, finished[-1])


def default_extractor(catalog: Catalog, attribute: str | None, choice: FeatureChoice) -> Extractor:
    """The choice's extractor; one naming neither a run nor a backbone: the attribute's newest finished run's, else
    the best backbone whose ImageNet weights are here (what the similar images and the map default to)."""
    names_one = choice.features_of is not None or choice.backbone is not None
    if (
        not names_one
        and attribute is not None
        and any(r.status == RunStatus.FINISHED for r in list_runs(catalog, attribute))
    ):
        return choose_extractor(catalog, attribute, choice)
    return choose_extractor(catalog, attribute or "", with_default_backbone(choice))


def find_issues(
    catalog: Catalog | str,
    attribute: str,
    choice: FeatureChoice | None = None,
    *,
    settings: CrossFit | None = None,
    device: str = "auto",
    cancel: threading.Event | None = None,
) -> Generator[FeatureProgress | FoldProgress | WeightsDownload | Note, None, IssueReport]:
    """The suspected label errors of one attribute, queue first; yields progress (feature pass, folds)."""
    started = time.perf_counter()
    choice, settings = choice or FeatureChoice(), settings or CrossFit()
    with open_catalog(catalog) as opened:
        info = opened.attribute(attribute)
        snapshot = take_snapshot(opened, attribute, seed=settings.seed)  # refuses fewer than two labels
        extractor = choose_extractor(opened, attribute, choice)
        store = extractor.open_store(opened, pick_device(device))
        hashes = content_hashes(opened, snapshot.image_ids)
        features = yield from extractor_features(
            opened, extractor, store, snapshot.image_ids, snapshot.paths, hashes, device=device, cancel=cancel
        )
        report = IssueReport(info.name, info.id, snapshot.multi_label, store.folder.name, extractor.describe(),
                             len(snapshot.image_ids), [], [], 0, 0.0)  # fmt: skip
        if features is None:
            return replace(report, cancelled=True)
        scores = yield from out_of_sample(
            features, snapshot.targets, len(snapshot.labels), multi_label=snapshot.multi_label, settings=settings,
            cancel=cancel,
        )  # fmt: skip
        if scores is None:
            return replace(report, cancelled=True)
        counts = np.bincount([j for labels in snapshot.targets for j in labels], minlength=len(snapshot.labels))
        ranked = rank(snapshot.targets, scores, counts, multi_label=snapshot.multi_label)
        decided = kept(opened, info.id, store.folder.name)
    names = [label.name for label in snapshot.labels]
    ids = [label.id for label in snapshot.labels]
    issues, skipped = [], 0
    for row, quality, suggested, rarity, priority in zip(
        ranked.rows, ranked.quality, ranked.suggested, ranked.rarity, ranked.priority
    ):
        given = snapshot.targets[row]
        image_id = snapshot.image_ids[row]
        if (image_id, labels_key([ids[j] for j in given])) in decided:
            skipped += 1
            continue
        issues.append(LabelIssue(
            image_id, snapshot.paths[row], tuple(names[j] for j in given), tuple(names[j] for j in suggested),
            float(quality), float(rarity), float(priority), tuple(ids[j] for j in given),
            tuple(ids[j] for j in suggested),
        ))  # fmt: skip
    shown = {issue.image_id for issue in issues}
    order = [snapshot.image_ids[row] for row in ranked.cleanlab_order if snapshot.image_ids[row] in shown]
    return replace(
        report, issues=issues, cleanlab_order=order, kept=skipped, seconds=time.perf_counter() - started,
        scores=scores, image_ids=tuple(snapshot.image_ids),
    )  # fmt: skip


def extractor_features(
    catalog: Catalog,
    extractor: Extractor,
    store: FeatureStore,
    image_ids: Sequence[int],
    paths: list[str],
    hashes: list[str],
    *,
    device: str,
    cancel: threading.Event | None,
    run_id: int = 0,
    first: int | None = None,
) -> Generator[FeatureProgress | WeightsDownload | Note, None, np.ndarray | None]:
    """The features of these images from ``extractor`` through its ``store`` (downloading ImageNet weights first
    when the extractor needs them); None when cancelled. ``first``: read back only the first so many."""
    if extractor.pretrained == "imagenet":
        yield from weights.ensure(extractor.backbone, cancel)
    model, _ = build_model(catalog, extractor, 2, False)  # the head is not used: features only
    assert isinstance(model, Classifier)
    return (yield from features_of(catalog, store, model, extractor, image_ids, paths, hashes,
                                   device=pick_device(device), cancel=cancel, run_id=run_id, first=first))  # fmt: skip


def keep(
    catalog: Catalog,
    attribute: str,
    image_ids: Sequence[int],
    choice: FeatureChoice | None = None,
    *,
    device: str = "auto",
) -> tuple[Edit, str]:
    """Keep these images' labels for the features ``choice`` names, as the Label issues tab's **Keep label** does:
    :func:`find_issues` with the same features does not list them again. Returns the edit and the features' name
    (their store's)."""
    info = catalog.attribute(attribute)
    extractor = choose_extractor(catalog, attribute, choice or FeatureChoice())
    features = extractor.open_store(catalog, pick_device(device)).folder.name
    return keep_labels(catalog, image_ids, info.id, features), features
