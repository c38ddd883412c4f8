"""Annotation edits as undoable commands: ``QUndoStack`` in front, :mod:`core.catalog.edits` on the writer thread.

Pushing a command returns at once; the writer thread applies it in one transaction, then :attr:`Editor.edited`
tells the views what changed. Undo and redo are queued on the same thread, so they always run after the edit
they reverse. An edit that fails (a conflict with another user, a database error) is reported by
:attr:`Editor.failed` and removed from the stack.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack
from shiboken6 import isValid

from core.catalog import edits
from core.catalog.edits import Edit
from core.catalog.store import Catalog
from workbench.workers.tasks import SerialWriter


class EditCommand(QUndoCommand):
    def __init__(self, editor: Editor, build: Callable[[Catalog], Edit], text: str) -> None:
        super().__init__(text)
        self.editor = editor
        self.build = build
        self.edit: Edit | None = None

    def redo(self) -> None:
        if self.edit is None:

            def first(catalog: Catalog) -> Edit:
                self.edit = self.build(catalog)
                return self.edit

            self.editor.submit(first, (self, "do"))
        else:
            edit = self.edit

            def again(catalog: Catalog) -> Edit:
                edits.reapply(catalog, edit)
                return edit

            self.editor.submit(again, (self, "redo"))

    def undo(self) -> None:
        def revert(catalog: Catalog) -> Edit | None:
            if self.edit is None:  # the first application failed: nothing to take back
                return None
            edits.revert(catalog, self.edit)
            return self.edit

        self.editor.submit(revert, (self, "undo"))


class Editor(QObject):
    """Owns the undo stack and the writer thread of one open catalog."""

    edited = Signal(object)  # core.catalog.edits.Edit, after it was applied, undone or redone
    undone = Signal(object)  # the same Edit, after ``edited``, when it was undone
    failed = Signal(str)

    def __init__(self, catalog_location: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.stack = QUndoStack(self)
        self.writer = SerialWriter(catalog_location, self)
        self.writer.done.connect(self._done)
        self.writer.failed.connect(self._failed)
        self._outstanding = 0  # jobs submitted whose result the GUI thread has not handled yet

    def submit(self, job: Callable[[Catalog], Edit | None], tag: tuple[QUndoCommand, str]) -> None:
        self._outstanding += 1
        self.writer.submit(job, tag)

    def pending(self) -> int:
        """Edits, undos and redos not yet applied and reported (``edited`` / ``failed``) on the GUI thread."""
        return self._outstanding

    def push(self, build: Callable[[Catalog], Edit], text: str) -> EditCommand:
        command = EditCommand(self, build, text)
        self.stack.push(command)
        return command

    # conveniences used by the browser, the label manager and (later) the review gallery
    def assign(
        self,
        image_ids: list[int],
        label_id: int,
        label_name: str,
        source: str = "human",
        seen: dict[int, tuple[str, ...]] | None = None,
    ) -> None:
        """``seen``: the labels the user saw on the images (an image relabelled elsewhere meanwhile fails it)."""
        if image_ids:
            self.push(
                lambda c: edits.assign(c, image_ids, label_id, source=source, seen=seen),
                f"label {len(image_ids):,} '{label_name}'",
            )

    def remove(self, image_ids: list[int], label_id: int, label_name: str) -> None:
        if image_ids:
            self.push(lambda c: edits.remove(c, image_ids, label_id), f"remove '{label_name}'")

    def clear(self, image_ids: list[int], attribute_id: int, attribute_name: str) -> None:
        if image_ids:
            self.push(lambda c: edits.clear(c, image_ids, attribute_id), f"clear '{attribute_name}'")

    def flush(self, timeout: float = 30.0) -> bool:
        return self.writer.flush(timeout)

    def close(self) -> None:
        self.writer.close()

    def _done(self, tag: tuple[QUndoCommand, str], result: Any) -> None:  # an Edit (core.catalog.edits) or None
        try:
            self._report(tag, result)
        finally:
            self._outstanding -= 1

    def _report(self, tag: tuple[QUndoCommand, str], result: Any) -> None:
        command, action = tag
        # a command undone and then replaced by a new edit is deleted by the stack while its job was queued
        if action == "do" and result is not None and isValid(command):
            command.setText(result.description)
        if result is not None:
            self.edited.emit(result)
            if action == "undo":
                self.undone.emit(result)

    def _failed(self, tag: tuple[QUndoCommand, str], message: str) -> None:
        try:
            self._report_failure(tag, message)
        finally:
            self._outstanding -= 1

    def _report_failure(self, tag: tuple[QUndoCommand, str], message: str) -> None:
        command, action = tag
        if not isValid(command):  # no longer on the stack (see _done): nothing to take off it
            self.failed.emit(message)
            return
        if action == "do":
            # take the command off the stack: undoing an obsolete command deletes it
            command.setObsolete(True)
            if self.stack.command(self.stack.index() - 1) is command:
                self.stack.undo()
        else:
            # the catalog no longer matches the history (edited elsewhere): keep the catalog, drop the history
            self.stack.clear()
            message += " (undo history cleared)"
        self.failed.emit(message)
