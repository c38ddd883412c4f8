"""What a long job the window runs reports: :class:`Progress`, one line of text and a count.

A job's generator turns its core events into these in the worker thread, where the events' modules (with torch) are
already imported, so the GUI thread reads plain data and never tells events apart by their class names.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Progress:
    text: str
    done: int
    total: int  # 0: unknown (a busy indicator)


def described(
    events: Generator[Any, None, T], describe: Callable[[Any], Progress | None]
) -> Generator[Progress, None, T]:
    """Yield ``describe(event)`` for each event ``events`` yields (those it describes), then return what it returns."""
    while True:
        try:
            event = next(events)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        progress = describe(event)
        if progress is not None:
            yield progress


def count(template: str, done: int, total: int) -> Progress:
    """``template`` formatted with ``done`` and ``total`` (thousands separated)."""
    return Progress(template.format(done=f"{done:,}", total=f"{total:,}"), done, total)
