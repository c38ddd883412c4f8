"""The layout contract: core is headless and never imports Qt, plotting widgets or the workbench."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
QT_MODULES = ("PySide6", "shiboken6", "pyqtgraph", "superqt", "workbench")


def test_import_linter_contract_holds():
    exe = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(exe)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 kept, 0 broken" in result.stdout


def test_importing_every_core_module_loads_no_qt():
    modules = sorted(p.relative_to(ROOT).with_suffix("").as_posix().replace("/", ".")
                     for p in (ROOT / "core").rglob("*.py") if "migrations" not in p.parts)
    code = ("import importlib, sys\n"
            f"for name in {modules!r}: importlib.import_module(name)\n"
            f"loaded = [m for m in sys.modules if m.split('.')[0] in {QT_MODULES!r}]\n"
            "print(loaded)\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_contract_would_catch_a_qt_import(tmp_path):
    """Copy core into a scratch tree, add a forbidden import, and check the linter fails there."""
    import shutil

    scratch = tmp_path / "repo"
    shutil.copytree(ROOT / "core", scratch / "core", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "workbench", scratch / "workbench", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", scratch / "pyproject.toml")
    (scratch / "core" / "leak.py").write_text("from PySide6 import QtCore  # noqa\n")
    exe = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(exe)], cwd=scratch, capture_output=True, text=True, timeout=300,
                            env={"PYTHONPATH": str(scratch), "PATH": "/usr/bin:/bin"})
    assert result.returncode != 0
    assert "core.leak -> PySide6" in result.stdout
