"""Runs one request trained, as one group: a matrix, a seed set, several variants trained with one click or command.

Each such run records the request's batch id (``TrainConfig.batch``, made by ``core.config.new_batch``); the Runs
tab shows a group as one row that opens to its runs, ``tailor runs`` under one heading, ``tailor runs --json`` as
each run's ``batch``. A group's row summarises its finished runs: a seed set by their mean (the runs differ only in
their seed), a matrix or a set of variants by the best run of each metric.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.base.percent import percent
from core.catalog.records import RunStatus
from core.catalog.runs import RunInfo, variant_name

KIND_NAMES = {"matrix": "matrix", "seeds": "seed set", "variants": "variants"}


@dataclass(frozen=True)
class RunGroup:
    """The runs of one batch, in id order."""

    batch: str
    runs: tuple[RunInfo, ...]

    @property
    def kind(self) -> str:
        """matrix, seeds or variants (the batch id says; ids read back were checked, core.config.batch_kind)."""
        return self.batch.split("-", 1)[0]

    @property
    def ids(self) -> list[int]:
        return [run.id for run in self.runs]

    @property
    def finished(self) -> list[RunInfo]:
        return [run for run in self.runs if run.status == RunStatus.FINISHED]

    def title(self) -> str:
        """ "matrix of 33 runs (12–44)", "seed set of 3 runs (5–7): iew, seeds 0, 1, 2"."""
        ids = self.ids
        title = f"{KIND_NAMES[self.kind]} of {len(ids)} runs ({ids[0]}–{ids[-1]})"
        if self.kind == "seeds":
            variants = sorted({variant_name(run) for run in self.runs})
            title += f": {', '.join(variants)}, seeds {', '.join(str(run.config.seed) for run in self.runs)}"
        return title

    def status(self) -> str:
        """ "33 finished", "2 finished, 1 running"."""
        counts: dict[str, int] = {}
        for run in self.runs:
            counts[run.status] = counts.get(run.status, 0) + 1
        return ", ".join(f"{n} {status}" for status, n in counts.items())

    def metric(self, key: str) -> tuple[float | None, str]:
        """The group's value of a summary metric and what it is: the seeds' mean, or the best run's value."""
        values = [(float(v), run.id) for run in self.finished if (v := run.last.get(key)) is not None]
        if not values:
            return None, ""
        if self.kind == "seeds":
            return sum(v for v, _ in values) / len(values), f"mean of {len(values)} seeds"
        best, run_id = max(values)
        return best, f"best: run {run_id}"


def grouped(runs: list[RunInfo]) -> list[RunInfo | RunGroup]:
    """The runs in their order, each batch of two or more runs as one :class:`RunGroup` at its first run's place."""
    members: dict[str, list[RunInfo]] = {}
    for run in runs:
        if run.config.batch is not None:  # checked when read back (TrainConfig.from_dict)
            members.setdefault(run.config.batch, []).append(run)
    result: list[RunInfo | RunGroup] = []
    placed: set[str] = set()
    for run in runs:
        batch = run.config.batch
        if batch is None or len(members.get(batch, ())) < 2:
            result.append(run)
        elif batch not in placed:
            placed.add(batch)
            result.append(RunGroup(batch, tuple(members[batch])))
    return result


def heading(group: RunGroup) -> str:
    """The line ``tailor runs`` prints above a group's runs."""
    cells = []
    for key, name in (("acsa", "ACSA"), ("macro_ap", "mAP")):
        value, note = group.metric(key)
        if value is not None:
            cells.append(f"{name} {percent(value)} ({note})")
    summary = f" · {'; '.join(cells)}" if cells else ""
    return f"── {group.title()} · {group.status()}{summary}"
