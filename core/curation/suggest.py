"""Label next: the unlabeled images most likely to be a rare label, a batch of different products at a time.

For each label asked for (default: the run's tail labels, rarest first) the images without a label of the attribute
are ranked by the run's **prior-corrected** probability of that label: the run's scores with its training label
prior taken out (``softmax(logits - log prior)``, Menon et al.'s logit adjustment with tau 1; multi-label: the prior
odds), so a rare label is not drowned by the head labels' prior. A run whose scores leave the prior out already
(balanced softmax, cRT, a post-hoc adjusted or convex-GAN run: ``TrainConfig.prior_free``) is used as it is.

The queue asks first about the images the run does **not** call L (its top label is another; multi-label: L scored
below 0.5), most likely L first: the model's misses, where each Yes both grows L and teaches the model what it gets
wrong (the images it does call L are what Accept predictions labels in bulk); when those run out, the images it calls
L. In ``make bench-label-next`` asking about the most likely L images first gained more of them (99% Yes) but a
balanced-softmax head retrained on them lost tail accuracy each round (easy positives inflate the label's count, so
the prior correction pushes the label back), while the misses raised it by 9 points in 500 answers.

Within each group the batch is diversified in feature space (features centred on the pool's mean): among the best
``CANDIDATES`` x ``count``, a near-copy of an image in the batch or labelled L (what ``tailor duplicates`` calls
near-identical) is left out, and an image close to one in the batch or labelled L is worth less (its score times
min(1, distance / ``REACH``)), so a batch of 50 is 50 different products, not 50 near-copies of one. Measured in
``make bench-label-next``: weighing the score by the distance itself (no ``REACH``) cost 15% of the Yes answers;
k-means over the best images was tried first: with few products among them it splits one product into clusters and
still proposes its copies. Images a person answered "no" for a label (:mod:`core.catalog.answers`) are never
proposed for it again; a "yes" labels the image, which leaves the pool.

The features are the run's (its feature store; what the store lacks is computed first, with progress and Cancel,
as ``tailor predict`` does), and the scores its head's on them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Generator, Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch

from core.analysis.compare import MIN_TEST_IMAGES
from core.analysis.imbalance import assign_groups
from core.analysis.posthoc import adjusted_scores, offset, prior
from core.base.errors import TailorError
from core.catalog import browse, predictions
from core.catalog import columns as catalog_columns
from core.catalog.answers import answered_no
from core.catalog.names import shown
from core.catalog.records import ImageFilter
from core.catalog.runs import RunInfo, finished_runs, load_snapshot
from core.catalog.store import Catalog, open_catalog
from core.config import TrainConfig
from core.curation.duplicates import DEFAULT_THRESHOLD
from core.curation.predict import check_run, features_of, head_scores, run_extractor
from core.features.vectors import unit_rows
from core.heads.views import view_extractors
from core.training.backbones import Classifier
from core.training.events import FeatureProgress, Note
from core.training.export import load_run_model
from core.training.runtime import pick_device

CANDIDATES = 10  # the batch is chosen among the best CANDIDATES x count images by score
NEAR_COPY = DEFAULT_THRESHOLD  # centred cosine similarity from which two images are near-copies (tailor duplicates)
LIKE_LABELLED = 0.05  # the least cosine distance to the label's images counted
REACH = 0.5  # centred cosine distance from which another image no longer lowers an image's value
ANCHOR_BLOCK = 8_192  # label images compared at a time
MAX_COUNT = 1_000


@dataclass(frozen=True)
class Suggestion:
    image_id: int
    path: str
    label: str  # the question: "is this image a <label>?"
    label_id: int
    score: float  # the run's prior-corrected probability of the label
    labels: tuple[str, ...]  # the image's labels of other attributes ("attribute: label")
    called: str  # what the run calls the image (its top label; multi-label: its labels at 0.5)
    split: str | None = None  # the image's split (None: none yet)


@dataclass(frozen=True)
class LabelNeeds:
    """A queued label's images in the catalog now, and the test images a comparison of runs needs."""

    label: str
    label_id: int
    train: int
    test: int
    unsplit: int  # labelled images without a split (a run splits them itself)
    answered_no: int

    @property
    def test_needed(self) -> int:
        """More test images before the Runs tab compares runs on this label (its minimum test count)."""
        return max(0, MIN_TEST_IMAGES - self.test)

    def after(self, splits: Sequence[str | None]) -> LabelNeeds:
        """The counts once these images (their splits) have been given the label (the queue's Yes answers)."""
        return replace(self, train=self.train + sum(s == "train" for s in splits),
                       test=self.test + sum(s == "test" for s in splits),
                       unsplit=self.unsplit + sum(s is None for s in splits))  # fmt: skip

    def describe(self) -> str:
        unsplit = f", {self.unsplit:,} without a split" if self.unsplit else ""
        needs = f"; {self.test_needed} more test images to compare runs on it" if self.test_needed else ""
        return f"{shown(self.label)}: {self.train:,} training and {self.test:,} test images{unsplit}{needs}"


