"""A comparison of runs (``core.analysis.compare.compare``'s table) as a table widget: runs x labels AP, then the
summary metrics; each cell the value with its 95% interval and, below, the paired difference to the baseline,
marked ▲ / ▼ and coloured when its interval excludes 0; labels with too few test images grey and never marked; runs
of one variant over several seeds summarised as mean ± sd rows. The Runs tab and the variant matrix show it."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor, QFont, QResizeEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHeaderView,
    QTableView,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from core.analysis.compare import METRICS, too_few, value_parts
from core.analysis.compare_exports import compare_csv, compare_markdown, other_test_sets
from core.base.percent import percent, percent_text, points, points_span, span, spread
from workbench.widgets import file_dialogs, plain

BEST = QColor(120, 200, 120, 90)
TOO_FEW = QColor("#8a8a8a")
BETTER = QColor("#1e7b34")
WORSE = QColor("#b3261e")
GROUP = QColor(90, 130, 200, 40)
METRIC_NAMES = {"top1": "top-1", "acsa": "ACSA", "gm": "GM", "macro_ap": "macro AP"}


def cell_text(row: dict, key: str, j: int | None, baseline: bool) -> tuple[str, int]:
    """The cell's text and its mark: +1 a significant gain, -1 a significant loss, 0 none."""
    value, ci, delta, _delta_ci, significant = value_parts(row, key, j)
    text = percent_text(value, ci)
    if baseline or delta is None:
        return text, 0
    mark = (1 if delta > 0 else -1) if significant else 0
    arrow = {1: " ▲", -1: " ▼", 0: ""}[mark]
    return f"{text}\n{points(delta)}{arrow}", mark


def cell_tip(row: dict, key: str, j: int | None, baseline_id: int, name: str) -> str:
    value, ci, delta, delta_ci, significant = value_parts(row, key, j)
    tip = f"{name}: {percent(value, '%')}"
    if ci:
        tip += f" (95% interval {span(ci)})"
    if delta is not None and row["run_id"] != baseline_id:
        tip += f"\ndifference to run {baseline_id}: {points(delta)}"
        if delta_ci:
            tip += f" (95% interval {points_span(delta_ci)}: "
            tip += "significant)" if significant else "could be 0)"
    return tip


