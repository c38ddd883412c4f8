"""Fractions shown as percentages with one decimal, and an interval beside when given: "93.0 [90.0–96.0]"."""

from __future__ import annotations


def percent_text(value: float | None, ci: list[float] | None = None) -> str:
    text = "–" if value is None else f"{100 * value:.1f}"
    return text + (f" [{100 * ci[0]:.1f}–{100 * ci[1]:.1f}]" if ci else "")
