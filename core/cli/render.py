"""Rendering a training run's events: a progress bar per epoch (progress lines when stderr is not a terminal), one
line per epoch, the result."""

from __future__ import annotations

import sys
from collections.abc import Callable, Generator
from typing import Any, TypeVar

from core.base.errors import TailorError
from core.base.json_text import json_text
from core.base.percent import percent
from core.catalog.records import RunStatus
from core.catalog.runs import get_run, summary
from core.catalog.store import Catalog
from core.cli.progress_lines import progress
from core.training.events import (
    BatchProgress,
    Decoding,
    EpochFinished,
    Event,
    FeatureProgress,
    GanEpoch,
    Note,
    RunCancelled,
    RunFailed,
    RunFinished,
    RunStarted,
    WeightsDownload,
)

EXIT_OK, EXIT_FAILED, EXIT_CANCELLED = 0, 1, 130
R = TypeVar("R")


def render_training(
    events: Generator[Event, None, Any],
    catalog: Catalog,
    *,
    as_json: bool,
    quiet: bool = False,
    results: list[dict] | None = None,
) -> int:
    """Draw the events, then the run's result (``--json``: its summary, or appended to ``results`` when given);
    the exit status. ``quiet`` (a distributed run's ranks but 0) only drives them and reports failures."""
    if quiet:
        failures = [event.message for event in events if isinstance(event, RunFailed)]
        if failures:
            print(f"tailor train: {failures[0]}", file=sys.stderr)
        return EXIT_FAILED if failures else EXIT_OK
    view = _Terminal((lambda text: print(text, file=sys.stderr)) if as_json else print)
    view.follow(events)
    if not view.run_id:  # failed before a run existed (bad attribute, bad config)
        raise TailorError(view.failure or "training did not start")
    result = summary(get_run(catalog, view.run_id))
    if results is not None:
        results.append(result)
    elif as_json:
        print(json_text(result, indent=2))
    elif view.status == RunStatus.FINISHED:
        _print_result(view.run_id, result)
    return view.exit_status()


