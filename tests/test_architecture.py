"""The layout contracts: core is headless and never imports Qt, plotting widgets or the workbench; core and the
workbench keep their layers (pyproject.toml's import-linter contracts); no module imports itself in a cycle.

Each rule is also shown to fail: a scratch copy of the tree gets one wrong import and the checker must object."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[1]
QT_MODULES = ("PySide6", "shiboken6", "pyqtgraph", "superqt", "workbench")
PACKAGES = ("core", "workbench")


def _lint_imports(cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("lint-imports")
    return subprocess.run([str(exe)], cwd=cwd, capture_output=True, text=True, timeout=300, env=env)


def _scratch(tmp_path: Path) -> Path:
    scratch = tmp_path / "repo"
    for package in PACKAGES:
        shutil.copytree(ROOT / package, scratch / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", scratch / "pyproject.toml")
    return scratch


def _lint_scratch(scratch: Path) -> subprocess.CompletedProcess:
    return _lint_imports(scratch, env={"PYTHONPATH": str(scratch), "PATH": "/usr/bin:/bin"})


def import_cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Groups of our modules that import each other in a circle (strongly connected components, Tarjan)."""
    ours = {m for m in graph.modules if m.split(".")[0] in PACKAGES}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for other in graph.find_modules_directly_imported_by(module) & ours:
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            group = []
            while True:
                other = stack.pop()
                group.append(other)
                if other == module:
                    break
            if len(group) > 1:
                cycles.append(sorted(group))

    for module in sorted(ours):
        if module not in index:
            visit(module)
    return cycles


def test_import_linter_contracts_hold():
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "5 kept, 0 broken" in result.stdout


def test_no_module_takes_part_in_an_import_cycle():
    assert import_cycles(grimp.build_graph(*PACKAGES)) == []


def test_the_cycle_check_finds_a_cycle_a_wrong_import_would_make():
    graph = grimp.build_graph(*PACKAGES)
    graph.add_import(importer="core.catalog.schema", imported="core.catalog.runs")  # runs imports schema
    assert any({"core.catalog.runs", "core.catalog.schema"} <= set(group) for group in import_cycles(graph))


def test_importing_every_core_module_loads_no_qt():
    modules = sorted(
        p.relative_to(ROOT).with_suffix("").as_posix().replace("/", ".")
        for p in (ROOT / "core").rglob("*.py")
        if "migrations" not in p.parts
    )
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        f"loaded = [m for m in sys.modules if m.split('.')[0] in {QT_MODULES!r}]\n"
        "print(loaded)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_contract_would_catch_a_qt_import(tmp_path):
    """Copy core into a scratch tree, add a forbidden import, and check the linter fails there."""
    scratch = _scratch(tmp_path)
    (scratch / "core" / "leak.py").write_text("from PySide6 import QtCore  # noqa\n")
    result = _lint_scratch(scratch)
    assert result.returncode != 0
    assert "core.leak -> PySide6" in result.stdout


@pytest.mark.parametrize(
    ("module", "wrong", "broken"),
    [
        ("core/catalog/runs.py", "import core.training.loop", "core.catalog.runs -> core.training.loop"),
        ("core/analysis/metrics.py", "import core.ingest.images", "core.analysis.metrics -> core.ingest.images"),
        (
            "workbench/workers/tasks.py",
            "import workbench.tabs.runs",
            "workbench.workers.tasks -> workbench.tabs.runs",
        ),
        ("workbench/tabs/runs.py", "import workbench.tabs.review", "workbench.tabs.runs -> workbench.tabs.review"),
    ],
)
def test_the_layers_and_independence_contracts_catch_a_wrong_import(tmp_path, module, wrong, broken):
    scratch = _scratch(tmp_path)
    path = scratch / module
    path.write_text(path.read_text() + f"\n{wrong}  # noqa\n")
    result = _lint_scratch(scratch)
    assert result.returncode != 0
    assert broken in result.stdout, result.stdout


def test_the_torch_contract_catches_torch_in_the_catalog(tmp_path):
    scratch = _scratch(tmp_path)
    path = scratch / "core" / "catalog" / "browse.py"
    path.write_text(path.read_text() + "\nimport torch  # noqa\n")
    result = _lint_scratch(scratch)
    assert result.returncode != 0
    assert "core.catalog.browse -> torch" in result.stdout


def test_no_class_or_module_defines_a_name_twice():
    """A second ``def`` of a name silently replaces the first (the Imbalance tab once lost its table builder to a
    method of the same name); ruff does not see it in class bodies."""
    import ast

    twice = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            tree = ast.parse(path.read_text())
            scopes = [tree, *(node for node in ast.walk(tree) if isinstance(node, ast.ClassDef))]
            for scope in scopes:
                names = [n.name for n in scope.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
                twice += [f"{path.relative_to(ROOT)}: {name}" for name in sorted(set(names)) if names.count(name) > 1]
    assert twice == []
