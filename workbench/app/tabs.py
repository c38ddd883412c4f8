"""The tabs of the window, read from the declarations of ``workbench/tabs/`` (see :mod:`workbench.viewmodels.tab`).

Reading a declaration parses its statement from the module's source: nothing is imported until a tab is built.
"""

from __future__ import annotations

import ast
import importlib
import re
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtWidgets import QWidget

import workbench.tabs
from workbench.viewmodels.tab import Tab
from workbench.viewmodels.workspace import Workspace

TABS = Path(workbench.tabs.__file__).parent
DECLARATION = re.compile(r"^TAB = Tab\(", re.MULTILINE)
MAX_LINES = 12  # of a declaration


@dataclass(frozen=True)
class DeclaredTab:
    key: str  # the module's name in workbench.tabs
    tab: Tab

    def build(self, workspace: Workspace) -> QWidget:
        module = importlib.import_module(f"{workbench.tabs.__name__}.{self.key}")
        view: QWidget = getattr(module, self.tab.view)(workspace)
        return view


def _declaration(source: str) -> Tab | None:
    match = DECLARATION.search(source)
    if match is None:
        return None
    lines = source[match.start() :].splitlines()
    for end in range(1, min(len(lines), MAX_LINES) + 1):
        try:
            statement = ast.parse("\n".join(lines[:end])).body[0]
        except SyntaxError:
            continue
        assert isinstance(statement, ast.Assign) and isinstance(statement.value, ast.Call)
        try:
            return Tab(**{k.arg: ast.literal_eval(k.value) for k in statement.value.keywords if k.arg})
        except (ValueError, TypeError):
            break
    raise ValueError(f"a tab's declaration is not at most {MAX_LINES} lines of keyword literals: {lines[0]}")


def declared_tabs(folder: Path = TABS) -> list[DeclaredTab]:
    """Every tab declared in ``folder``, in their positions' order."""
    found = []
    for path in sorted(folder.glob("*.py")):
        tab = _declaration(path.read_text(encoding="utf-8"))
        if tab is not None:
            found.append(DeclaredTab(path.stem, tab))
    return sorted(found, key=lambda declared: declared.tab.position)
