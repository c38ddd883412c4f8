"""Live plots stay cheap to paint while training: ranges set by hand, bars updated in place; training runs niced."""

from __future__ import annotations

import os
import sys
import threading

import pytest

from workbench.widgets.plots import LivePlots, RunSeries, nice_ceiling
from workbench.workers.training_queue import lower_priority

LABELS = ["long", "short", "cap", "puff"]
COUNTS = [40, 24, 8, 5]


def metrics(step: int) -> dict:
    """An epoch's metrics shaped like core.analysis.metrics' output, improving with ``step``."""
    per_label = [
        {
            "accuracy": min(1.0, 0.2 * (j + 1) + 0.05 * step),
            "ap": min(1.0, 0.3 + 0.1 * step),
            "pr_curve": {"recall": [0.0, 0.5, 1.0], "precision": [1.0, 0.8, 0.4]},
        }
        for j in range(len(LABELS))
    ]
    return {
        "top1": 0.4 + 0.05 * step,
        "acsa": 0.3 + 0.05 * step,
        "gm": 0.2,
        "macro_ap": 0.5,
        "per_label": per_label,
        "groups": {"head": {"pr_curve": {"recall": [0.0, 1.0], "precision": [1.0, 0.5]}}},
    }


def test_nice_ceiling_gives_stable_axis_tops():
    assert nice_ceiling(0.83) == 1.0
    assert nice_ceiling(1.0) == 1.0
    assert nice_ceiling(1.2) == 2.0
    assert nice_ceiling(2.2) == 2.5
    assert nice_ceiling(3.1) == 5.0
    assert nice_ceiling(7) == 10.0
    assert nice_ceiling(0.031) == pytest.approx(0.05)
    assert nice_ceiling(float("nan")) == 1.0 and nice_ceiling(0) == 1.0


def test_epochs_do_not_move_the_axes_and_bars_update_in_place(qtbot):
    plots = LivePlots()
    qtbot.addWidget(plots)
    plots.resize(900, 600)
    plots.show()
    plots.start_run(RunSeries(7, "nw · resnet18", LABELS, COUNTS, planned=10))
    plots.add_epoch(7, 0, 2.2, 2.1, metrics(0))
    plots.flush()
    view = plots.loss.plotItem.vb
    (x0, x1), (y0, y1) = view.viewRange()
    assert (x0, x1) == pytest.approx((0.5, 10.5))  # the planned epochs from the first one on
    assert (y0, y1) == pytest.approx((-0.075, 2.5))  # 0 to a nice top, a little room below the 0 tick
    bars_before = list(plots._bar_items)
    moved = []
    for plot in (plots.loss, plots.metrics, plots.pr, plots.bars):
        plot.plotItem.vb.sigRangeChanged.connect(lambda *_a, p=plot: moved.append(p))
    for epoch in range(1, 4):  # falling losses, better metrics: nothing needs a new range
        plots.add_epoch(7, epoch, 2.0 - 0.3 * epoch, 1.9 - 0.3 * epoch, metrics(epoch))
        plots.flush()
    assert moved == []
    assert plots._bar_items == bars_before  # same items, new heights
    heights = plots.bar_heights()[7]
    assert heights == pytest.approx([min(1.0, 0.2 * (j + 1) + 0.15) for j in range(4)])  # head first
    assert list(plots.train_curve.getData()[0]) == [1, 2, 3, 4]
    assert any(text.endswith("AP 0.600") for text in plots.pr_legend.texts())
    assert "puff" in plots.pr.plotItem.titleLabel.text  # the rarest label is picked first

    plots.add_epoch(7, 4, 3.4, 3.3, metrics(4))  # a loss above the axis top: the range grows once
    plots.flush()
    assert plots.loss.plotItem.vb.viewRange()[1] == pytest.approx([-0.15, 5.0])
    assert moved == [plots.loss]

    plots.start_run(RunSeries(8, "ldam · resnet18", LABELS, COUNTS, planned=10))  # a second run overlays
    plots.add_epoch(8, 0, 1.0, 1.0, metrics(1))
    plots.flush()
    assert set(plots.bar_heights()) == {7, 8}
    assert plots.bars_legend.texts() == ["run 7: nw", "run 8: ldam"]  # outside the plot; the shared backbone left out
    assert plots.bar_axis.names == ["long (40)", "short (24)", "cap (8)", "puff (5)"]  # every label named


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread priority is Linux's")
def test_training_threads_run_at_lower_priority_than_the_window():
    before = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    seen = {}

    def work():
        seen["lowered"] = lower_priority(10)
        seen["own"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        child = threading.Thread(
            target=lambda: seen.setdefault("child", os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
        )
        child.start()
        child.join()

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert seen["lowered"] is True
    assert seen["own"] == max(before, 10) and seen["child"] == seen["own"]  # decoders and OpenMP workers inherit
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == before  # the window's thread is not


def test_thirty_classes_are_all_named_within_the_axis_height(qtbot):
    labels = [f"label number {k} with a long name" for k in range(30)]
    counts = [1000 - 30 * k for k in range(30)]
    plots = LivePlots()
    qtbot.addWidget(plots)
    plots.resize(700, 500)
    plots.show()
    plots.start_run(RunSeries(1, "nw · resnet18 · 1 ep · 30 Nov 12:00", labels, counts, planned=1))
    per_label = [{"accuracy": 0.5, "ap": 0.5, "pr_curve": None} for _ in labels]
    summary = {"top1": 0.5, "acsa": 0.5, "gm": 0.5, "macro_ap": 0.5}
    plots.add_epoch(1, 0, 1.0, 1.0, {"per_label": per_label, "groups": {}, **summary})
    plots.flush()
    axis = plots.bar_axis
    assert len(axis.names) == 30 and all(name.endswith(f"({count})") for name, count in zip(axis.names, counts))
    assert axis.angle in (60.0, 90.0) and axis.height() <= axis.max_height  # rotated, elided, never taller
    assert all("…" in name for name in axis.names)  # the long names are elided in the middle, counts kept whole


def test_legend_names_keep_what_tells_the_runs_apart():
    from workbench.widgets.plots import RunSeries, legend_names

    def run(run_id, name):
        return RunSeries(run_id, name, [], [])

    assert legend_names([run(3, "nw head · resnet18 · 30 ep · 03 Dec 05:37")]) == [
        "run 3: nw head · resnet18 · 30 ep · 03 Dec 05:37"
    ]
    assert legend_names([run(20, "nw head · lite0 · 30 ep · 03 Dec 05:37"),
                         run(21, "crt head · lite0 · 30 ep · 03 Dec 05:38")]) == [
        "run 20: nw head · 03 Dec 05:37", "run 21: crt head · 03 Dec 05:38"]  # fmt: skip
    assert legend_names([run(4, "nw · resnet18 · 10 ep"), run(5, "nw · resnet32 · 10 ep")]) == [
        "run 4: resnet18", "run 5: resnet32"]  # fmt: skip
    assert legend_names([run(6, "nw · a"), run(7, "nw · a")]) == ["run 6: nw", "run 7: nw"]  # nothing differs
