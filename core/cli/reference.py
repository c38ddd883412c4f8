"""The command-line reference (``docs/cli.md``), generated from the parser itself so it never drifts: a test checks
that the file equals what this prints.

    python -m core.cli.reference > docs/cli.md
"""

from __future__ import annotations

import argparse

from core.cli.main import build_parser

WIDTH = 100  # usage lines wrap here, whatever the terminal


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _help(action: argparse.Action) -> str:
    text = action.help or ""
    if "%(" in text:
        text = text % {**vars(action), "prog": "tailor"}
    choices = (
        f" Choices: {', '.join(map(str, action.choices))}." if action.choices and not action.option_strings else ""
    )
    return " ".join((text + choices).split()).replace("|", "\\|")


def _usage(parser: argparse.ArgumentParser) -> str:
    formatter = argparse.HelpFormatter(parser.prog, width=WIDTH)
    formatter.add_usage(parser.usage, parser._actions, parser._mutually_exclusive_groups)
    return formatter.format_help().strip()


def command_reference(name: str, parser: argparse.ArgumentParser) -> list[str]:
    lines = [f"## tailor {name}", "", " ".join((parser.description or "").split()), "", "```", _usage(parser), "```"]
    rows = []
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        flags = ", ".join(action.option_strings) or (action.metavar if isinstance(action.metavar, str) else action.dest)
        rows.append(f"| `{flags}` | {_help(action)} |")
    if rows:
        lines += ["", "| argument | meaning |", "|---|---|", *rows]
    return [*lines, ""]


def reference() -> str:
    parser = build_parser()
    lines = [
        "# The `tailor` command line",
        "",
        "Generated from the parser by `python -m core.cli.reference > docs/cli.md` (a test keeps it current). Every",
        "command reports bad input as one line on stderr and exits with status 2; `CATALOG` is a file (SQLite) or any",
        "SQLAlchemy URL.",
        "",
    ]
    for name, sub in _subcommands(parser).items():
        lines += command_reference(name, sub)
    return "\n".join(lines)


if __name__ == "__main__":
    print(reference(), end="")
