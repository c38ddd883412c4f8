"""What one tab asks of another, as plain data: tabs never import each other.

A tab calls :meth:`workbench.viewmodels.workspace.Workspace.request` with one of these; the main window builds the
tab the request names (``tab``, the module of ``workbench/tabs/`` that declares it), shows it and hands the request
to its ``handle`` method. ``Show`` only shows a tab.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Protocol

if TYPE_CHECKING:
    from core.catalog.runs import RunInfo


class Request(Protocol):
    @property
    def tab(self) -> str: ...


@dataclass(frozen=True)
class Show:
    """Show a tab (built on first use)."""

    tab: str


@dataclass(frozen=True)
class BrowseLabel:
    """Browse one label's images (a click on a histogram bar)."""

    label_id: int
    tab: ClassVar[str] = "browser"


@dataclass(frozen=True)
class BrowseImages:
    """Browse only these images, in this order, under a chip named ``title`` (a selection on the map);
    ``select``: select them."""

    image_ids: tuple[int, ...]
    title: str
    select: bool = False
    tab: ClassVar[str] = "browser"


@dataclass(frozen=True)
class BrowseRunTestImages:
    """Browse the images a run was tested on."""

    run_id: int
    tab: ClassVar[str] = "browser"


@dataclass(frozen=True)
class PredictRun:
    """Store a run's predictions for ``unlabeled`` images, ``all`` images or those Browse ``shown``s, then show
    them in Browse."""

    run_id: int
    scope: str
    tab: ClassVar[str] = "browser"


@dataclass(frozen=True)
class PlotRuns:
    """Show finished runs' curves and per-class bars in the Train tab's plots."""

    run_ids: tuple[int, ...]
    tab: ClassVar[str] = "training"


@dataclass(frozen=True)
class ResumeRun:
    """Continue an interrupted, cancelled or failed run from its last checkpoint."""

    run: RunInfo
    tab: ClassVar[str] = "training"


@dataclass(frozen=True)
class ReviewRun:
    """Review a run's mistakes."""

    run_id: int
    tab: ClassVar[str] = "review"


REQUESTS = (Show, BrowseImages, BrowseLabel, BrowseRunTestImages, PredictRun, PlotRuns, ResumeRun, ReviewRun)
