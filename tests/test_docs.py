"""The documentation stays true to the repository: the README is a front page (at most 300 lines), every link and
image of README.md and docs/ points at a file that exists, and the user guide has a section and a screenshot for
every tab the window declares."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINK = re.compile(r"\]\(([^)\s]+)\)")
DOCUMENTS = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *sorted((ROOT / "docs").glob("*.md"))]


def tabs() -> list[tuple[str, str]]:
    """(module, title) of every tab, read from its declaration ``TAB = Tab(title=...)``."""
    found = []
    for module in sorted((ROOT / "workbench" / "tabs").glob("*.py")):
        declared = re.search(r'TAB = Tab\(title="([^"]+)"', module.read_text())
        if declared:
            found.append((module.stem, declared.group(1)))
    return found


def test_the_readme_is_a_front_page():
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 300
    for target in ("docs/user-guide.md", "docs/command-line.md", "docs/cli.md", "docs/benchmarks.md",
                   "docs/architecture.md"):  # fmt: skip
        assert f"]({target})" in text


def test_every_link_and_image_of_the_documents_exists():
    missing = []
    for document in DOCUMENTS:
        for target in LINK.findall(document.read_text()):
            if "://" in target or target.startswith(("#", "mailto:")):
                continue
            path = target.split("#", 1)[0]
            if path and not (document.parent / path).exists():
                missing.append(f"{document.relative_to(ROOT)}: {target}")
    assert not missing


def test_the_user_guide_has_every_tab_with_its_screenshot():
    guide = (ROOT / "docs" / "user-guide.md").read_text()
    assert len(tabs()) >= 9
    for module, title in tabs():
        assert re.search(rf"^## {re.escape(title)} \(Ctrl\+\d\)$", guide, re.MULTILINE), title
        assert f"](images/{module}.png)" in guide and (ROOT / "docs" / "images" / f"{module}.png").is_file(), module
