"""Progress when stderr is not a terminal (a log, CI, ``nohup``, a pipe): instead of a bar, which tqdm leaves out
there, one line every :data:`EVERY_SECONDS` with what is done, the rate and the time left. :func:`progress` gives a
tqdm bar on a terminal and a :class:`ProgressLines` elsewhere; both take ``update``, ``set_postfix`` and ``close``."""

from __future__ import annotations

import sys
import time
from typing import Any

EVERY_SECONDS = 5.0


def _amount(value: float, unit: str, scale: bool) -> str:
    if scale and value >= 1e6:
        return f"{value / 1e6:,.1f} M{unit.strip()}"
    return f"{value:,.0f}{unit}"


class ProgressLines:
    def __init__(self, total: int | None, desc: str, unit: str, unit_scale: bool = False) -> None:
        self.total, self.desc, self.unit, self.scale = total, desc, unit, unit_scale
        self.n = 0
        self.started = self.last = time.monotonic()
        self.postfix = ""

    def set_postfix(self, **values: object) -> None:
        self.postfix = ", ".join(f"{key} {value}" for key, value in values.items())

    def update(self, count: int) -> None:
        self.n += count
        now = time.monotonic()
        if now - self.last >= EVERY_SECONDS:
            self.last = now
            print(self.line(now), file=sys.stderr, flush=True)

    def line(self, now: float) -> str:
        elapsed = max(now - self.started, 1e-9)
        rate = self.n / elapsed
        done = _amount(self.n, self.unit, self.scale)
        text = f"{self.desc}: {done}"
        if self.total:
            text += f" of {_amount(self.total, self.unit, self.scale)}"
        text += f" ({_amount(rate, self.unit, self.scale)}/s"
        if self.total and rate > 0:
            text += f", {max(self.total - self.n, 0) / rate:.0f} s left"
        text += ")"
        return text + (f" · {self.postfix}" if self.postfix else "")

    def close(self) -> None:
        pass


def progress(total: int | None, desc: str, unit: str, unit_scale: bool = False) -> Any:
    """A tqdm bar on stderr when it is a terminal, else :class:`ProgressLines`."""
    if not sys.stderr.isatty():
        return ProgressLines(total, desc, unit, unit_scale)
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=unit, unit_scale=unit_scale, file=sys.stderr, leave=False,
                dynamic_ncols=True)  # fmt: skip
