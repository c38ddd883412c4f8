"""The ``tailor`` command line: the parser made of each command group's options, and running one command.

Every command reports bad input as one line on stderr and exits with status 2; an interrupted command exits
with 130 and leaves the catalog as it was; an unexpected failure prints one line and exits with 1 (set
``TAILOR_DEBUG=1`` to see the traceback). Commands live in ``catalog_commands``, ``train_commands``,
``run_commands``, ``curation_commands``, ``experiment_commands``, ``threshold_commands``,
``feature_commands``, ``discovery_commands`` and ``label_commands``; their options in
:mod:`core.cli.options`.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any

from core.base.errors import TailorError
from core.base.version import installed_version
from core.catalog.names import shown
from core.cli import (
    catalog_commands,
    curation_commands,
    discovery_commands,
    experiment_commands,
    feature_commands,
    label_commands,
    run_commands,
    threshold_commands,
    train_commands,
)
from core.cli.options import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, Parser
from core.cli.stats import format_stats, stats_dict

__all__ = ["build_parser", "format_stats", "main", "stats_dict"]


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="tailor", description="Tailor: a workbench for long-tailed image labels.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    catalog_commands.register(sub)
    label_commands.register(sub)
    train_commands.register(sub)
    run_commands.register(sub)
    curation_commands.register(sub)
    experiment_commands.register(sub)
    threshold_commands.register(sub)
    feature_commands.register(sub)
    discovery_commands.register(sub)
    return parser


def _version() -> str:
    return installed_version() or "dev"  # "dev": a source tree that was never installed


def _stop_on_sigterm() -> Any:
    """SIGTERM (``kill``, a scheduler's stop) stops a run the way Ctrl+C does: recorded as cancelled, resumable.
    Returns the previous handler (None when none was set: not the main thread)."""

    def stop(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, stop)


def main(argv: list[str] | None = None, *, open_window: Callable[..., int] | None = None) -> int:
    """Run one command. ``open_window(catalog, screenshot=, view=) -> int`` is how ``gui``, ``demo`` and no
    command at all open the window; the workbench passes it in (``workbench.app.launcher``), so core never imports
    Qt."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error already printed as one line: its status, also in-process
        return int(exc.code or 0) if not isinstance(exc.code, str) else EXIT_USAGE
    if args.command is None:
        if open_window is None:
            parser.print_help()
            return EXIT_OK
        args.command, args.handler = "gui", catalog_commands.run_gui
        args.catalog, args.screenshot, args.view, args.size = None, None, "browse", None
    args.open_window = open_window
    previous = _stop_on_sigterm() if args.command in ("train", "oversample") else None
    try:
        return int(args.handler(args))
    except TailorError as exc:
        print(f"tailor {args.command}: error: {exc.message}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"tailor {args.command}: interrupted; the catalog is unchanged by the unfinished step", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # e.g. `tailor stats ... | head`
        sys.stderr.close()
        return EXIT_OK
    except OSError as exc:  # a path the user gave that the system refuses (too long, not permitted, ...)
        where = f" ({shown(exc.filename, 160)})" if exc.filename else ""
        print(f"tailor {args.command}: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:  # last line of defence: one line, not a traceback
        if os.environ.get("TAILOR_DEBUG"):
            raise
        print(
            f"tailor {args.command}: internal error: {type(exc).__name__}: {exc} "
            "(set TAILOR_DEBUG=1 for the traceback)",
            file=sys.stderr,
        )
        return EXIT_FAILURE
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
