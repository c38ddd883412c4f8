"""When stderr is not a terminal (a log, CI, a pipe), long steps print a progress line every few seconds (done,
rate, time left) instead of staying silent until the end, as tqdm does there."""

from __future__ import annotations

from core.cli import progress_lines, render
from core.training.events import FeatureProgress


def test_a_feature_pass_prints_lines_with_rate_and_time_left_when_stderr_is_not_a_terminal(capsys, monkeypatch):
    clock = iter([0.0, 0.0, 6.0, 7.0, 13.0, 13.5, 14.0, 14.0, 14.0])
    monkeypatch.setattr(progress_lines.time, "monotonic", lambda: next(clock))

    def events():
        for done in (0, 100, 200, 300, 400):
            yield FeatureProgress(1, done, 1000, 0)
        return "finished"

    shown = render.follow_progress(events(), lambda e: ("features", e.done, e.total))
    assert shown == "finished"
    lines = capsys.readouterr().err.splitlines()
    assert lines == [
        "features: 100 img of 1,000 img (17 img/s, 54 s left)",
        "features: 300 img of 1,000 img (23 img/s, 30 s left)",
    ]


def test_a_terminal_gets_a_bar(monkeypatch):
    monkeypatch.setattr(progress_lines.sys.stderr, "isatty", lambda: True, raising=False)
    bar = progress_lines.progress(10, "epoch 1/2", " batch")
    try:
        assert type(bar).__module__.startswith("tqdm")
    finally:
        bar.close()
