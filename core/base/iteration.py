"""Iteration helpers shared by every layer: running a generator to its end, and slicing work into chunks."""

from __future__ import annotations

from collections.abc import Generator, Iterator, Sequence
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

IDS_PER_QUERY = 500  # ids in one SQL ``IN (...)``: below the 999 host parameters of old SQLite builds
ROWS_PER_WRITE = 5000  # rows in one bulk INSERT / UPDATE


def drain(generator: Generator[Any, Any, R]) -> R:
    """Run a generator to its end, dropping what it yields; its return value."""
    while True:
        try:
            next(generator)
        except StopIteration as stop:
            result: R = stop.value
            return result


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """``items`` in consecutive slices of at most ``size``."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
