"""Post-hoc logit adjustment and tau-normalisation of a finished run, without training; kept as a derived run.

Logit adjustment (Menon et al., ICLR 2021, Eq. 7): predict with ``logits - tau * log(prior)``, the prior being the
run's training label frequencies (multi-label: each label's log prior odds, ``log(p / (1 - p))``, p its share of
training images). It needs only the run's stored test scores: a softmax output ``q`` gives back its logits up to a
constant, ``log q``, and ``softmax(log q - tau log prior)`` equals ``softmax(logits - tau log prior)`` (for LDAM
runs, whose stored scores are ``softmax(s * cos)``, the adjustment applies to ``s * cos``). Multi-label scores pass
through ``logit`` and ``sigmoid`` the same way; a per-label shift changes thresholded metrics, never a label's AP.

Tau-normalisation (Kang et al., ICLR 2020): the classifier's weight rows divided by their norm to the power
``p`` (bias dropped); it needs the test images' features (the feature store, see :mod:`core.features`) and a
linear head (not LDAM's cosine head, whose rows are normalised already).

The NumPy part (priors, offsets, adjusted scores, their metrics) is :mod:`core.analysis.posthoc`, shared with the
window's live slider.

Defaults: when the run's images have a validation split, ``tau`` (0 to 3 in steps of 0.25) is chosen by the
validation ACSA, on validation scores computed from stored features; otherwise ``tau = 1`` (Menon et al.'s choice,
balanced softmax). ``adjust`` records a derived run (``base_run_id`` the adjusted run, config ``posthoc``) whose
model is the base model with a :class:`core.training.backbones.PosthocHead`, so review, comparison and export work.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Generator
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from core.analysis.posthoc import TAU_GRID, evaluate_adjusted, offset, prior
from core.base.errors import TailorError
from core.catalog import runs as store
from core.catalog.records import RunStatus
from core.catalog.snapshot import content_hashes
from core.catalog.store import Catalog, open_catalog
from core.features.extract import extract
from core.features.extractor import Extractor
from core.heads.views import view_extractors, view_scores
from core.training import checkpoints
from core.training.backbones import Classifier, CosineLinear, PosthocHead
from core.training.events import EpochFinished, Event, Note, RunCancelled, RunFinished, RunStarted
from core.training.export import load_run_model
from core.training.recorder import BestEpoch, RunRecorder
from core.training.runtime import pick_device


def tau_normalised_scores(features: np.ndarray, head: torch.nn.Module, power: float, multi_label: bool) -> np.ndarray:
    """Scores of a linear head whose weight rows are divided by their norm to the ``power`` (bias dropped)."""
    inner = head.inner if isinstance(head, PosthocHead) else head
    if isinstance(inner, CosineLinear) or not isinstance(inner, torch.nn.Linear):
        raise TailorError("tau-normalisation needs a linear head (an LDAM head is normalised already)")
    weight = inner.weight.detach().double()
    weight = weight / weight.norm(dim=1, keepdim=True).clamp_min(1e-12) ** power
    logits = torch.from_numpy(features).double() @ weight.T
    probabilities = torch.sigmoid(logits) if multi_label else torch.softmax(logits, dim=1)
    result: np.ndarray = probabilities.numpy()
    return result


def adjust(
    catalog: Catalog | str,
    run_id: int,
    *,
    tau: float | None = None,
    tau_norm: float | None = None,
    cancel: threading.Event | None = None,
    runs_dir: str | None = None,
) -> Generator[Event, None, int]:
    """Record the adjusted run (see the module docstring); yields events, returns the new run's id."""
    if tau is not None and not (np.isfinite(tau) and 0 <= tau <= 10):
        raise TailorError("--tau must be a number in [0, 10]")
    if tau_norm is not None and not (np.isfinite(tau_norm) and 0 < tau_norm <= 5):
        raise TailorError("--tau-norm must be a number in (0, 5]")
    with open_catalog(catalog) as opened:
        base = store.get_run(opened, run_id)
        if base.status != RunStatus.FINISHED:
            raise TailorError(f"run {run_id} is {base.status}; only a finished run can be adjusted")
        if base.config.posthoc:
            raise TailorError(f"run {run_id} is already adjusted; adjust its base run {base.base_run_id} instead")
        if tau_norm and base.config.mirrored_views:
            raise TailorError(f"run {run_id} has mirrored views: tau-normalisation is not supported for it (use --tau)")
        recorder = RunRecorder(opened, base.config, cancel)
        return (yield from recorder.run(lambda: _Adjusting(recorder, base, tau, tau_norm).run(runs_dir)))


