"""What a person decided on each image of a queue tab (Label issues: kept, relabelled, removed; Label next: yes, no,
skipped), kept in step with the undo stack: a decision undone opens its row again, one redone comes back as it was,
and an image labelled elsewhere meanwhile (Browse) reads "edited". The tab shows each change (its table's last
column) through ``show``."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.catalog.edits import Edit


class QueueDecisions:
    def __init__(self, show: Callable[[int, str], None]) -> None:
        self._show = show  # (image id, its decision or "") -> the tab shows it
        self._ids: frozenset[int] = frozenset()
        self.decided: dict[int, str] = {}  # image id -> its decision now
        self._given: dict[int, str] = {}  # the decisions made in this queue: what a redo brings back

    def reset(self, image_ids: Iterable[int]) -> None:
        """A new queue of these images, nothing decided."""
        self._ids, self.decided, self._given = frozenset(image_ids), {}, {}

    def is_open(self, image_id: int) -> bool:
        return image_id not in self.decided

    def decide(self, image_id: int, decision: str) -> None:
        """The person decided (the edit that records it was pushed on the undo stack)."""
        self._given[image_id] = decision
        self.mark(image_id, decision)

    def mark(self, image_id: int, decision: str | None) -> None:
        """Show ``decision`` on the image's row (None: the row is open again)."""
        if decision is None:
            self.decided.pop(image_id, None)
        else:
            self.decided[image_id] = decision
        self._show(image_id, decision or "")

    def edited(self, edit: Edit) -> None:
        """An edit was applied or redone: its images in the queue are decided (as decided here, else "edited")."""
        for image_id in self._ids.intersection(edit.images):
            if image_id not in self.decided:
                self.mark(image_id, self._given.get(image_id, "edited"))

    def undone(self, edit: Edit) -> None:
        """An edit was undone: its images in the queue are open again."""
        for image_id in self._ids.intersection(edit.images):
            self.mark(image_id, None)