class ComparisonTable(QTableWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, 0, parent)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setWordWrap(False)
        self.verticalHeader().setVisible(False)
        self.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.table: dict | None = None
        self.frozen = self._frozen_column()

    def _frozen_column(self) -> QTableView:
        """The run column, drawn over the table's first column so it stays in view when the labels scroll
        sideways (Qt's frozen-column pattern: a second view on the same model and selection)."""
        frozen = QTableView(self)
        frozen.setModel(self.model())
        frozen.setSelectionModel(self.selectionModel())
        frozen.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        frozen.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        frozen.setWordWrap(False)
        frozen.verticalHeader().hide()
        frozen.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        frozen.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        frozen.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        frozen.setFrameShape(QFrame.Shape.NoFrame)
        self.viewport().stackUnder(frozen)
        frozen.verticalScrollBar().valueChanged.connect(self.verticalScrollBar().setValue)
        self.verticalScrollBar().valueChanged.connect(frozen.verticalScrollBar().setValue)
        self.horizontalHeader().sectionResized.connect(lambda column, _old, size: self._sync_frozen())
        self.verticalHeader().sectionResized.connect(lambda row, _old, size: frozen.setRowHeight(row, size))
        frozen.hide()
        return frozen

    def _sync_frozen(self) -> None:
        frozen = self.frozen
        columns = self.columnCount()
        frozen.setVisible(columns > 1)
        if columns <= 1:
            return
        for column in range(1, columns):
            frozen.setColumnHidden(column, True)
        frozen.setColumnWidth(0, self.columnWidth(0))
        frozen.horizontalHeader().setFixedHeight(self.horizontalHeader().height())
        for row in range(self.rowCount()):
            frozen.setRowHeight(row, self.rowHeight(row))
        frame = self.frameWidth()
        frozen.setGeometry(
            frame, frame, self.columnWidth(0), self.viewport().height() + self.horizontalHeader().height()
        )

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._sync_frozen()

    def clear_table(self) -> None:
        self.table = None
        self.setRowCount(0)
        self.setColumnCount(0)
        self._sync_frozen()

    def show_table(self, table: dict) -> None:
        self.table = table
        labels = table["labels"]
        headers = ["run"]
        for j, (name, n, t) in enumerate(zip(labels, table["train_counts"], table["test_counts"])):
            headers.append(f"{name}\n{n} train · {t} test" + ("\ntoo few to compare" if too_few(table, j) else ""))
        headers += [METRIC_NAMES[k] for k in METRICS]
        self.setColumnCount(len(headers))
        self.setHorizontalHeaderLabels(headers)
        for j in range(len(labels)):
            if too_few(table, j):
                header = self.horizontalHeaderItem(1 + j)
                if header is not None:
                    header.setForeground(QBrush(TOO_FEW))
        groups = table.get("seed_groups") or []
        self.setRowCount(len(table["rows"]) + len(groups))
        for r, row in enumerate(table["rows"]):
            self._fill_run(r, row)
        for g, group in enumerate(groups):
            self._fill_group(len(table["rows"]) + g, group)
        self.resizeColumnsToContents()
        self.resizeRowsToContents()
        self._sync_frozen()

    def _fill_run(self, r: int, row: dict) -> None:
        table = self.table
        assert table is not None
        baseline = row["run_id"] == table["baseline"]
        name = f"{row['run_id']} {row.get('variant', row['loss'])}" + (" (baseline)" if baseline else "")
        self.setItem(r, 0, _item(name))
        bold = QFont()
        bold.setBold(True)
        for j, label in enumerate(table["labels"]):
            few = too_few(table, j)
            text, mark = cell_text(row, "ap", j, baseline)
            tip = cell_tip(row, "ap", j, table["baseline"], f"AP of {label}")
            if few:
                tip = f"only {table['test_counts'][j]} test images: too few to compare\n" + tip
            item = _item(text, tip)
            if few:
                item.setForeground(QBrush(TOO_FEW))
            else:
                _mark(item, mark)
                if row["ap"][j] is not None and row["ap"][j] == table["best_ap"][j] and len(table["rows"]) > 1:
                    item.setBackground(QBrush(BEST))
                    item.setFont(bold)
            self.setItem(r, 1 + j, item)
        for k, key in enumerate(METRICS):
            text, mark = cell_text(row, key, None, baseline)
            item = _item(text, cell_tip(row, key, None, table["baseline"], METRIC_NAMES[key]))
            _mark(item, mark)
            self.setItem(r, 1 + len(table["labels"]) + k, item)

    def _fill_group(self, r: int, group: dict) -> None:
        runs = ", ".join(str(i) for i in group["runs"])
        name = f"{group['variant']} × {len(group['runs'])} seeds\nmean ± sd (runs {runs})"
        tip = f"seeds {', '.join(str(s) for s in group['seeds'])}: mean ± standard deviation"
        self.setItem(r, 0, _group_item(name, tip))
        differences = group.get("ap_delta_seeds") or [None] * len(group["ap_mean"])
        cells = list(zip(group["ap_mean"], group["ap_sd"], differences))
        cells += [(group["mean"][k], group["sd"][k], (group.get("delta_seeds") or {}).get(k)) for k in METRICS]
        for c, (mean, sd, difference) in enumerate(cells, start=1):
            text, cell_tip, mark = group_cell(mean, sd, difference, tip, group.get("baseline_runs") or [])
            item = _group_item(text, cell_tip)
            _mark(item, mark)
            self.setItem(r, c, item)

    def caption(self) -> str:
        table = self.table
        if table is None:
            return ""
        text = (
            f"AP (%) per label, last epoch; best highlighted; grey: fewer than {table['min_test_images']} test images"
        )
        if table.get("same_test_images") is False:
            text += ". " + other_test_sets(table)
        if table.get("paired_on"):
            text += (
                f". [a–b]: 95% bootstrap interval ({table['resamples']:,} resamples of the {table['paired_on']:,} "
                f"test images); second line: difference to run {table['baseline']} on the same resamples, "
                "▲ / ▼ where its interval excludes 0"
            )
        if any(group.get("delta_seeds") for group in table.get("seed_groups") or []):
            text += (
                "; rows of seeds: mean ± sd and the difference to the baseline's seeds with a 95% t-interval across "
                "seeds (training randomness)"
            )
        if table.get("overall_not_marked"):
            text += "; " + table["overall_not_marked"]
        notes = sorted({g["seeds_note"] for g in table.get("seed_groups") or [] if g.get("seeds_note")})
        return text + "".join(f"; {note}" for note in notes)


def group_cell(
    mean: float | None, sd: float | None, difference: dict | None, tip: str, baseline_runs: list[int]
) -> tuple[str, str, int]:
    """A seed group's cell: "mean ± sd" and, below, its difference to the baseline's seeds with the t-interval
    (marked like a run's when it excludes 0); the tooltip; the mark."""
    text = spread(mean, sd)
    if difference is None:
        return text, tip, 0
    mark = (1 if difference["delta"] > 0 else -1) if difference["significant"] else 0
    delta, interval = points(difference["delta"]), points_span(difference["ci"])
    text += f"\n{delta}  {interval}" + {1: " ▲", -1: " ▼", 0: ""}[mark]
    tip += (
        f"\ndifference of means to the baseline's seeds (runs {', '.join(map(str, baseline_runs))}): {delta}, "
        f"95% Welch t-interval across seeds {interval} (training randomness: "
        + ("significant)" if difference["significant"] else "could be 0)")
    )
    return text, tip, mark


def export_table(parent: QWidget, table: dict, kind: str, path: str | None, start: str) -> tuple[str | None, str]:
    """Write the comparison as CSV or Markdown (``kind`` "csv" | "md") to ``path``, or to a file the user picks
    (the dialog starts at ``start``); the path written (None: cancelled or failed) and a status line."""
    if path is None:
        suffix = "CSV (*.csv)" if kind == "csv" else "Markdown (*.md)"
        path = file_dialogs.save_file(parent, "Export the comparison", start, suffix)
        if not path:
            return None, ""
    text = compare_csv(table) if kind == "csv" else compare_markdown(table) + "\n"
    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as exc:
        return None, f"Cannot write {path}: {exc.strerror}"
    return path, f"Comparison written to {path}"


def _mark(item: QTableWidgetItem, mark: int) -> None:
    if mark:
        item.setForeground(QBrush(BETTER if mark > 0 else WORSE))


def _group_item(text: str, tip: str) -> QTableWidgetItem:
    item = _item(text, tip)
    item.setBackground(QBrush(GROUP))
    return item


def _item(text: str, tip: str | None = None) -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
    if tip:
        item.setToolTip(plain.tooltip(tip))
    return item
