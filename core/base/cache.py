"""Where Tailor keeps what it can compute again: ``$XDG_CACHE_HOME/tailor`` (``~/.cache/tailor``)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_folder(*parts: str) -> Path:
    """``$XDG_CACHE_HOME/tailor/PARTS`` (not created)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache", "tailor", *parts)
