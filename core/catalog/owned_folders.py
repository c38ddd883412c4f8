"""Folders a catalog writes into (its runs folder, its feature store) record which catalog owns them.

A shared drive is untrusted ground: a colleague's copied catalog may come with ``CATALOG.runs`` as a symbolic link
to the original's runs folder, or record a run folder that lies elsewhere. Tailor writes a run's files and feature
chunks only into a folder that

* is a real folder, not a symbolic link (nor inside one that Tailor created);
* holds an ``.owner.json`` naming this catalog: the first writer claims a new or empty folder; a folder claimed by
  another catalog that still exists is refused with one line saying what to copy; a folder whose owner is gone
  from its path (the catalog was moved together with its folders) is adopted.

:func:`inside` checks that a path lies inside such a folder once every link is resolved.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from core.base.errors import TailorError
from core.base.files import atomic_write
from core.catalog.engine import describe, is_url

OWNER_FILE = ".owner.json"


def owner_id(catalog_location: str) -> str:
    """How a folder names its catalog: the resolved file, or the URL without its password."""
    if is_url(catalog_location):
        return describe(catalog_location)
    return str(Path(catalog_location).expanduser().resolve())


def _same_catalog(recorded: str, catalog_location: str) -> bool:
    if recorded == owner_id(catalog_location):
        return True
    if is_url(catalog_location) or is_url(recorded):
        return False
    try:  # the same file under another name (a hard link, a mount seen twice)
        return os.path.samefile(recorded, owner_id(catalog_location))
    except OSError:
        return False


def _recorded_owner(folder: Path) -> str | None:
    marker = folder / OWNER_FILE
    if marker.is_symlink() or (marker.exists() and not marker.is_file()):
        raise TailorError(f"{marker} is not a regular file; Tailor does not write into {folder}")
    if not marker.exists():
        return None
    try:
        owner = json.loads(marker.read_text(encoding="utf-8"))["catalog"]
    except (OSError, ValueError, KeyError, TypeError):
        raise TailorError(f"{marker} is damaged; remove it if {folder} belongs to this catalog") from None
    if not isinstance(owner, str):
        raise TailorError(f"{marker} is damaged; remove it if {folder} belongs to this catalog")
    return owner


def owned_by(folder: Path, catalog_location: str) -> bool:
    """Whether ``folder`` is a real folder whose owner file names this catalog (nothing is written)."""
    if folder.is_symlink() or not folder.is_dir():
        return False
    try:
        owner = _recorded_owner(folder)
    except TailorError:
        return False
    return owner is not None and _same_catalog(owner, catalog_location)


def claim(folder: Path, catalog_location: str, what: str) -> Path:
    """Create ``folder`` if needed and check (or record) that ``catalog_location`` owns it; ``what`` names it in
    messages ("runs folder", "feature store"). Returns the folder."""
    if folder.is_symlink():
        raise TailorError(
            f"the {what} {folder} is a link to {os.path.realpath(folder)}; Tailor writes only into a real folder "
            f"of this catalog's own: remove the link (copy into a new folder what you need from the other one)"
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise TailorError(f"cannot create the {what} {folder}: {exc.strerror or exc}") from None
    owner = _recorded_owner(folder)
    if owner is not None and not _same_catalog(owner, catalog_location):
        if is_url(owner) or Path(owner).exists():
            raise TailorError(
                f"the {what} {folder} belongs to the catalog {owner}, not to {describe(catalog_location)}; "
                f"rename or move it away, then copy into a new {folder.name} the folders you need"
            )
        owner = None  # its catalog moved away with it: adopted
    if owner is None:
        try:
            with atomic_write(folder / OWNER_FILE, "w", encoding="utf-8") as fh:
                json.dump({"catalog": owner_id(catalog_location)}, fh)
        except OSError as exc:
            raise TailorError(f"cannot write in the {what} {folder}: {exc.strerror or exc}") from None
    return folder


def inside(path: Path, folder: Path, what: str) -> Path:
    """``path`` once its links are resolved, when that lies inside ``folder`` (resolved too); a one-line error
    otherwise."""
    resolved, root = Path(os.path.realpath(path)), Path(os.path.realpath(folder))
    if resolved != root and root not in resolved.parents:
        raise TailorError(f"{path} lies outside the {what} {folder} (at {resolved}); Tailor does not write there")
    return resolved
