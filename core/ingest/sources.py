"""What an import reads: a class-per-folder tree or a CSV/Parquet manifest, turned into import entries.

Folder trees: ``ROOT/<label>/**/<image>``, or ``ROOT/<split>/<label>/**/<image>`` with split folders named
``train``, ``val`` or ``test`` (the split is recorded). Hidden files and folders (names starting with ".") are
ignored; any other file is an import candidate, and files that are not images are skipped with a reason. Each of
these is skipped and reported rather than failing the import: a name that is not valid UTF-8, a label folder whose
name breaks the naming rule (core.catalog.names), a symbolic link loop, and a folder link that leads out of the tree
(followed only with ``follow_symlinks``; links to single files are followed).

Manifests (pandas): columns ``path`` and ``labels`` (``|``-separated text, or a list of texts in Parquet; several
only on multi-label attributes; empty for an unlabeled image) and optional ``split``. Relative paths resolve
against the manifest's folder; a path is taken exactly as written (a trailing space is part of it). Any invalid row
fails the whole manifest with one line naming the file, the row (and for CSV the line it starts on, counting
quoted line breaks) and the column, before anything is written; values in the message are quoted on one line.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.base.errors import ManifestError, TailorError
from core.base.held_files import held_catalog_of, refuse_held
from core.catalog.names import MAX_PATH, name_problem, shown
from core.catalog.records import SPLITS

if TYPE_CHECKING:
    import pandas as pd

MANIFEST_SUFFIXES = {".csv": "csv", ".tsv": "tsv", ".parquet": "parquet", ".pq": "parquet"}
LABEL_SEPARATOR = "|"


@dataclass(frozen=True)
class Entry:
    """One file to import: absolute path, its labels for the attribute, its split (None: leave as is)."""

    path: str
    labels: tuple[str, ...]
    split: str | None


@dataclass(frozen=True)
class Source:
    """Entries read from a folder or a manifest, plus files passed over while reading it, with reasons."""

    kind: str  # "folder" | "manifest"
    location: str
    entries: list[Entry]
    passed_over: list[tuple[str, str]]


def read_source(
    location: str | os.PathLike, *, multi_label: bool, attribute: str, follow_symlinks: bool = False
) -> Source:
    path = Path(location).expanduser()
    if path.is_dir():
        return read_folder(path, follow_symlinks=follow_symlinks)
    if path.is_file():
        return read_manifest(path, multi_label=multi_label, attribute=attribute)
    raise TailorError(f"{location}: no such folder or manifest file")


# -- folders ----------------------------------------------------------------------------------------------


def _utf8(name: str) -> bool:
    try:
        name.encode("utf-8")
        return True
    except UnicodeEncodeError:  # bytes that are not UTF-8, kept by Python as lone surrogates
        return False


class _Walk:
    """Walks label folders below ``root`` with scandir (fast on large trees), collecting files and the reasons
    anything was passed over (see the module docstring)."""

    def __init__(self, root: Path, follow_symlinks: bool) -> None:
        self.root, self.follow = root, follow_symlinks
        self.passed_over: list[tuple[str, str]] = []
        self._seen: set[tuple[int, int]] = set()

    def skip(self, path: str, reason: str) -> None:
        self.passed_over.append((shown(path, limit=4096)[1:-1] if not _utf8(path) else path, reason))

    def enter(self, path: str, is_link: bool) -> bool:
        """Whether the folder at ``path`` is walked (each real folder once; links out of the tree on request)."""
        try:
            real = Path(path).resolve(strict=True)
            stat = real.stat()
        except (OSError, RuntimeError) as exc:
            self.skip(
                path,
                "symbolic link loop"
                if isinstance(exc, RuntimeError) or getattr(exc, "errno", 0) == 40
                else f"cannot read folder: {getattr(exc, 'strerror', None) or exc}",
            )
            return False
        if is_link and not self.follow and not real.is_relative_to(self.root):
            self.skip(
                path, f"link to a folder outside the tree ({shown(real)}); import with --follow-symlinks to include it"
            )
            return False
        key = (stat.st_dev, stat.st_ino)
        if key in self._seen:
            self.skip(path, "symbolic link loop (folder already read)" if is_link else "folder already read")
            return False
        self._seen.add(key)
        return True

    def files(self, folder: Path) -> list[str]:
        """All non-hidden files below ``folder``, sorted."""
        found: list[str] = []
        stack = [str(folder)]
        while stack:
            current = stack.pop()
            try:
                with os.scandir(current) as it:
                    entries = list(it)
            except OSError as exc:
                self.skip(current, f"cannot read folder: {exc.strerror or exc}")
                continue
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                if not _utf8(entry.name):
                    self.skip(entry.path, "name is not valid UTF-8 (rename it)")
                    continue
                try:
                    is_dir, is_file = entry.is_dir(follow_symlinks=True), entry.is_file(follow_symlinks=True)
                    is_link = entry.is_symlink()
                except OSError as exc:
                    self.skip(entry.path, "symbolic link loop" if exc.errno == 40 else f"cannot read: {exc.strerror}")
                    continue
                if is_dir:
                    if self.enter(entry.path, is_link):
                        stack.append(entry.path)
                elif is_file and held_catalog_of(entry.path) is not None:
                    self.skip(entry.path, "the catalog open in Tailor, or its journal")
                elif is_file:
                    found.append(entry.path)
                elif is_link:
                    self.skip(entry.path, "broken symbolic link")
        found.sort()
        return found

    def subfolders(self, folder: Path) -> list[Path]:
        result = []
        for p in sorted(folder.iterdir()):
            if p.name.startswith(".") or not p.is_dir():
                continue
            if not _utf8(p.name):
                self.skip(str(p), "folder name is not valid UTF-8 (rename it)")
            elif self.enter(str(p), p.is_symlink()):
                result.append(p)
        return result


def read_folder(root: Path, *, follow_symlinks: bool = False) -> Source:
    try:
        root = root.resolve(strict=True)
    except (OSError, RuntimeError) as exc:
        raise TailorError(f"{shown(root)}: cannot read folder ({getattr(exc, 'strerror', None) or exc})") from None
    walk = _Walk(root, follow_symlinks)
    walk.enter(str(root), False)
    top = [p for p in sorted(root.iterdir()) if p.is_dir() and not p.name.startswith(".")]
    split_dirs = [p for p in top if p.name in SPLITS]
    if split_dirs and len(split_dirs) != len(top):
        others = ", ".join(shown(p.name)[1:-1] for p in top if p.name not in SPLITS)
        raise TailorError(
            f"{root}: mixes split folders ({', '.join(p.name for p in split_dirs)}) with label "
            f"folders ({others}); put every label folder under train/, val/ or test/"
        )
    layout = [(p.name, p) for p in split_dirs if walk.enter(str(p), p.is_symlink())] if split_dirs else [(None, root)]
    entries: list[Entry] = []
    for split, base in layout:
        for file in sorted(p for p in base.iterdir() if p.is_file() and not p.name.startswith(".")):
            walk.skip(str(file), "not inside a label folder")
        for label_dir in walk.subfolders(base):
            problem = name_problem(label_dir.name.strip(), "label name")
            if problem is not None:
                walk.skip(str(label_dir), f"{problem}; its files are not imported")
                continue
            entries.extend(
                Entry(file, (label_dir.name.strip(),), split) for file in walk.files(label_dir) if _path_ok(file, walk)
            )
    if not entries and not walk.passed_over:
        raise TailorError(f"{root}: no label folders with files found (expected {root}/<label>/<image files>)")
    return Source("folder", str(root), entries, walk.passed_over)


def _path_ok(path: str, walk: _Walk) -> bool:
    if len(path) > MAX_PATH:
        walk.skip(path, f"path is {len(path):,} characters long, over the limit of {MAX_PATH:,}")
        return False
    return True


# -- manifests --------------------------------------------------------------------------------------------


def _load_table(path: Path) -> tuple[pd.DataFrame, str]:
    import pandas as pd

    refuse_held(path, "manifest")
    kind = MANIFEST_SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise TailorError(f"{path}: unsupported manifest type '{path.suffix}' (use .csv, .tsv or .parquet)")
    try:
        if kind == "parquet":
            table = pd.read_parquet(path)
        else:  # every cell as text, exactly as written (paths keep their spaces)
            table = pd.read_csv(path, sep="\t" if kind == "tsv" else ",", dtype=str, keep_default_na=False)
    except (ValueError, OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        text = str(exc).strip().splitlines()
        raise TailorError(f"{path}: cannot read {kind.upper()} manifest ({text[0] if text else exc})") from None
    table.columns = [str(c).strip() for c in table.columns]
    return table, kind


class _Cells:
    """Reads one manifest's cells with their row and, for CSV, the line each row starts on (looked up only when
    a row is wrong: a quoted line break makes a row span several lines)."""

    def __init__(self, path: Path, kind: str) -> None:
        self.path, self.kind = path, kind
        self._starts: list[int] | None = None

    def error(self, row: int, column: str, message: str) -> ManifestError:
        return ManifestError(str(self.path), message, row=row, line=self.line(row), column=column)

    def line(self, row: int) -> int | None:
        if self.kind == "parquet":
            return None
        if self._starts is None:
            self._starts = self._row_starts()
        return self._starts[row] if row < len(self._starts) else None

    def _row_starts(self) -> list[int]:
        starts = []
        with self.path.open(newline="", encoding="utf-8", errors="replace") as fh:
            reader, end = csv.reader(fh, delimiter="\t" if self.kind == "tsv" else ","), 0
            for record in reader:
                start, end = end + 1, reader.line_num
                if any(field.strip() for field in record):  # pandas skips blank lines
                    starts.append(start)
        return starts

    def text(self, value: Any, row: int, column: str, *, strip: bool = True) -> str:
        """A cell as text: missing is "", text as is (trimmed unless ``strip`` is off), whole numbers as digits;
        anything else (structs, lists, timestamps, fractions) is an error naming its type."""
        if value is None or (isinstance(value, float) and value != value):  # NaN from Parquet
            return ""
        if isinstance(value, str):
            return value.strip() if strip else value
        if (isinstance(value, int) and not isinstance(value, bool)) or type(value).__name__.startswith("int"):
            return str(int(value))
        raise self.error(row, column, f"expected text, found a {_type_name(value)} ({shown(value, 60)})")

    def labels(self, value: Any, row: int) -> list[str]:
        if isinstance(value, (list, tuple)) or type(value).__name__ == "ndarray":
            parts = [self.text(v, row, "labels") for v in value]
        else:
            parts = self.text(value, row, "labels").split(LABEL_SEPARATOR)
        labels = list(dict.fromkeys(part.strip() for part in parts if part.strip()))
        for label in labels:
            problem = name_problem(label, "label name")
            if problem is not None:
                raise self.error(row, "labels", problem)
        return labels


def _type_name(value: object) -> str:
    name = type(value).__name__
    return {
        "dict": "struct",
        "ndarray": "list",
        "Timestamp": "timestamp",
        "datetime": "timestamp",
        "float": "fractional number",
        "bool": "true/false value",
    }.get(name, name)


def _resolve(cells: _Cells, raw: str, base: Path, row: int) -> Path:
    if len(raw) > MAX_PATH:
        raise cells.error(row, "path", f"path is {len(raw):,} characters long, over the limit of {MAX_PATH:,}")
    try:
        file = Path(raw).expanduser()
        file = (file if file.is_absolute() else base / file).resolve()
        found = file.is_file()
    except (OSError, RuntimeError) as exc:
        reason = getattr(exc, "strerror", None) or "symbolic link loop"
        raise cells.error(row, "path", f"cannot use path {shown(raw)}: {reason}") from None
    if not found:
        hint = " (the path has spaces at its start or end)" if raw != raw.strip() else ""
        raise cells.error(row, "path", f"file not found: {shown(file, 160)}{hint}")
    return file


def read_manifest(path: Path, *, multi_label: bool, attribute: str) -> Source:
    path = path.resolve()
    name = str(path)
    table, kind = _load_table(path)
    for required in ("path", "labels"):
        if required not in table.columns:
            found = ", ".join(shown(c, 40)[1:-1] for c in table.columns) or "none"
            raise ManifestError(name, f"missing column '{required}' (columns found: {found})", column=required)
    cells = _Cells(path, kind)
    has_split = "split" in table.columns
    entries: dict[str, Entry] = {}
    first_row: dict[str, int] = {}
    columns = ["path", "labels"] + (["split"] if has_split else [])
    for index, values in enumerate(table[columns].itertuples(index=False, name=None)):
        row = index + 1
        raw_path = cells.text(values[0], row, "path", strip=False)
        if not raw_path.strip():
            raise cells.error(row, "path", "empty path")
        file = _resolve(cells, raw_path, path.parent, row)
        labels = cells.labels(values[1], row)
        if not multi_label and len(labels) > 1:
            raise cells.error(
                row,
                "labels",
                f"{len(labels)} labels ({shown(', '.join(labels), 120)[1:-1]}) on "
                f"single-label attribute {shown(attribute)}; import with --multi-label "
                "for a multi-label attribute",
            )
        split = cells.text(values[2], row, "split").lower() if has_split else ""
        if split and split not in SPLITS:
            raise cells.error(
                row, "split", f"unknown split {shown(split, 40)} (expected one of {', '.join(SPLITS)} or empty)"
            )
        key = str(file)
        entry = Entry(key, tuple(labels), split or None)
        if key in entries:
            previous = entries[key]
            merged = tuple(dict.fromkeys(previous.labels + entry.labels))
            if not multi_label and len(merged) > 1:
                raise cells.error(
                    row,
                    "labels",
                    f"{shown(file, 120)} is listed again (first in row "
                    f"{first_row[key]}) with another label on single-label attribute "
                    f"{shown(attribute)}",
                )
            if previous.split and entry.split and previous.split != entry.split:
                raise cells.error(
                    row,
                    "split",
                    f"{shown(file, 120)} is listed again (first in row "
                    f"{first_row[key]}) with split '{entry.split}' instead of "
                    f"'{previous.split}'",
                )
            entry = Entry(key, merged, previous.split or entry.split)
        else:
            first_row[key] = row
        entries[key] = entry
    return Source("manifest", name, list(entries.values()), [])
