"""Tailor's installed version, one helper for the CLI and the window."""

from __future__ import annotations


def installed_version() -> str | None:
    """The installed distribution's version; None in a source tree that was never installed."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("tailor")
    except PackageNotFoundError:
        return None
