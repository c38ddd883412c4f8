"""The window's menus and toolbar, declared apart from the window: what each entry says, its shortcut and what it
calls (:class:`Slots`, the window's methods). The View menu has one entry per declared tab
(``workbench.app.tabs``); tabs add their own actions to a menu through the workspace (Browse's Select all in Edit)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QComboBox, QLabel, QMainWindow, QMenu

from core.base.version import installed_version
from workbench.app.tabs import DeclaredTab
from workbench.widgets import plain

Key = QKeySequence | QKeySequence.StandardKey | str | None
Slot = Callable[[], object]

GENERAL_KEYS = (
    "Ctrl+N: new catalog · Ctrl+O: open a catalog · Ctrl+Q: quit",
    "Ctrl+I: import a folder · Ctrl+Shift+I: import a manifest · Ctrl+L: manage labels and attributes",
    "Ctrl+Z: undo · Ctrl+Shift+Z or Ctrl+Y: redo · F5: read the catalog again",
)
TAB_KEYS = (
    "",
    "Browse:",
    "Arrow keys: move in the grid · Shift/Ctrl + click or arrows: select several · Ctrl+A: select all",
    "1-9: give the selected images the label with that number · 0: clear their labels of this attribute",
    "In the label list: click picks a label, Enter (or Apply, or a double-click) gives it to the selection",
    "",
    "Label issues: K keep the label · R relabel as suggested · Delete remove the label",
)
ABOUT = (
    "a workbench for long-tailed image labels.\n\nBrowse and fix labels, see the long tail and the class weights "
    "that counter it, train models that cope with it, compare them and review their mistakes."
)
PER_LINE = 6  # tab shortcuts per line of the help


@dataclass(frozen=True)
class Slots:
    """What the window does for the menus' entries."""

    new: Slot
    open: Slot
    fill_recent: Callable[[QMenu], object]
    import_folder: Slot
    import_manifest: Slot
    undo: Slot
    redo: Slot
    manage_labels: Slot
    show_tab: Callable[[str], object]
    refresh: Slot


@dataclass(frozen=True)
class Actions:
    """The entries the window enables with a catalog and relabels as the undo stack changes."""

    import_folder: QAction
    import_manifest: QAction
    manage: QAction
    undo: QAction
    redo: QAction
    undo_tool: QAction  # the toolbar's: its text never changes, so the toolbar never jumps
    redo_tool: QAction
    refresh: QAction

    def need_catalog(self) -> list[QAction]:
        return [self.import_folder, self.import_manifest, self.manage, self.undo, self.redo, self.undo_tool,
                self.redo_tool, self.refresh]  # fmt: skip


def shortcuts_text(tabs: Sequence[DeclaredTab]) -> str:
    """The Keyboard shortcuts help: the window's keys, one entry per tab, then the keys inside tabs."""
    entries = [f"{d.tab.shortcut} {d.tab.title}" for d in tabs]
    lines = [" · ".join(entries[i : i + PER_LINE]) for i in range(0, len(entries), PER_LINE)]
    return "\n".join((*GENERAL_KEYS, *lines, *TAB_KEYS))


def tailor_version() -> str:
    return installed_version() or "(development)"  # a source tree that was never installed


def show_about(window: QMainWindow) -> None:
    plain.inform(window, "About Tailor", f"Tailor {tailor_version()}: {ABOUT}")


def action(window: QMainWindow, text: str, slot: Slot, shortcut: Key = None, tip: str = "") -> QAction:
    made = QAction(text, window)
    if shortcut is not None:
        made.setShortcut(QKeySequence(shortcut))
    if tip:
        made.setStatusTip(tip)
    made.triggered.connect(slot)
    return made


def menu(window: QMainWindow, title: str) -> QMenu:
    """The window's menu titled ``title`` (as created, with its & mnemonic)."""
    found = next((m for m in window.menuBar().findChildren(QMenu) if m.title() == title), None)
    return found if found is not None else window.menuBar().addMenu(title)


def build(window: QMainWindow, slots: Slots, tabs: Sequence[DeclaredTab], attribute: QComboBox) -> Actions:
    """Fill the window's menu bar and its toolbar (with the ``attribute`` chooser)."""
    actions = Actions(
        import_folder=action(window, "Import &folder…", slots.import_folder, "Ctrl+I",
                             "Import a folder with one subfolder per label"),
        import_manifest=action(window, "Import &manifest…", slots.import_manifest, "Ctrl+Shift+I",
                               "Import a CSV or Parquet manifest (path, labels, split)"),
        manage=action(window, "&Manage labels and attributes…", slots.manage_labels, "Ctrl+L"),
        undo=action(window, "&Undo", slots.undo, QKeySequence.StandardKey.Undo),
        redo=action(window, "&Redo", slots.redo, "Ctrl+Shift+Z"),
        undo_tool=action(window, "Undo", slots.undo),
        redo_tool=action(window, "Redo", slots.redo),
        refresh=action(window, "&Refresh", slots.refresh, QKeySequence.StandardKey.Refresh,
                       "Read the catalog again: labels, counts and runs changed by others sharing it (F5)"),
    )  # fmt: skip
    actions.redo.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
    _file_menu(window, slots, actions)
    edit = menu(window, "&Edit")
    edit.addActions([actions.undo, actions.redo])
    edit.addSeparator()
    menu(window, "&Labels").addAction(actions.manage)
    _view_and_help(window, slots, actions, tabs)
    _toolbar(window, actions, attribute)
    return actions


def _file_menu(window: QMainWindow, slots: Slots, actions: Actions) -> None:
    file_menu = menu(window, "&File")
    file_menu.addAction(action(window, "&New catalog…", slots.new, QKeySequence.StandardKey.New))
    file_menu.addAction(action(window, "&Open catalog…", slots.open, QKeySequence.StandardKey.Open))
    recent = file_menu.addMenu("Open &recent")
    recent.aboutToShow.connect(lambda: slots.fill_recent(recent))
    file_menu.addSeparator()
    file_menu.addActions([actions.import_folder, actions.import_manifest])
    file_menu.addSeparator()
    file_menu.addAction(action(window, "&Quit", window.close, "Ctrl+Q"))  # the standard key is empty on some desktops


def _view_and_help(window: QMainWindow, slots: Slots, actions: Actions, tabs: Sequence[DeclaredTab]) -> None:
    view = menu(window, "&View")
    for declared in tabs:
        show = action(window, declared.tab.menu, functools.partial(slots.show_tab, declared.key), declared.tab.shortcut)
        view.addAction(show)
    view.addAction(actions.refresh)
    help_menu = menu(window, "&Help")
    shortcuts = shortcuts_text(tabs)
    help_menu.addAction(action(window, "&Keyboard shortcuts", lambda: plain.inform(window, "Keyboard shortcuts",
                                                                                   shortcuts)))  # fmt: skip
    help_menu.addAction(action(window, "&About Tailor", lambda: show_about(window)))


def _toolbar(window: QMainWindow, actions: Actions, attribute: QComboBox) -> None:
    toolbar = window.addToolBar("Main")
    toolbar.setObjectName("main-toolbar")
    toolbar.setMovable(False)
    toolbar.addWidget(QLabel(" Attribute "))
    toolbar.addWidget(attribute)
    toolbar.addSeparator()
    toolbar.addActions([actions.undo_tool, actions.redo_tool])
    toolbar.addSeparator()
    toolbar.addActions([actions.import_folder, actions.manage, actions.refresh])
