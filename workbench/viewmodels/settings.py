"""Persistent window settings (QSettings, INI format) and where thumbnails are cached.

Tests point QSettings at a temporary folder (``QSettings.setPath``) and ``TAILOR_CACHE_DIR`` at another one, so
nothing a test does reaches the user's real settings or cache.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from PySide6.QtCore import QSettings, QStandardPaths

MAX_RECENT = 8


def settings() -> QSettings:
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, "Tailor", "workbench")


def train_settings() -> dict:
    """The Train tab's settings of the last session (empty the first time, or when they cannot be read)."""
    try:
        value = json.loads(str(settings().value("train/settings", "{}")))
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def save_train_settings(values: dict) -> None:
    settings().setValue("train/settings", json.dumps(values))


def recent_catalogs() -> list[str]:
    value = settings().value("recent", [])
    if isinstance(value, str):  # QSettings returns a lone string for a one-item list
        value = [value]
    return [str(v) for v in value] if isinstance(value, list) else []


def add_recent(location: str) -> list[str]:
    items = [location] + [item for item in recent_catalogs() if item != location]
    settings().setValue("recent", items[:MAX_RECENT])
    return items[:MAX_RECENT]


def thumbnail_cache_dir() -> Path:
    configured = os.environ.get("TAILOR_CACHE_DIR")
    base = (
        Path(configured)
        if configured
        else Path(QStandardPaths.writableLocation(QStandardPaths.StandardLocation.GenericCacheLocation)) / "tailor"
    )
    return base / "thumbnails"
