"""Variants as check boxes, all visible at once in three columns: the Train tab's and the Matrix tab's choice."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from PySide6.QtWidgets import QCheckBox, QGridLayout, QWidget


def variant_checks(
    variants: Iterable[str],
    *,
    checked: Callable[[str], bool],
    tips: dict[str, str],
    changed: Callable[[], None],
    tip: str | None = None,
    spacing: tuple[int, int] | None = None,
) -> tuple[QWidget, dict[str, QCheckBox]]:
    """The grid of check boxes (``tips``: a tooltip per variant that needs one; ``changed`` on any toggle;
    ``spacing``: horizontal and vertical, else the style's) and the boxes by variant."""
    box = QWidget(toolTip=tip) if tip else QWidget()
    grid = QGridLayout(box)
    grid.setContentsMargins(0, 0, 0, 0)
    if spacing is not None:
        grid.setHorizontalSpacing(spacing[0])
        grid.setVerticalSpacing(spacing[1])
    boxes: dict[str, QCheckBox] = {}
    for k, variant in enumerate(variants):
        check = QCheckBox(variant, checked=checked(variant))
        if variant in tips:
            check.setToolTip(tips[variant])
        check.toggled.connect(lambda _on: changed())
        grid.addWidget(check, k // 3, k % 3)
        boxes[variant] = check
    return box, boxes


def check_only(boxes: dict[str, QCheckBox], variants: Iterable[str]) -> None:
    """Check exactly these variants."""
    wanted = set(variants)
    for variant, check in boxes.items():
        check.setChecked(variant in wanted)