class _Terminal:
    """The events of one run as lines (``say``) and a tqdm bar per epoch; remembers how the run ended."""

    def __init__(self, say: Callable[[str], None]) -> None:
        self.say: Callable[[str], None] = say
        self.bar: Any = None  # a tqdm bar while an epoch, a download or a feature pass runs
        self.bar_what = ""
        self.run_id, self.status = 0, RunStatus.RUNNING
        self.failure: str | None = None

    def follow(self, events: Generator[Event, None, Any]) -> None:
        try:
            for event in events:
                self.run_id = event.run_id or self.run_id
                self.show(event)
        except KeyboardInterrupt:
            events.close()  # records the run as cancelled
            self.status = RunStatus.CANCELLED
        finally:
            self._close_bar()

    def show(self, event: Event) -> None:
        if isinstance(event, BatchProgress):
            self._progress(event)
        elif isinstance(event, WeightsDownload):
            self._count(f"downloading {event.url.rsplit('/', 1)[-1]}", event.done, event.total, "B")
        elif isinstance(event, FeatureProgress) and event.done < event.total:
            self._count("features", event.done, event.total, " img")
        elif isinstance(event, EpochFinished):
            self._close_bar()
            m = event.metrics
            scores = _scores(m, ("top1", "acsa", "gm", "macro_ap"))
            if not event.trained:
                self.say(f"adjusted test scores: {scores} ({event.seconds:.1f} s)")
                return
            self.say(
                f"epoch {event.epoch + 1}/{event.epochs}: train loss {event.train_loss:.4f}, test loss "
                f"{event.test_loss:.4f}, {scores} ({event.seconds:.1f} s, lr {event.lr:.2g})"
            )
        elif isinstance(event, RunFinished):
            self.status = RunStatus.FINISHED
        elif isinstance(event, RunFailed):
            self.status, self.failure = RunStatus.FAILED, event.message
        elif isinstance(event, RunCancelled):
            self.status = RunStatus.CANCELLED
        else:
            line = _line(event)
            if line:
                self.say(line)

    def _progress(self, event: BatchProgress) -> None:
        if self.bar is None:
            self.bar = progress(event.batches, f"epoch {event.epoch + 1}/{event.epochs}", " batch")
        self.bar.set_postfix(loss=f"{event.loss:.4f}", img_s=f"{event.images_per_second:.0f}")
        self.bar.update(event.batch - self.bar.n)

    def _count(self, what: str, done: int, total: int, unit: str) -> None:
        """A bar for a download (bytes) or a feature pass (images), closed when done (lines when stderr is not a
        terminal: core.cli.progress_lines)."""
        if self.bar is None or self.bar_what != what:
            self._close_bar()
            self.bar_what = what
            self.bar = progress(total or None, what, unit, unit_scale=unit == "B")
        self.bar.update(done - self.bar.n)
        if total and done >= total:
            self._close_bar()

    def _close_bar(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def exit_status(self) -> int:
        if self.status == RunStatus.FAILED:
            print(f"tailor train: run {self.run_id} failed: {self.failure}", file=sys.stderr)
            return EXIT_FAILED
        if self.status == RunStatus.CANCELLED and not self.run_id:
            print("tailor train: cancelled before the run was recorded", file=sys.stderr)
            return EXIT_CANCELLED
        if self.status == RunStatus.CANCELLED:
            print(
                f"tailor train: run {self.run_id} cancelled; continue it with --resume {self.run_id}", file=sys.stderr
            )
            return EXIT_CANCELLED
        return EXIT_OK


def render_download(events: Generator[Event, None, Any]) -> None:
    """A download's bar and its last line (errors propagate: one line, exit 2)."""
    terminal = _Terminal(lambda line: print(line, file=sys.stderr))
    for event in events:
        terminal.show(event)
    terminal._close_bar()


def _line(event: Event) -> str | None:
    """The one line an informative event prints (None for those that print nothing)."""
    if isinstance(event, RunStarted):
        return (
            f"run {event.run_id}: {event.loss} on '{event.attribute}' ({event.kind_of_attribute}-label, "
            f"{len(event.labels)} labels) with {event.backbone} on {event.device}; {event.train_images:,} "
            f"train / {event.val_images:,} val / {event.test_images:,} test images ({event.split_source} "
            f"split); files in {event.directory}"
        )
    if isinstance(event, Note):
        return f"note: {event.message}"
    if isinstance(event, Decoding) and event.done == event.total:
        return f"decoded {event.total:,} images into memory"
    if isinstance(event, FeatureProgress) and event.done == event.total:
        computed = event.total - event.cached
        return f"features of {event.total:,} images: {event.cached:,} from the feature store, {computed:,} computed"
    if isinstance(event, WeightsDownload) and event.total and event.done == event.total:
        return f"downloaded {event.url} ({event.total / 1e6:.1f} MB) to {event.path}"
    if isinstance(event, GanEpoch):
        return (
            f"phase 2 epoch {event.epoch + 1}: losses Q {event.q_loss:.4f}, D {event.d_loss:.4f}, G {event.g_loss:.4f}"
        )
    return None


def _speed(images_per_second: float | None) -> str:
    """' (N images/s)', or nothing for a run that passed no images (a post-hoc adjustment)."""
    return f" ({images_per_second:.0f} images/s)" if images_per_second else ""


METRIC_NAMES = {"top1": "top-1", "acsa": "ACSA", "gm": "GM", "macro_ap": "macro AP"}


def _scores(metrics: dict, keys: tuple[str, ...]) -> str:
    """ "top-1 64.1%, ACSA 52.0%, ..." """
    return ", ".join(f"{METRIC_NAMES[key]} {percent(metrics[key], '%')}" for key in keys)


def _print_result(run_id: int, result: dict) -> None:
    m = result["metrics"]
    print(
        f"run {run_id} finished in {result['seconds']:.1f} s{_speed(result['images_per_second'])}; "
        f"last epoch: {_scores(m, ('top1', 'acsa', 'gm', 'macro_ap'))}"
    )
    best = result.get("best")
    if best and result["epochs"] > 1:  # one epoch (a post-hoc run): nothing was chosen
        print(
            f"best epoch {best['epoch'] + 1} by {best['by']} on the {best['selected_on']} split"
            f"{' (optimistic: chosen on the test set)' if best['selected_on'] == 'test' else ''}: "
            f"{_scores(best, ('top1', 'acsa', 'macro_ap'))}"
        )


def follow_progress(events: Generator[Any, None, R], describe: Callable[[Any], tuple[Any, ...] | None]) -> R:
    """Drive a generator of progress events, one tqdm bar (on stderr) per stage; its return value. ``describe``
    maps an event to (stage, done, total), or (stage, done, total, unit) when not images, or None (not shown)."""
    terminal = _Terminal(lambda line: print(line, file=sys.stderr))
    try:
        while True:
            try:
                event = next(events)
            except StopIteration as stop:
                result: R = stop.value
                return result
            if isinstance(event, Note):  # a line worth reading (a damaged feature chunk set aside)
                terminal._close_bar()
                print(event.message, file=sys.stderr)
                continue
            shown = describe(event)
            if shown is not None:
                what, done, total, *unit = shown
                terminal._count(what, done, total, unit[0] if unit else " img")
    finally:
        terminal._close_bar()