@dataclass(frozen=True)
class SuggestReport:
    attribute: str
    attribute_id: int
    run_id: int
    labels: list[LabelNeeds]  # the labels queued, in turn order
    suggestions: list[Suggestion]  # queue order
    pool: int  # unlabeled images ranked
    correction: str  # how the run's scores were made prior-free, for a user
    computed: int  # features computed for this queue
    seconds: float
    cancelled: bool = False


def suggest(
    catalog: Catalog | str,
    attribute: str,
    labels: Sequence[str] | None = None,
    *,
    count: int = 50,
    run_id: int | None = None,
    diverse: bool = True,
    device: str = "auto",
    cancel: threading.Event | None = None,
) -> Generator[FeatureProgress | Note, None, SuggestReport]:
    """The next ``count`` images to ask about per label (``labels``; default the run's tail labels, rarest first),
    the labels taking turns; yields the feature pass's progress."""
    started = time.perf_counter()
    if not 1 <= count <= MAX_COUNT:
        raise TailorError(f"--count must be between 1 and {MAX_COUNT}")
    with open_catalog(catalog) as opened:
        run, attribute_id = check_run(opened, _run_id(opened, attribute, run_id), attribute)
        columns = _queued_columns(run, labels)
        pool = browse.unlabeled_ids(opened, attribute_id)
        if not pool:
            raise TailorError(f"every image has a label of '{attribute}': no unlabeled images to propose")
        refused = {run.labels[j].id: answered_no(opened, run.labels[j].id) for j in columns}
        model, config, _ = load_run_model(opened, run.id)
        on = pick_device(device)
        paths, hashes = predictions.image_paths(opened, pool)
        views, computed = [], 0
        for extractor in view_extractors(run_extractor(opened, run), config):
            store = extractor.open_store(opened, on)
            before = store.stored
            features = yield from features_of(opened, store, model, extractor, pool, paths, hashes, device=on,
                                              cancel=cancel, run_id=run.id)  # fmt: skip
            if features is None:
                return SuggestReport(attribute, attribute_id, run.id, [], [], len(pool), "", 0, 0.0, cancelled=True)
            views.append(features)
            computed += store.stored - before
        anchors: dict[int, np.ndarray] | None = {}
        if diverse:
            anchors = yield from _anchors(opened, run, model, attribute_id, columns, on, cancel)
        if anchors is None:
            return SuggestReport(attribute, attribute_id, run.id, [], [], len(pool), "", 0, 0.0, cancelled=True)
        own = head_scores(model, views, config, run.kind == "multi")  # what the run calls each image
        scores, correction = _prior_free_scores(opened, run, config, own)
        queues = []
        for j in columns:
            allowed = np.array([i not in refused[run.labels[j].id] for i in pool], dtype=bool)
            missed = own[:, j] < 0.5 if run.kind == "multi" else own.argmax(axis=1) != j
            queues.append(_queue(scores[:, j], views[0], allowed, count, diverse, anchors.get(j), missed))
        chosen = _take_turns(queues)
        other = browse.labels_of(opened, [pool[row] for row, _ in chosen])
        where = [catalog_columns.SPLITS[k] for k in catalog_columns.splits(opened, [pool[row] for row, _ in chosen])]
        needs = _needs(opened, attribute, run, columns, refused)
    names = [label.name for label in run.labels]
    suggestions = [
        Suggestion(pool[row], paths[row], names[columns[q]], run.labels[columns[q]].id, float(scores[row, columns[q]]),
                   other.get(pool[row], ()), _called(own[row], names, run.kind == "multi"),
                   None if split == "none" else split)
        for (row, q), split in zip(chosen, where)
    ]  # fmt: skip
    return SuggestReport(attribute, attribute_id, run.id, needs, suggestions, len(pool), correction, computed,
                         time.perf_counter() - started)  # fmt: skip


