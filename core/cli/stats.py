"""The long-tail statistics of ``tailor stats`` (and the demo): computed from the catalog's counts, as JSON or a
terminal table."""

from __future__ import annotations

from core.analysis.imbalance import GroupRule, summarize
from core.base.errors import TailorError
from core.catalog.store import Catalog


def shown_split(catalog: Catalog, split: str | None) -> str | None:
    """The split the statistics show: the one asked for ("all": every split), else the training split when the
    catalog has one (a balanced test set would hide the training imbalance), else every split."""
    if split == "all":
        return None
    if split is not None:
        return split
    return "train" if catalog.image_count("train") > 0 else None


def stats_dict(catalog: Catalog, attribute: str, *, beta: float, split: str | None, groups: str) -> dict:
    """``tailor stats --json``: the attribute's counts summarised by core.analysis.imbalance.summarize, of
    :func:`shown_split` (``split`` says which: a split's name, or "all")."""
    try:
        rule = GroupRule.parse(groups)
        if not 0 <= beta < 1:
            raise ValueError(f"--beta must be in [0, 1), got {beta}")
    except ValueError as exc:
        raise TailorError(str(exc)) from None
    split = shown_split(catalog, split)
    counts = catalog.label_counts(attribute, split)
    if not counts.labels:
        where = f" in split {split}" if split else ""
        raise TailorError(
            f"attribute '{attribute}' has no labelled images{where} yet "
            f"(tailor import CATALOG SOURCE --attribute {attribute})"
        )
    stats = summarize(
        counts.attribute,
        counts.kind,
        [c.name for c in counts.labels],
        [c.count for c in counts.labels],
        images=counts.images,
        split=split,
        beta=beta,
        rule=rule,
    )
    stats["split"] = split or "all"
    return stats


def format_stats(stats: dict) -> str:
    """The table ``tailor stats`` prints: one line per label with its share, group, E_n and weights."""
    where = "all splits" if stats["split"] in (None, "all") else f"split {stats['split']}"
    ratio = stats["imbalance_ratio"]
    groups = stats["groups"]
    lines = [
        f"{stats['attribute']} ({stats['kind']}-label), {where}: {stats['images']:,} images, "
        f"{len(stats['labels'])} labels, imbalance ratio {'n/a' if ratio is None else f'{ratio:,.1f}'}",
        f"groups ({stats['group_rule']}): head {groups['head']}, medium {groups['medium']}, tail {groups['tail']}; "
        f"class weights have mean 1",
    ]
    if not stats["labels"]:
        return "\n".join(lines)
    width = max(5, *(len(item["name"]) for item in stats["labels"]))
    top = max(item["count"] for item in stats["labels"]) or 1
    beta = stats["beta"]
    lines.append(
        f"{'label':<{width}}  {'count':>7}  {'share':>6}  {'group':<6}  {f'E_n(b={beta:g})':>12}  "
        f"{'nw':>6}  {'ifw':>7}  {'isw':>6}  {'iew':>7}  "
    )
    for item in stats["labels"]:
        w = item["weights"]
        bar = "█" * max(1 if item["count"] else 0, round(20 * item["count"] / top))
        lines.append(
            f"{item['name']:<{width}}  {item['count']:>7,}  {item['share']:>6.1%}  {item['group']:<6}  "
            f"{item['effective_number']:>12.2f}  {_number(w['nw'], 6)}  {_number(w['ifw'], 7)}  "
            f"{_number(w['isw'], 6)}  "
            f"{_number(w['iew'], 7)}  {bar}"
        )
    if stats["empty_labels"]:
        lines.append(f"labels without images (no weights): {', '.join(stats['empty_labels'])}")
    return "\n".join(lines)


def _number(value: float | None, width: int) -> str:
    return f"{'-':>{width}}" if value is None else f"{value:>{width}.3f}"
