"""The ``tailor`` console script: the headless CLI of ``core``, with the window plugged in for ``tailor``,
``tailor gui`` and ``tailor demo``. Qt is imported only when a window is actually opened."""

from __future__ import annotations

import sys

from core.cli.main import main as cli_main


def open_window(
    catalog: str | None,
    *,
    screenshot: str | None = None,
    view: str = "browse",
    size: tuple[int, int] | None = None,
) -> int:
    from workbench.app.application import finish, run

    finish(run(catalog, screenshot=screenshot, view=view, size=size))
    return 0  # not reached: finish() ends the process


def main(argv: list[str] | None = None) -> int:
    return cli_main(argv, open_window=open_window)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