def _called(scores: np.ndarray, names: list[str], multi: bool) -> str:
    """What the run calls an image: its top label, or its labels scored at least 0.5 ("nothing")."""
    if multi:
        return ", ".join(n for n, p in zip(names, scores) if p >= 0.5) or "nothing"
    return names[int(np.argmax(scores))]


def _prior_free_scores(
    catalog: Catalog, run: RunInfo, config: TrainConfig, scores: np.ndarray
) -> tuple[np.ndarray, str]:
    """The run's ``scores`` of the pool with its training label prior taken out, and how, for a user."""
    multi = run.kind == "multi"
    if config.prior_free:
        return scores, "the run's own scores (they leave the training prior out)"
    adjusted = adjusted_scores(scores, offset(prior(load_snapshot(catalog, run.id)), 1.0, multi), multi)
    return adjusted, "the run's scores with its training label prior taken out (logit adjustment, tau 1)"


def _anchors(
    catalog: Catalog, run: RunInfo, model: Classifier, attribute_id: int, columns: list[int], on: torch.device,
    cancel: threading.Event | None,
) -> Generator[FeatureProgress | Note, None, dict[int, np.ndarray] | None]:  # fmt: skip
    """Column -> the features of the images that have its label now (test images left out: they teach nothing);
    None when cancelled."""
    test = set(browse.image_ids(catalog, ImageFilter(split="test")))
    members = {}
    for j in columns:
        found = browse.image_ids(catalog, ImageFilter(attribute_id=attribute_id, label_id=run.labels[j].id))
        members[j] = [int(i) for i in found if int(i) not in test]
    every = sorted({i for ids in members.values() for i in ids})
    if not every:
        return {}
    paths, hashes = predictions.image_paths(catalog, every)
    extractor = run_extractor(catalog, run)
    store = extractor.open_store(catalog, on)
    features = yield from features_of(catalog, store, model, extractor, every, paths, hashes, device=on,
                                      cancel=cancel, run_id=run.id)  # fmt: skip
    if features is None:
        return None
    where = {image_id: n for n, image_id in enumerate(every)}
    return {j: features[[where[i] for i in ids]] for j, ids in members.items()}


def _run_id(catalog: Catalog, attribute: str, run_id: int | None) -> int:
    if run_id is not None:
        return run_id
    finished = finished_runs(catalog, attribute)
    if not finished:
        raise TailorError(
            f"no finished run of '{attribute}' to rank images with: train one first (heads on frozen features take "
            "seconds), or give --run RUN"
        )
    return finished[-1].id


def _queued_columns(run: RunInfo, labels: Sequence[str] | None) -> list[int]:
    """The run's output columns of the labels asked for (default: its tail labels, rarest first)."""
    names = [label.name for label in run.labels]
    if not labels:
        train = [label.train for label in run.labels]
        tail = [j for j, group in enumerate(assign_groups(train)) if group == "tail"]
        return sorted(tail, key=lambda j: (train[j], names[j]))
    columns = []
    for name in dict.fromkeys(labels):
        if name not in names:
            raise TailorError(
                f"run {run.id} has no label '{name}': it had no training images when the run was made (label a few "
                f"images first, e.g. with Browse ▸ Find similar, then train again); its labels: {', '.join(names)}"
            )
        columns.append(names.index(name))
    return columns


