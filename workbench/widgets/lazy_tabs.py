"""Tabs whose pages are built the first time they are needed, so that the window paints before the modules of
its other tabs (pyqtgraph, numpy, the training queue, the analysis code) are imported.

A lazy page is built when its tab is shown or when its view is asked for (:meth:`LazyPage.view`);
:meth:`LazyTabs.setCurrentWidget` and :meth:`LazyTabs.currentWidget` accept and return the views themselves, so
callers never see the page that holds one.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QTabWidget, QVBoxLayout, QWidget


class LazyPage(QWidget):
    """A tab's page holding the view ``build()`` returns, built once, on first use."""

    def __init__(self, build: Callable[[], QWidget]) -> None:
        super().__init__()
        self._build: Callable[[], QWidget] | None = build
        self._view: QWidget | None = None
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)

    @property
    def built(self) -> bool:
        return self._view is not None

    def view(self) -> QWidget:
        if self._view is None:
            build, self._build = self._build, None
            assert build is not None, "a lazy page's view was asked for while it was being built"
            self._view = build()
            self._layout.addWidget(self._view)
        return self._view

    def showEvent(self, event: QShowEvent) -> None:
        self.view()
        super().showEvent(event)


class LazyTabs(QTabWidget):
    """A QTabWidget with pages built on first use (:meth:`add_lazy`)."""

    def __init__(self) -> None:
        super().__init__(documentMode=True)

    def add_lazy(self, build: Callable[[], QWidget], title: str) -> LazyPage:
        page = LazyPage(build)
        self.addTab(page, title)
        return page

    def _page_of(self, widget: QWidget) -> QWidget:
        parent = widget.parentWidget()
        return parent if isinstance(parent, LazyPage) else widget

    def setCurrentWidget(self, widget: QWidget) -> None:
        super().setCurrentWidget(self._page_of(widget))

    def currentWidget(self) -> QWidget:
        page = super().currentWidget()
        return page.view() if isinstance(page, LazyPage) else page

    def indexOf(self, widget: QWidget) -> int:
        return super().indexOf(self._page_of(widget))