class _Adjusting:
    def __init__(self, recorder: RunRecorder, base: store.RunInfo, tau: float | None, tau_norm: float | None) -> None:
        self.recorder, self.base, self.tau, self.tau_norm = recorder, base, tau, tau_norm
        self.catalog = recorder.catalog
        self.snapshot = store.load_snapshot(self.catalog, base.id)
        self.test_idx, self.val_idx = self.snapshot.indices("test"), self.snapshot.indices("val")
        self.model, _, _ = load_run_model(self.catalog, base.id)

    def _extractor(self) -> Extractor:
        c = self.base.config
        if c.head_only and c.features_of is not None:
            return Extractor(c.backbone, None, c.pixels, c.normalization, run_id=c.features_of)
        if c.head_only and c.pretrained:
            return Extractor(c.backbone, c.pretrained, c.pixels, c.normalization)
        return Extractor(c.backbone, None, c.pixels, c.normalization, run_id=self.base.id)

    def _features(self, indices: list[int]) -> Generator[Event, None, list[np.ndarray] | None]:
        """The features of these images, one array per view of the run (core.heads.views)."""
        device = pick_device(self.base.config.device)
        ids = [self.snapshot.image_ids[i] for i in indices]
        hashes = content_hashes(self.catalog, ids)
        views = []
        for extractor in view_extractors(self._extractor(), self.base.config):
            feature_store = extractor.open_store(self.catalog, device)
            done = yield from extract(
                feature_store, self.model.backbone, extractor.statistics(),
                hashes, [self.snapshot.paths[i] for i in indices], extractor.image_size,
                device=device, cancel=self.recorder.cancel,
            )  # fmt: skip
            if not done:
                return None
            views.append(feature_store.gather(hashes).astype(np.float32))
        return views

    def _scores(self, views: list[np.ndarray]) -> np.ndarray:
        if self.tau_norm:
            return tau_normalised_scores(views[0], self.model.head, self.tau_norm, self.snapshot.multi_label)
        scale = 30.0 if self.base.config.cosine_head else 1.0  # LDAM's s, as the run's stored scores
        return view_scores(self.model.head, views, scale, self.snapshot.multi_label).astype(np.float64)

    def _truth(self, indices: list[int]) -> np.ndarray:
        s = self.snapshot
        return s.target_matrix(indices) if s.multi_label else s.target_vector(indices)

    def run(self, runs_dir: str | None) -> Generator[Event, None, None]:
        started = time.perf_counter()
        needs_features = bool(self.tau_norm) or (self.tau is None and bool(self.val_idx))
        if needs_features:
            features = yield from self._features(self.test_idx + self.val_idx)
            if features is None:
                yield RunCancelled(0, 0)
                return
            test_scores = self._scores([view[: len(self.test_idx)] for view in features])
            val_scores = self._scores([view[len(self.test_idx) :] for view in features])
        else:
            test_scores, val_scores = self._stored_test_scores(), None
        tau, how = self._tau(val_scores)
        config = self.recorder.config
        metrics, scores = evaluate_adjusted(test_scores, self._truth(self.test_idx), self.snapshot, tau,
                                            config.target_precision)  # fmt: skip
        posthoc = {"tau": float(tau), **({"tau_norm": float(self.tau_norm)} if self.tau_norm else {})}
        self.recorder.config = replace(config, posthoc=posthoc, epochs=1, batch=None)  # one evaluation, kept alone
        yield from self._record(runs_dir, metrics, scores, posthoc, how, started)

    def _stored_test_scores(self) -> np.ndarray:
        ids, _paths, _targets, scores = store.final_scores(self.catalog, self.base.id)
        order = {image_id: row for row, image_id in enumerate(ids)}
        wanted = [self.snapshot.image_ids[i] for i in self.test_idx]
        if any(i not in order for i in wanted):
            raise TailorError(f"run {self.base.id} has no stored scores for some of its test images")
        return scores[[order[i] for i in wanted]]

    def _tau(self, val_scores: np.ndarray | None) -> tuple[float, str]:
        if self.tau is not None:
            return self.tau, f"tau {self.tau:g} as given"
        if val_scores is None or not len(val_scores):
            return 1.0, "tau 1: no validation split to choose it on"
        truth = self._truth(self.val_idx)
        target = self.recorder.config.target_precision
        acsa = [evaluate_adjusted(val_scores, truth, self.snapshot, t, target)[0]["acsa"] for t in TAU_GRID]
        best = float(TAU_GRID[int(np.argmax(acsa))])
        return best, f"tau {best:g}: the best validation ACSA ({max(acsa):.1%}) of {TAU_GRID[0]:g}..{TAU_GRID[-1]:g}"

    def _record(
        self, runs_dir: str | None, metrics: dict, scores: np.ndarray, posthoc: dict, how: str, started: float
    ) -> Generator[Event, None, None]:
        recorder, s = self.recorder, self.snapshot
        directory = recorder.create(s, runs_dir, "cpu", base_run_id=self.base.id)
        config = recorder.config
        yield RunStarted(
            recorder.run_id, s.attribute, s.kind, config.loss, config.backbone, "cpu", [x.name for x in s.labels],
            len(s.indices("train")), len(self.test_idx), len(self.val_idx), 1, 0, s.split_source, str(directory),
            [int(n) for n in s.counts("train")],
        )  # fmt: skip
        yield Note(recorder.run_id, f"post-hoc adjustment of run {self.base.id}: {store.posthoc_name(posthoc)} ({how})")
        seconds = time.perf_counter() - started
        yield from recorder.record_epoch(0, 0.0, 0.0, metrics, seconds)
        yield EpochFinished(recorder.run_id, 0, 1, 0.0, 0.0, 0.0, seconds, metrics, trained=False)
        self._save_model(posthoc, directory)
        best = BestEpoch.for_snapshot(s)
        best.offer(0, metrics)
        summary = yield from recorder.finish(s, self.test_idx, (metrics, scores.astype(np.float32)), best, seconds, 0)
        yield RunFinished(recorder.run_id, seconds, 0.0, summary)

    def _save_model(self, posthoc: dict, directory: Path) -> None:
        model: Classifier = self.model
        head = PosthocHead(model.head, len(self.snapshot.labels))
        scale = 30.0 if self.base.config.cosine_head else 1.0  # the cosine head's logits are s times smaller
        shift = offset(prior(self.snapshot), posthoc["tau"], self.snapshot.multi_label) / scale
        head.offset.copy_(torch.as_tensor(shift, dtype=torch.float32))
        head.norm_power.fill_(posthoc.get("tau_norm", 0.0))
        model.head = head
        checkpoints.save({k: v.cpu() for k, v in model.state_dict().items()}, directory / "model.pt")
