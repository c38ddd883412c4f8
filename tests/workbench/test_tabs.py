"""The window's tabs are the declarations in ``workbench/tabs/`` (``TAB = Tab(...)``), read without importing: each
one matches what its module says once imported, every module there is a tab (so the import-linter's independence
contract, ``workbench.tabs.*``, covers exactly the tabs), and a new module with a declaration is a new tab."""

from __future__ import annotations

import importlib
import tomllib
from pathlib import Path

import pytest

from workbench.app.tabs import declared_tabs
from workbench.viewmodels.tab import Tab

ROOT = Path(__file__).resolve().parents[2]


def test_each_declaration_read_from_source_is_the_one_its_module_defines():
    declared = declared_tabs()
    keys = ["browser", "imbalance", "training", "runs", "review", "issues", "matrix", "label_next", "map"]
    assert [d.key for d in declared] == keys
    for d in declared:
        module = importlib.import_module(f"workbench.tabs.{d.key}")
        assert d.tab == module.TAB
        assert isinstance(getattr(module, d.tab.view), type)
    assert len({d.tab.position for d in declared}) == len({d.tab.shortcut for d in declared}) == len(declared)


def test_every_module_of_the_tabs_package_is_a_tab_and_tabs_are_independent():
    modules = sorted(p.stem for p in (ROOT / "workbench" / "tabs").glob("*.py") if p.stem != "__init__")
    assert modules == sorted(d.key for d in declared_tabs())  # a pane belongs in workbench/views/
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    contracts = config["tool"]["importlinter"]["contracts"]
    assert any(c["type"] == "independence" and c["modules"] == ["workbench.tabs.*"] for c in contracts)


def test_a_new_module_with_a_declaration_is_a_new_tab_in_its_position(tmp_path):
    (tmp_path / "colours.py").write_text(
        '"""A tab."""\n\nimport numpy\n\nTAB = Tab(\n    title="Colours",\n    menu="&Colours",\n'
        '    shortcut="Ctrl+8",\n    position=0,\n    view="ColoursView",\n)\n'
    )
    (tmp_path / "pane.py").write_text('"""A pane of a tab: no declaration."""\n')
    (tmp_path / "runs.py").write_text(
        'TAB = Tab(title="Runs", menu="R&uns", shortcut="Ctrl+4", position=4, view="R")\n'
    )
    found = declared_tabs(tmp_path)
    assert [(d.key, d.tab) for d in found] == [
        ("colours", Tab(title="Colours", menu="&Colours", shortcut="Ctrl+8", position=0, view="ColoursView")),
        ("runs", Tab(title="Runs", menu="R&uns", shortcut="Ctrl+4", position=4, view="R")),
    ]


def test_a_declaration_that_is_not_literals_is_refused_with_its_line(tmp_path):
    (tmp_path / "odd.py").write_text(
        'TITLE = "Odd"\nTAB = Tab(title=TITLE, menu="&Odd", shortcut="", position=9, view="V")\n'
    )
    with pytest.raises(ValueError, match="TAB = Tab\\(title=TITLE"):
        declared_tabs(tmp_path)
