"""User-facing errors.

A :class:`TailorError` carries one line that names what was wrong (file, row, column or field) and is shown to
the user as is: the CLI prints it and exits with status 2, the window shows it in a message box. Anything else
that escapes is a bug.
"""

from __future__ import annotations


class TailorError(Exception):
    """An error caused by the user's input, with a one-line message meant for that user."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:  # pragma: no cover - trivial
        return self.message


class ManifestError(TailorError):
    """A manifest that cannot be imported; the message names the file, the row and the column."""

    def __init__(
        self, file: str, message: str, *, row: int | None = None, line: int | None = None, column: str | None = None
    ) -> None:
        where = [file]
        if row is not None:
            where.append(f"row {row}" + (f" (line {line})" if line is not None else ""))
        if column is not None:
            where.append(f"column '{column}'")
        super().__init__(", ".join(where) + f": {message}")
        self.file, self.row, self.line, self.column = file, row, line, column


class StorageError(TailorError):
    """The catalog's database could not be read or written (full disk, read-only, locked, damaged, connection
    lost); the transaction was rolled back. ``reason`` is one of :data:`STORAGE_REASONS`."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


STORAGE_REASONS = ("full", "read-only", "io", "locked", "damaged", "connection", "journal", "other")


class DiskFull(TailorError, OSError):
    """A file could not be written because its disk is full (nothing half-written is left); an ``OSError`` too, so
    callers that treat any write failure alike still do."""

    def __init__(self, message: str, filename: object = None) -> None:
        OSError.__init__(self, 28, message, filename)  # errno.ENOSPC
        self.message = message

    def __str__(self) -> str:
        return self.message
