"""Finding the files of ``resources/`` (the source tree, or the folder a packaged app unpacks to)."""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path

from PySide6.QtGui import QIcon


def resources_dir() -> Path:
    bundled = getattr(sys, "_MEIPASS", None)  # PyInstaller's unpack folder
    candidates = ([Path(bundled) / "resources"] if bundled else []) + [
        Path(__file__).resolve().parents[2] / "resources"  # workbench/app/ -> the repository root
    ]
    return next((path for path in candidates if path.is_dir()), candidates[-1])


def resource(name: str) -> Path:
    return resources_dir() / name


@cache
def app_icon() -> QIcon:
    return QIcon(str(resource("icons/tailor.svg")))


def stylesheet() -> str:
    try:
        return resource("style.qss").read_text(encoding="utf-8")
    except OSError:
        return ""
