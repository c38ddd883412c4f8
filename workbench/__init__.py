"""Tailor PySide6 workbench."""
