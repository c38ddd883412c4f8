"""Fractions shown as percentages, one way everywhere (the CLI, the exports, the window): one decimal, "–" for no
value, an interval as "[low–high]", a difference with its sign."""

from __future__ import annotations

from collections.abc import Sequence

MISSING = "–"


def percent(value: float | None, unit: str = "") -> str:
    """``0.641`` -> ``"64.1"`` (``unit="%"``: ``"64.1%"``); ``None`` -> ``"–"``."""
    return MISSING if value is None else f"{100 * value:.1f}{unit}"


def chance(value: float | None) -> str:
    """A probability that may be tiny, readably: ``0.42`` -> ``"42%"``, ``0.0031`` -> ``"0.31%"``,
    ``6.87e-06`` -> ``"< 0.01%"``; what the label-issue queue shows as a label's quality."""
    if value is None:
        return MISSING
    if value >= 0.0995:
        return f"{100 * value:.0f}%"
    if value >= 0.0001:
        return f"{100 * value:.2g}%"
    return "< 0.01%"


def points(delta: float | None) -> str:
    """A difference of fractions in percentage points with its sign: ``0.018`` -> ``"+1.8"``."""
    return MISSING if delta is None else f"{100 * delta:+.1f}"


def span(ci: Sequence[float] | None) -> str:
    """An interval of fractions: ``[0.602, 0.68]`` -> ``"60.2–68.0"`` ("" without one)."""
    return "" if not ci else f"{100 * ci[0]:.1f}–{100 * ci[1]:.1f}"


def percent_text(value: float | None, ci: Sequence[float] | None = None, unit: str = "") -> str:
    """The value with its interval when there is one: ``"64.1 [60.2–68.0]"``."""
    return percent(value, unit) + (f" [{span(ci)}]" if ci else "")


def points_span(ci: Sequence[float]) -> str:
    """An interval of a difference in percentage points, with signs: ``"[-0.9, +1.0]"``."""
    return f"[{100 * ci[0]:+.1f}, {100 * ci[1]:+.1f}]"


def spread(mean: float | None, sd: float | None) -> str:
    """A mean over seeds and its standard deviation: ``"64.1 ± 2.0"``."""
    return MISSING if mean is None else f"{100 * mean:.1f} ± {100 * (sd or 0):.1f}"
