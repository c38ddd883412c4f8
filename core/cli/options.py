"""Building ``tailor``'s options: the one-line-error parser, the arguments every command shares, and options
generated from the fields of :class:`core.config.TrainConfig` / :class:`core.config.OversampleConfig` (their
defaults, choices and help), so the command line and the window fill the same typed configuration."""

from __future__ import annotations

import argparse
import types
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import MISSING, Field, fields
from typing import Any, Union, get_args, get_origin, get_type_hints

from core.catalog.runs import recover_interrupted
from core.catalog.store import Catalog
from core.config import MAX_SEED, device_problem

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class Parser(argparse.ArgumentParser):
    """argparse, but usage errors are one line: ``tailor import: error: ... (see tailor import --help)``."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


MAX_ID = 2**63 - 1  # the largest id a catalog can hold (SQLite's and PostgreSQL's bigint)


def _whole(text: str, what: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{what} must be a whole number, got '{text}'") from None


def run_id(text: str) -> int:
    """A run id argument: a whole number from 1 up to the largest id a catalog holds."""
    value = _whole(text, "a run id")
    if not 1 <= value <= MAX_ID:
        raise argparse.ArgumentTypeError(f"'{text}' is not a run id (a whole number from 1)")
    return value


def seed(text: str) -> int:
    value = _whole(text, "a seed")
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"a seed is a whole number from 0 to {MAX_SEED}, got {text}")
    return value


def device(text: str) -> str:
    if (problem := device_problem(text)) is not None:
        raise argparse.ArgumentTypeError(problem)
    return text


def device_option(p: argparse.ArgumentParser) -> None:
    """``--device``: where a command computes (auto: cuda, then mps, then cpu)."""
    p.add_argument("--device", type=device, default="auto", help="auto (default), cpu, cuda, cuda:N or mps")


def positive(text: str) -> int:
    value = _whole(text, "a count")
    if value < 1:
        raise argparse.ArgumentTypeError(f"a count must be at least 1, got {text}")
    return value


def command(
    sub: argparse._SubParsersAction,
    name: str,
    handler: Any,
    help: str,
    description: str,
    *,
    catalog: bool = True,
    json: str | None = "print JSON",
) -> argparse.ArgumentParser:
    """A subcommand: its CATALOG argument (unless ``catalog`` is False) and ``--json`` (unless ``json`` is None);
    ``handler(args) -> exit status`` runs it."""
    parser: argparse.ArgumentParser = sub.add_parser(name, help=help, description=description)
    parser.set_defaults(handler=handler)
    if catalog:
        parser.add_argument(
            "catalog",
            metavar="CATALOG",
            help="catalog file (SQLite) or SQLAlchemy URL, e.g. postgresql+psycopg://host/db",
        )
    if json is not None:
        parser.add_argument("--json", action="store_true", help=json)
    return parser


@contextmanager
def opened(location: str) -> Iterator[Catalog]:
    """The catalog a command works on, opened once; runs whose process died are marked interrupted first (opening
    itself never writes; a read-only catalog is left as it is)."""
    with Catalog(location) as catalog:
        recover_interrupted(catalog)
        yield catalog


def add_config_options(
    parser: argparse.ArgumentParser, config: type, names: Sequence[str], *, prefix: str = ""
) -> None:
    """``--NAME`` options for these fields of the dataclass ``config``: default, choices and help from the field
    (``core.config.option``); a boolean field that defaults to True becomes ``--no-NAME``, one that defaults to False
    ``--NAME``."""
    hints = get_type_hints(config)
    by_name = {f.name: f for f in fields(config)}
    for name in names:
        _add_field(parser, by_name[name], hints[name], prefix)


def _add_field(parser: argparse.ArgumentParser, field: Field, hint: Any, prefix: str) -> None:
    flag = "--" + prefix + field.name.replace("_", "-")
    dest = (prefix + field.name).replace("-", "_")
    meta, default = field.metadata, (None if field.default is MISSING else field.default)
    base = _base_type(hint)
    if base is bool:  # True by default: --no-NAME; False by default: --NAME
        parser.add_argument(
            ("--no-" if default else "--") + field.name.replace("_", "-"),
            dest=dest,
            action="store_false" if default else "store_true",
            default=default,
            help=meta.get("help"),
        )
        return
    extra: dict[str, Any] = {key: meta[key] for key in ("choices", "metavar") if key in meta}
    if base is not str:
        extra["type"] = FIELD_TYPES.get(field.name, base)
    if "const" in meta:
        extra.update(nargs="?", const=meta["const"])
    help_text = (meta.get("help") or "").replace("%", "%%") or None
    if default is not None and "default" not in (help_text or ""):
        shown = str(default)
        help_text = f"{help_text} (default {shown})" if help_text else f"default {shown}"
    parser.add_argument(flag, dest=dest, default=default, help=help_text, **extra)


FIELD_TYPES = {"features_of": run_id, "seed": seed, "split_seed": seed}


def _base_type(hint: Any) -> Any:
    if get_origin(hint) in (Union, types.UnionType):
        return next(arg for arg in get_args(hint) if arg is not type(None))
    return hint


def config_from_args(
    config: type,
    args: argparse.Namespace,
    names: Sequence[str],
    *,
    prefixes: dict[str, str] | None = None,
    **fixed: Any,
) -> Any:
    """The dataclass ``config`` filled from the options ``add_config_options`` made (``prefixes``: the prefix an
    option was added with, by field name), plus ``fixed`` values."""
    prefixes = prefixes or {}
    values = {name: getattr(args, (prefixes.get(name, "") + name).replace("-", "_")) for name in names}
    return config(**values, **fixed)


def feature_options(p: argparse.ArgumentParser, title: str) -> argparse._ArgumentGroup:
    """The options that choose an extractor (core.curation.label_issues.FeatureChoice)."""
    features = p.add_argument_group(title)
    features.add_argument("--features-of", type=run_id, metavar="RUN", help="the backbone of this finished run")
    features.add_argument("--backbone", metavar="NAME", help="a pretrained backbone (with --pretrained)")
    features.add_argument(
        "--pretrained",
        nargs="?",
        const="imagenet",
        metavar="FILE",
        help="ImageNet weights (bundled or downloaded once) or FILE",
    )
    features.add_argument("--image-size", type=int, metavar="PX", help="input size (default: 128 px)")
    features.add_argument("--normalization", choices=("auto", "imagenet", "inception"), default="auto")
    return features
