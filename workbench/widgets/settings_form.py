"""A form's settings declared once, as Orange declares a widget's with ``Setting(...)``: the key a setting is
remembered under, how its widget's value is read and set, and the field of a configuration it fills. What a form
remembers between sessions, how it restores that, how it shows a configuration's defaults and the configuration it
asks for are all derived from the one list (:func:`remembered`, :func:`restore`, :func:`show`, :func:`fields`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from PySide6.QtWidgets import QAbstractButton, QComboBox, QDoubleSpinBox, QLineEdit, QSpinBox, QWidget


def _same(value: Any) -> Any:
    return value


@dataclass(frozen=True)
class Setting:
    key: str  # remembered under this name
    get: Callable[[], Any]  # the widget's value
    set: Callable[[Any], None]  # raises TypeError / ValueError for a value it cannot show
    field: str | None = None  # the configuration's field it fills (None: remembered only)
    config: str = "train"  # which configuration: "train" (TrainConfig), "oversample" (OversampleConfig)
    remembered: bool = True
    to_field: Callable[[Any], Any] = _same  # the widget's value -> the field's (raises ValueError)
    from_field: Callable[[Any], Any] = _same  # the field's value -> the widget's


def bound(widget: QWidget) -> tuple[Callable[[], Any], Callable[[Any], None]]:
    """How a widget's value is read and set: spin boxes, combo boxes (by text), line edits, check boxes."""
    if isinstance(widget, QSpinBox):
        return widget.value, lambda value: widget.setValue(int(value))
    if isinstance(widget, QDoubleSpinBox):
        return widget.value, lambda value: widget.setValue(float(value))
    if isinstance(widget, QComboBox):
        return widget.currentText, lambda value: _choose(widget, str(value))
    if isinstance(widget, QLineEdit):
        return widget.text, lambda value: widget.setText(str(value))
    if isinstance(widget, QAbstractButton):
        return widget.isChecked, lambda value: widget.setChecked(value is True)
    raise TypeError(f"no value binding for {type(widget).__name__}")


def _choose(combo: QComboBox, text: str) -> None:
    index = combo.findText(text)
    if index < 0:
        raise ValueError(f"{text!r} is not a choice")
    combo.setCurrentIndex(index)


def remembered(settings: Iterable[Setting]) -> dict[str, Any]:
    return {s.key: s.get() for s in settings if s.remembered}


def restore(settings: Iterable[Setting], saved: dict[str, Any]) -> None:
    """Put back what :func:`remembered` gave; unknown keys and values a widget cannot show are skipped."""
    by_key = {s.key: s for s in settings if s.remembered}
    for key, value in saved.items():
        if key in by_key:
            try:
                by_key[key].set(value)
            except (TypeError, ValueError):
                continue


def show(settings: Iterable[Setting], config: object, which: str = "train") -> None:
    """Show a configuration's values (a device's defaults) in the settings that fill its fields."""
    for s in settings:
        if s.field is not None and s.config == which:
            s.set(s.from_field(getattr(config, s.field)))


def fields(settings: Iterable[Setting], which: str = "train") -> dict[str, Any]:
    """The configuration's fields the settings fill (raises ValueError for a value that is not one)."""
    return {s.field: s.to_field(s.get()) for s in settings if s.field is not None and s.config == which}
