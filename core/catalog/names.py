"""The one rule for the names a catalog stores (attributes, labels), the same on SQLite and PostgreSQL, and how
any text from a user's files is quoted in a one-line message.

A name is trimmed of surrounding white space and must then be non-empty, at most :data:`MAX_NAME` characters and
free of control characters (NUL, tabs, line breaks and the like): such a name cannot be shown on one line, typed
back, or stored on PostgreSQL (NUL). Everything that creates a name (imports, the label editor) goes through
:func:`check_name`.
"""

from __future__ import annotations

import unicodedata

from core.base.errors import TailorError

MAX_NAME = 200
MAX_PATH = 4096  # the catalog's path column, and PATH_MAX on Linux


def name_problem(name: str, what: str = "name") -> str | None:
    """Why ``name`` (already trimmed) cannot be a name, or None."""
    if not name:
        return f"{what} is empty"
    if len(name) > MAX_NAME:
        return f"{what} is {len(name):,} characters long, over the limit of {MAX_NAME}"
    bad = next((c for c in name if unicodedata.category(c) in ("Cc", "Zl", "Zp")), None)
    if bad is not None:
        return f"{what} {shown(name)} contains the control character U+{ord(bad):04X}"
    return None


def check_name(name: str, what: str) -> str:
    """``name`` trimmed, or a TailorError naming what is wrong with it (``what``: "label name", ...)."""
    name = name.strip()
    problem = name_problem(name, f"{what}")
    if problem is not None:
        raise TailorError(problem)
    return name


def shown(text: object, limit: int = 80) -> str:
    """Any text quoted for a one-line message: control characters escaped, undecodable bytes as \\x.., long
    text cut in the middle with its length."""
    value = str(text).encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    value = "".join(c if unicodedata.category(c) not in ("Cc", "Zl", "Zp") else repr(c)[1:-1] for c in value)
    if len(value) > limit:
        value = f"{value[: limit // 2]}…{value[-limit // 4 :]} ({len(str(text)):,} characters)"
    return f"'{value}'"
