"""A seed group: the same configuration trained once per seed, every run on the same train/test split (the first
seed's, or ``split_seed``) so the runs are compared on the same test images and their spread is the training's."""

from __future__ import annotations

from dataclasses import replace

from core.base.errors import TailorError
from core.config import OVERSAMPLERS, TrainConfig, new_batch

MAX_SEEDS = 100


def parse_seeds(text: str) -> list[int]:
    """``"0,1,2"`` or ``"0-4"`` (or both, ``"0-2,7"``) as distinct seeds in the order given."""
    seeds: list[int] = []
    for part in text.split(","):
        part = part.strip()
        try:
            if "-" in part[1:]:
                first, last = (int(x) for x in part.split("-", 1))
                if last < first:
                    raise ValueError
                seeds.extend(range(first, last + 1))
            else:
                seeds.append(int(part))
        except ValueError:
            raise TailorError(f"--seeds: {part!r} is not a seed or a range like 0-4 (e.g. --seeds 0,1,2)") from None
    if any(s < 0 for s in seeds) or len(set(seeds)) != len(seeds):
        raise TailorError(f"--seeds: seeds must be distinct and not negative, got {text}")
    if len(seeds) > MAX_SEEDS:
        raise TailorError(f"--seeds: at most {MAX_SEEDS} seeds, got {len(seeds)}")
    return seeds


def variant_configs(base: TrainConfig, variants: list[str], seeds: list[int] | None) -> list[tuple[str, TrainConfig]]:
    """Seed by seed (a seed group on the first seed's split; ``None``: ``base`` alone), each variant's run: a loss
    trains with that loss; an oversampler (the convex-GAN) is Phase 2 on an nw run, whose ``oversample`` names it.
    More than one run: they share a batch id (``base``'s, or a new one), by which the Runs tab groups them."""
    if base.batch is None and len(variants) * len(seeds or [0]) > 1:
        base = replace(base, batch=new_batch("seeds" if seeds and len(seeds) > 1 else "variants"))
    return [
        (v, replace(c, loss="nw", oversample=v) if v in OVERSAMPLERS else replace(c, loss=v, oversample=None))
        for c in (seed_configs(base, seeds) if seeds else [base])
        for v in variants
    ]


def seed_configs(config: TrainConfig, seeds: list[int]) -> list[TrainConfig]:
    """One configuration per seed, all with one split seed: ``config.split_seed`` or the first seed."""
    split = config.split_seed if config.split_seed is not None else seeds[0]
    batch = config.batch or (new_batch("seeds") if len(seeds) > 1 else None)
    return [replace(config, seed=seed, split_seed=split, batch=batch) for seed in seeds]
