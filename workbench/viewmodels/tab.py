"""How a tab of the window declares itself: a module of ``workbench/tabs/`` with, at its top level,

    TAB = Tab(title="Runs", menu="R&uns", shortcut="Ctrl+4", position=4, view="RunsView")

in literals only. The window reads these declarations without importing the modules (``workbench.app.tabs``), so
it shows every tab and its menu entry before its first paint, and imports a tab's module (with its plots, NumPy,
SQLAlchemy) the first time the tab is shown. The view class is built as ``View(workspace)``
(:class:`workbench.viewmodels.workspace.Workspace`) and attaches itself to each catalog the window opens; a tab
that takes requests from other tabs (:mod:`workbench.viewmodels.requests`) has a ``handle(request)`` method.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Tab:
    title: str  # on the tab
    menu: str  # the View menu's entry, with its & mnemonic
    shortcut: str  # the View menu's shortcut, e.g. "Ctrl+4"
    position: int  # tabs are shown in this order
    view: str  # the class of the module that is the tab's page
