"""Rendering a training run's events on a terminal: a progress bar per epoch, one line per epoch, the result."""

from __future__ import annotations

import json
import sys

from core.errors import TailorError
from core.events import (BatchProgress, Decoding, EpochFinished, FeatureProgress, GanEpoch, Note, RunCancelled,
                         RunFailed, RunFinished, RunStarted)

EXIT_OK, EXIT_FAILED, EXIT_CANCELLED = 0, 1, 130


def _pct(value) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def render_training(events, catalog_location: str, *, as_json: bool, quiet: bool = False) -> int:
    """Draw the events; ``quiet`` (a distributed run's ranks but 0) only drives them and reports failures."""
    from tqdm import tqdm

    from core.catalog import Catalog
    from core.runs import get_run, summary

    if quiet:
        failures = [event.message for event in events if isinstance(event, RunFailed)]
        if failures:
            print(f"tailor train: {failures[0]}", file=sys.stderr)
        return EXIT_FAILED if failures else EXIT_OK
    bar = None
    run_id, status, failure = 0, "running", None
    say = (lambda text: print(text, file=sys.stderr)) if as_json else print
    try:
        for event in events:
            run_id = event.run_id or run_id
            if isinstance(event, RunStarted):
                say(f"run {event.run_id}: {event.loss} on '{event.attribute}' ({event.kind_of_attribute}-label, "
                    f"{len(event.labels)} labels) with {event.backbone} on {event.device}; {event.train_images:,} "
                    f"train / {event.val_images:,} val / {event.test_images:,} test images ({event.split_source} "
                    f"split); files in {event.directory}")
            elif isinstance(event, Note):
                say(f"note: {event.message}")
            elif isinstance(event, Decoding) and event.done == event.total:
                say(f"decoded {event.total:,} images into memory")
            elif isinstance(event, FeatureProgress) and event.done == event.total:
                say(f"features of {event.total:,} images {'read from the cache' if event.cached else 'extracted'}")
            elif isinstance(event, GanEpoch):
                say(f"phase 2 epoch {event.epoch + 1}: losses Q {event.q_loss:.4f}, D {event.d_loss:.4f}, "
                    f"G {event.g_loss:.4f}")
            elif isinstance(event, BatchProgress):
                if bar is None:
                    bar = tqdm(total=event.batches, desc=f"epoch {event.epoch + 1}/{event.epochs}", unit=" batch",
                               file=sys.stderr, disable=None, leave=False, dynamic_ncols=True)
                bar.set_postfix(loss=f"{event.loss:.4f}", img_s=f"{event.images_per_second:.0f}")
                bar.update(event.batch - bar.n)
            elif isinstance(event, EpochFinished):
                if bar is not None:
                    bar.close()
                    bar = None
                m = event.metrics
                say(f"epoch {event.epoch + 1}/{event.epochs}: train loss {event.train_loss:.4f}, test loss "
                    f"{event.test_loss:.4f}, top-1 {_pct(m['top1'])}, ACSA {_pct(m['acsa'])}, GM {_pct(m['gm'])}, "
                    f"macro AP {_pct(m['macro_ap'])} ({event.seconds:.1f} s, lr {event.lr:.2g})")
            elif isinstance(event, RunFinished):
                status = "finished"
            elif isinstance(event, RunFailed):
                status, failure = "failed", event.message
            elif isinstance(event, RunCancelled):
                status = "cancelled"
    except KeyboardInterrupt:
        events.close()  # records the run as cancelled
        status = "cancelled"
    finally:
        if bar is not None:
            bar.close()
    if not run_id:  # failed before a run existed (bad attribute, bad config)
        raise TailorError(failure or "training did not start")
    with Catalog(catalog_location) as catalog:
        result = summary(get_run(catalog, run_id))
    if as_json:
        print(json.dumps(result, indent=2))
    elif status == "finished":
        m = result["metrics"]
        print(f"run {run_id} finished in {result['seconds']:.1f} s ({result['images_per_second']:.0f} images/s); "
              f"last epoch: top-1 {_pct(m['top1'])}, ACSA {_pct(m['acsa'])}, GM {_pct(m['gm'])}, "
              f"macro AP {_pct(m['macro_ap'])}")
        best = result.get("best")
        if best:
            print(f"best epoch {best['epoch'] + 1} by {best['by']} on the {best['selected_on']} split"
                  f"{' (optimistic: chosen on the test set)' if best['selected_on'] == 'test' else ''}: "
                  f"top-1 {_pct(best['top1'])}, ACSA {_pct(best['acsa'])}, macro AP {_pct(best['macro_ap'])}")
    if status == "failed":
        print(f"tailor train: run {run_id} failed: {failure}", file=sys.stderr)
        return EXIT_FAILED
    if status == "cancelled":
        print(f"tailor train: run {run_id} cancelled; continue it with --resume {run_id}", file=sys.stderr)
        return EXIT_CANCELLED
    return EXIT_OK
