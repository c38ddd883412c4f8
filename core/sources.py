"""What an import reads: a class-per-folder tree or a CSV/Parquet manifest, turned into import entries.

Folder trees: ``ROOT/<label>/**/<image>``, or ``ROOT/<split>/<label>/**/<image>`` with split folders named
``train``, ``val`` or ``test`` (the split is recorded). Hidden files and folders (names starting with ".") are
ignored; any other file is an import candidate, and files that are not images are skipped with a reason.

Manifests (pandas): columns ``path`` and ``labels`` (``|``-separated; several only on multi-label attributes;
empty for an unlabeled image) and optional ``split``. Relative paths resolve against the manifest's folder.
Any invalid row fails the whole manifest with one line naming the file, the row and the column, before anything
is written.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from core.errors import ManifestError, TailorError
from core.models import SPLITS

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


def read_source(location: str | os.PathLike, *, multi_label: bool, attribute: str) -> Source:
    path = Path(location).expanduser()
    if path.is_dir():
        return read_folder(path)
    if path.is_file():
        return read_manifest(path, multi_label=multi_label, attribute=attribute)
    raise TailorError(f"{location}: no such folder or manifest file")


# -- folders ----------------------------------------------------------------------------------------------

def _walk_files(folder: Path, broken: list[tuple[str, str]] | None = None) -> list[str]:
    """All non-hidden files below ``folder``, sorted, using scandir (fast on large trees). Broken symbolic links
    are added to ``broken`` with a reason."""
    found: list[str] = []
    stack = [str(folder)]
    while stack:
        current = stack.pop()
        try:
            with os.scandir(current) as it:
                for entry in it:
                    if entry.name.startswith("."):
                        continue
                    if entry.is_dir(follow_symlinks=True):
                        stack.append(entry.path)
                    elif entry.is_file(follow_symlinks=True):
                        found.append(entry.path)
                    elif entry.is_symlink() and broken is not None:
                        broken.append((entry.path, "broken symbolic link"))
        except PermissionError:
            continue
    found.sort()
    return found


def _subfolders(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def read_folder(root: Path) -> Source:
    root = root.resolve()
    top = _subfolders(root)
    split_dirs = [p for p in top if p.name in SPLITS]
    if split_dirs and len(split_dirs) != len(top):
        others = ", ".join(p.name for p in top if p.name not in SPLITS)
        raise TailorError(f"{root}: mixes split folders ({', '.join(p.name for p in split_dirs)}) with label "
                          f"folders ({others}); put every label folder under train/, val/ or test/")
    layout = [(p.name, p) for p in split_dirs] if split_dirs else [(None, root)]
    entries: list[Entry] = []
    passed_over: list[tuple[str, str]] = []
    for split, base in layout:
        for file in sorted(p for p in base.iterdir() if p.is_file() and not p.name.startswith(".")):
            passed_over.append((str(file), "not inside a label folder"))
        for label_dir in _subfolders(base):
            for file in _walk_files(label_dir, passed_over):
                entries.append(Entry(file, (label_dir.name,), split))
    if not entries and not passed_over:
        raise TailorError(f"{root}: no label folders with files found (expected {root}/<label>/<image files>)")
    return Source("folder", str(root), entries, passed_over)


# -- manifests --------------------------------------------------------------------------------------------

def _load_table(path: Path):
    import pandas as pd

    kind = MANIFEST_SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise TailorError(f"{path}: unsupported manifest type '{path.suffix}' (use .csv, .tsv or .parquet)")
    try:
        if kind == "parquet":
            table = pd.read_parquet(path)
        else:
            table = pd.read_csv(path, sep="\t" if kind == "tsv" else ",", dtype=str, keep_default_na=False,
                                skipinitialspace=True)
    except (ValueError, OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        text = str(exc).strip().splitlines()
        raise TailorError(f"{path}: cannot read {kind.upper()} manifest ({text[0] if text else exc})") from None
    table.columns = [str(c).strip() for c in table.columns]
    return table, kind


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value != value:  # NaN from Parquet
        return ""
    return str(value).strip()


def _labels(value) -> list[str]:
    if isinstance(value, (list, tuple)) or type(value).__name__ == "ndarray":
        return [str(v).strip() for v in value if str(v).strip()]
    return [part.strip() for part in _cell(value).split(LABEL_SEPARATOR) if part.strip()]


def read_manifest(path: Path, *, multi_label: bool, attribute: str) -> Source:
    path = path.resolve()
    name = str(path)
    table, kind = _load_table(path)
    for required in ("path", "labels"):
        if required not in table.columns:
            found = ", ".join(map(str, table.columns)) or "none"
            raise ManifestError(name, f"missing column '{required}' (columns found: {found})", column=required)
    has_split = "split" in table.columns
    base = path.parent
    entries: dict[str, Entry] = {}
    first_row: dict[str, int] = {}
    columns = ["path", "labels"] + (["split"] if has_split else [])
    for index, values in enumerate(table[columns].itertuples(index=False, name=None)):
        row = index + 1
        where = {"row": row, "line": row + 1 if kind != "parquet" else None}
        raw_path = _cell(values[0])
        if not raw_path:
            raise ManifestError(name, "empty path", column="path", **where)
        file = Path(raw_path).expanduser()
        file = (file if file.is_absolute() else base / file).resolve()
        if not file.is_file():
            raise ManifestError(name, f"file not found: {file}", column="path", **where)
        labels = _labels(values[1])
        if len(set(labels)) != len(labels):
            labels = list(dict.fromkeys(labels))
        if not multi_label and len(labels) > 1:
            raise ManifestError(name, f"{len(labels)} labels ({', '.join(labels)}) on single-label attribute "
                                f"'{attribute}'; import with --multi-label for a multi-label attribute",
                                column="labels", **where)
        split = _cell(values[2]).lower() if has_split else ""
        if split and split not in SPLITS:
            raise ManifestError(name, f"unknown split '{_cell(values[2])}' (expected one of "
                                f"{', '.join(SPLITS)} or empty)", column="split", **where)
        key = str(file)
        entry = Entry(key, tuple(labels), split or None)
        if key in entries:
            previous = entries[key]
            merged = tuple(dict.fromkeys(previous.labels + entry.labels))
            if not multi_label and len(merged) > 1:
                raise ManifestError(name, f"{file} is listed again (first in row {first_row[key]}) with another "
                                    f"label on single-label attribute '{attribute}'", column="labels", **where)
            if previous.split and entry.split and previous.split != entry.split:
                raise ManifestError(name, f"{file} is listed again (first in row {first_row[key]}) with split "
                                    f"'{entry.split}' instead of '{previous.split}'", column="split", **where)
            entry = Entry(key, merged, previous.split or entry.split)
        else:
            first_row[key] = row
        entries[key] = entry
    return Source("manifest", name, list(entries.values()), [])
