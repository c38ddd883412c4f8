"""Labelling from the command line, as Browse and Labels ▸ Manage do in the window: ``tailor label`` gives a label to
images (or takes it off, or clears them), ``tailor labels`` lists, creates, renames, merges and deletes an
attribute's labels, ``tailor attributes`` the catalog's attributes. Each change is one transaction through
:mod:`core.catalog.edits`, the window's undoable edits; a delete that would take labels off images asks for
``--force``."""

from __future__ import annotations

import argparse
import sys

from core.base.errors import TailorError
from core.base.json_text import json_text
from core.catalog.edits import Edit
from core.catalog.names import shown
from core.catalog.store import Catalog
from core.cli.options import EXIT_OK, command, opened, run_id


def register(sub: argparse._SubParsersAction) -> None:
    _register_label(sub)
    _register_labels(sub)
    _register_attributes(sub)


def _register_label(sub: argparse._SubParsersAction) -> None:
    p = command(
        sub,
        "label",
        run_label,
        "give images a label (source human), take it off, or clear their labels of an attribute",
        "The images given as IMAGE_ID arguments, or '-' and one id a line on standard input (e.g. tailor similar "
        "--json piped through jq). On a single-label attribute an image's other label is replaced. One "
        "transaction: an unknown id or label writes nothing.",
        json=None,
    )
    p.add_argument("--attribute", "-a", required=True, metavar="NAME")
    action = p.add_mutually_exclusive_group(required=True)
    action.add_argument("--label", metavar="LABEL", help="give the images this label (created if new)")
    action.add_argument("--remove", metavar="LABEL", help="take this label off the images")
    action.add_argument("--clear", action="store_true", help="take every label of the attribute off the images")
    p.add_argument("images", metavar="IMAGE_ID", nargs="+", type=_id_or_stdin,
                   help="the images; '-' reads them from standard input, one a line")  # fmt: skip


def _register_labels(sub: argparse._SubParsersAction) -> None:
    p = command(
        sub,
        "labels",
        run_labels,
        "list, create, rename, merge or delete an attribute's labels",
        "Without an action: the labels with their image counts. Deleting a label that images still have, or "
        "merging labels, moves or removes their annotations: --delete asks for --force when images have it.",
        json="print the labels (after the change) as JSON",
    )
    p.add_argument("--attribute", "-a", required=True, metavar="NAME")
    action = p.add_mutually_exclusive_group()
    action.add_argument("--create", metavar="NAME", help="a new label")
    action.add_argument("--rename", nargs=2, metavar=("OLD", "NEW"), help="rename a label")
    action.add_argument(
        "--merge", nargs="+", metavar="LABEL", help="move these labels' images to --into, then delete them"
    )
    action.add_argument("--delete", metavar="LABEL", help="delete a label and take it off its images")
    p.add_argument("--into", metavar="LABEL", help="the label --merge moves the images to")
    p.add_argument("--force", action="store_true", help="--delete a label that images still have")


def _register_attributes(sub: argparse._SubParsersAction) -> None:
    p = command(
        sub,
        "attributes",
        run_attributes,
        "list, create, rename or delete the catalog's attributes",
        "Without an action: the attributes with their kind, labels and labelled images. --delete removes the "
        "attribute's labels and annotations too (runs keep their records) and asks for --force when images have "
        "its labels.",
        json="print the attributes (after the change) as JSON",
    )
    action = p.add_mutually_exclusive_group()
    action.add_argument("--create", metavar="NAME", help="a new attribute (single-label unless --multi-label)")
    action.add_argument("--rename", nargs=2, metavar=("OLD", "NEW"), help="rename an attribute")
    action.add_argument("--delete", metavar="NAME", help="delete an attribute, its labels and their annotations")
    p.add_argument("--multi-label", action="store_true", help="--create: several labels per image")
    p.add_argument("--force", action="store_true", help="--delete an attribute whose labels images have")


# -- tailor label ---------------------------------------------------------------------------------------------


def run_label(args: argparse.Namespace) -> int:
    from core.catalog import edits
    from core.curation.similar import checked_ids

    wanted = [i for item in args.images for i in (_ids_from_stdin() if item == "-" else [item])]
    if not wanted:
        raise TailorError("no images: standard input held no image id")
    with opened(args.catalog) as catalog:
        attribute = catalog.attribute(args.attribute)
        images = checked_ids(catalog, wanted)
        if args.clear:
            edit = edits.clear(catalog, images, attribute.id)
        elif args.remove is not None:
            edit = edits.remove(catalog, images, label_id(catalog, args.attribute, args.remove))
        else:
            edit = edits.assign(catalog, images, label_id(catalog, args.attribute, args.label, create=True))
    print(edit.sentence)
    return EXIT_OK


