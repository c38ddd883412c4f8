"""``python -m core.cli`` (and ``torchrun -m core.cli``): the ``tailor`` command without the window."""

from core.cli.main import main

if __name__ == "__main__":
    raise SystemExit(main())