def _queue(
    score: np.ndarray, features: np.ndarray, allowed: np.ndarray, count: int, diverse: bool,
    anchors: np.ndarray | None = None, missed: np.ndarray | None = None,
) -> list[int]:  # fmt: skip
    """Rows of the pool to ask about for one label: first those the run does not call the label (``missed``), then
    the others, each group best ``score`` first; ``diverse``: see :func:`_diverse`."""
    rows = np.flatnonzero(allowed)
    groups = [rows] if missed is None else [rows[missed[rows]], rows[~missed[rows]]]
    centre = features.mean(axis=0, dtype=np.float32) if len(features) else None
    chosen: list[int] = []
    for group in groups:
        wanted = count - len(chosen)
        if wanted <= 0:
            break
        order = group[np.lexsort((group, -score[group]))]
        if not diverse:
            chosen += [int(r) for r in order[:wanted]]
            continue
        known = features[chosen] if anchors is None else np.concatenate([anchors, features[chosen]])
        chosen += _diverse(order[: CANDIDATES * wanted], score, features, wanted, known, centre)
    return chosen


def _diverse(
    best: np.ndarray, score: np.ndarray, features: np.ndarray, count: int, known: np.ndarray, centre: np.ndarray | None
) -> list[int]:
    """Up to ``count`` of ``best``: never a near-copy of one already picked or of ``known`` (centred cosine
    similarity at least ``NEAR_COPY``, the near-duplicate search's threshold); each next the one of highest score x
    min(1, d / ``REACH``), d the cosine distance to the nearest picked or ``known`` image (the label's own images: d
    counted as at least ``LIKE_LABELLED``, as another photo of a labelled product still needs its label)."""
    unit = unit_rows(features[best], centre)
    distance = np.full(len(best), 2.0, np.float32)  # to the batch
    labelled = np.full(len(best), 2.0, np.float32)  # to the label's images
    if len(known):
        anchors = unit_rows(known, centre)
        for start in range(0, len(anchors), ANCHOR_BLOCK):
            labelled = np.minimum(labelled, 1.0 - (unit @ anchors[start : start + ANCHOR_BLOCK].T).max(axis=1))
    open_ = labelled > 1.0 - NEAR_COPY
    chosen: list[int] = []
    while len(chosen) < count and open_.any():
        nearest = np.minimum(distance, np.maximum(labelled, LIKE_LABELLED))
        value = np.where(open_, score[best] * np.minimum(1.0, nearest / REACH), -np.inf)
        pick = int(np.argmax(value))
        chosen.append(int(best[pick]))
        distance = np.minimum(distance, 1.0 - unit @ unit[pick])
        open_ &= distance > 1.0 - NEAR_COPY
    return chosen


def _take_turns(queues: list[list[int]]) -> list[tuple[int, int]]:
    """(pool row, queue index) with the labels taking turns; an image is asked about once, for its first label."""
    chosen: list[tuple[int, int]] = []
    seen: set[int] = set()
    for turn in range(max((len(q) for q in queues), default=0)):
        for q, queue in enumerate(queues):
            if turn < len(queue) and queue[turn] not in seen:
                seen.add(queue[turn])
                chosen.append((queue[turn], q))
    return chosen


def _needs(
    catalog: Catalog, attribute: str, run: RunInfo, columns: list[int], refused: dict[int, set[int]]
) -> list[LabelNeeds]:
    counts = {split: {c.label_id: c.count for c in catalog.label_counts(attribute, split).labels}
              for split in ("train", "val", "test", None)}  # fmt: skip
    needs = []
    for j in columns:
        label = run.labels[j]
        train, test = counts["train"].get(label.id, 0), counts["test"].get(label.id, 0)
        unsplit = max(0, counts[None].get(label.id, 0) - train - test - counts["val"].get(label.id, 0))
        needs.append(LabelNeeds(label.name, label.id, train, test, unsplit, len(refused[label.id])))
    return needs