def _id_or_stdin(text: str) -> int | str:
    return "-" if text == "-" else run_id(text)


def _ids_from_stdin() -> list[int]:
    """The ids on standard input, one a line (blank lines skipped); a line that is not an id is one error."""
    ids = []
    for number, line in enumerate(sys.stdin.read().splitlines(), 1):
        if line.strip():
            try:
                ids.append(run_id(line.strip()))
            except argparse.ArgumentTypeError:
                raise TailorError(
                    f"standard input, line {number}: {shown(line.strip(), 40)} is not an image id"
                ) from None
    return ids


def label_id(catalog: Catalog, attribute: str, name: str, *, create: bool = False) -> int:
    """The id of the attribute's label ``name`` (one line when there is none), or of a new one when ``create``."""
    from core.catalog import edits

    counts = catalog.label_counts(attribute)
    found = next((c.label_id for c in counts.labels if c.name == name), None)
    if found is not None:
        return found
    if not create:
        raise TailorError(f"'{attribute}' has no label {shown(name)}")
    edit = edits.create_label(catalog, catalog.attribute(attribute).id, name)
    return int(edit.inserted[0].ids[0])


# -- tailor labels --------------------------------------------------------------------------------------------


def run_labels(args: argparse.Namespace) -> int:
    from core.catalog import edits

    if args.into is not None and args.merge is None:
        raise TailorError("--into goes with --merge LABEL ...")
    with opened(args.catalog) as catalog:
        attribute = catalog.attribute(args.attribute)
        edit = None
        if args.create is not None:
            edit = edits.create_label(catalog, attribute.id, args.create)
        elif args.rename is not None:
            edit = edits.rename_label(catalog, label_id(catalog, args.attribute, args.rename[0]), args.rename[1])
        elif args.merge is not None:
            if args.into is None:
                raise TailorError("--merge needs --into LABEL: the label the images move to")
            into = label_id(catalog, args.attribute, args.into)
            edit = edits.merge_labels(catalog, [label_id(catalog, args.attribute, n) for n in args.merge], into)
        elif args.delete is not None:
            label = label_id(catalog, args.attribute, args.delete)
            images = next(c.count for c in catalog.label_counts(args.attribute).labels if c.label_id == label)
            if images and not args.force:
                raise TailorError(f"{images:,} images have the label {shown(args.delete)}: pass --force to take it off "
                                  "them and delete it, or --merge it --into another label")  # fmt: skip
            edit = edits.delete_label(catalog, label)
        counts = catalog.label_counts(args.attribute).labels
    items = [{"name": c.name, "images": c.count} for c in counts]
    return _report(edit, args.json, items, [f"{c.count:>9,}  {shown(c.name)[1:-1]}" for c in counts])


# -- tailor attributes ----------------------------------------------------------------------------------------


def run_attributes(args: argparse.Namespace) -> int:
    from core.catalog import edits
    from core.catalog.records import Kind

    if args.multi_label and args.create is None:
        raise TailorError("--multi-label goes with --create NAME")
    with opened(args.catalog) as catalog:
        edit = None
        if args.create is not None:
            edit = edits.create_attribute(catalog, args.create, Kind.MULTI if args.multi_label else Kind.SINGLE)
        elif args.rename is not None:
            edit = edits.rename_attribute(catalog, catalog.attribute(args.rename[0]).id, args.rename[1])
        elif args.delete is not None:
            attribute = catalog.attribute(args.delete)
            if attribute.images and not args.force:
                raise TailorError(f"{attribute.images:,} images have labels of {shown(args.delete)}: pass --force to "
                                  "delete the attribute with its labels and their annotations")  # fmt: skip
            edit = edits.delete_attribute(catalog, attribute.id)
        attributes = catalog.attributes()
    items = [{"name": a.name, "kind": a.kind, "labels": a.labels, "images": a.images} for a in attributes]
    lines = [f"{shown(a.name)[1:-1]} ({a.kind}-label): {a.labels} labels on {a.images:,} images" for a in attributes]
    return _report(edit, args.json, items, lines)


def _report(edit: Edit | None, as_json: bool, items: list[dict], lines: list[str]) -> int:
    """What ``tailor labels`` / ``attributes`` print after a change: the list as JSON, or the change and the list."""
    if as_json:
        print(json_text(items, indent=2))
        return EXIT_OK
    if edit is not None:
        print(edit.sentence)
    for line in lines:
        print(line)
    return EXIT_OK
