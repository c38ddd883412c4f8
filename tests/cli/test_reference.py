"""``docs/cli.md`` is the parser's own reference: it names every command and option, and is current."""

from __future__ import annotations

from pathlib import Path

from core.cli.main import build_parser
from core.cli.reference import _subcommands, reference

DOCS = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def test_the_cli_reference_is_current():
    assert DOCS.read_text(encoding="utf-8") == reference(), "run: python -m core.cli.reference > docs/cli.md"


def test_the_reference_names_every_command_and_option():
    text = reference()
    for name, parser in _subcommands(build_parser()).items():
        assert f"## tailor {name}\n" in text
        for action in parser._actions:
            for flag in action.option_strings:
                if flag not in ("-h", "--help"):
                    assert flag in text, (name, flag)
