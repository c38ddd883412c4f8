"""Seed groups compared across seeds: the difference of means to the baseline's seeds with a Welch t-interval
(training randomness), marked where it excludes 0, never for a label with too few test images."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from core.analysis.compare import add_seed_differences, welch_interval
from core.analysis.compare_exports import compare_markdown


@pytest.mark.parametrize(("n", "m"), [(3, 3), (3, 5), (4, 3)])
def test_welch_interval_equals_scipys(n, m):
    rng = np.random.default_rng(n * 10 + m)
    a, b = list(rng.normal(0.6, 0.02, n)), list(rng.normal(0.55, 0.05, m))
    delta, ci = welch_interval(a, b, 0.95)
    expected = stats.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
    assert delta == pytest.approx(np.mean(a) - np.mean(b))
    assert ci == pytest.approx([expected.low, expected.high])
    assert welch_interval([0.5], b, 0.95) is None  # one seed: no spread to measure
    assert welch_interval([0.5, 0.6], b, 0.95) is None  # two: one degree of freedom, no honest interval
    assert welch_interval([0.5, None], b, 0.95) is None


def run(run_id: int, variant: str, seed: int, acsa: float, ap: list[float]) -> dict:
    return {"run_id": run_id, "loss": variant, "variant": variant, "seed": seed, "top1": acsa, "acsa": acsa,
            "gm": acsa, "macro_ap": float(np.mean(ap)), "ap": ap, "delta": {}, "groups": {}}  # fmt: skip


def group(variant: str, rows: list[dict]) -> dict:
    return {"variant": variant, "backbone": "b", "runs": [r["run_id"] for r in rows],
            "seeds": [r["seed"] for r in rows],
            "mean": {k: float(np.mean([r[k] for r in rows])) for k in ("top1", "acsa", "gm", "macro_ap")},
            "sd": {k: float(np.std([r[k] for r in rows], ddof=1)) for k in ("top1", "acsa", "gm", "macro_ap")},
            "ap_mean": list(np.mean([r["ap"] for r in rows], axis=0)),
            "ap_sd": list(np.std([r["ap"] for r in rows], axis=0, ddof=1))}  # fmt: skip


def test_groups_get_their_difference_to_the_baseline_seeds_and_too_few_is_never_significant():
    nw = [run(1, "nw", 0, 0.60, [0.80, 0.30]), run(2, "nw", 1, 0.61, [0.81, 0.31]), run(3, "nw", 2, 0.59, [0.79, 0.29])]
    crt = [run(4, "crt", 0, 0.70, [0.80, 0.60]), run(5, "crt", 1, 0.71, [0.82, 0.62]),
           run(6, "crt", 2, 0.69, [0.78, 0.61])]  # fmt: skip
    table = {"labels": ["short", "puff"], "too_few": [False, True], "test_counts": [150, 4], "train_counts": [600, 6],
             "min_test_images": 10, "baseline": 1, "rows": nw + crt, "best_ap": [0.82, 0.62], "paired_on": None,
             "seed_groups": [group("nw", nw), group("crt", crt)]}  # fmt: skip
    add_seed_differences(table)
    base, other = table["seed_groups"]
    assert "delta_seeds" not in base  # the baseline's own seeds
    assert other["baseline_runs"] == [1, 2, 3]
    acsa = other["delta_seeds"]["acsa"]
    # puff has too few test images, and ACSA averages it: not marked (issue 26), however clear the difference
    assert acsa["delta"] == pytest.approx(0.10) and acsa["ci"][0] > 0 and not acsa["significant"]
    short, puff = other["ap_delta_seeds"]
    assert short["delta"] == pytest.approx(0.0, abs=1e-9) and not short["significant"]
    assert puff["ci"][0] > 0 and not puff["significant"]  # 4 test images: too few to compare
    markdown = compare_markdown(table)
    assert "Δ +10.0 [" in markdown and "]*" not in markdown
    enough = dict(table, too_few=[False, False], seed_groups=[group("nw", nw), group("crt", crt)])
    add_seed_differences(enough)  # every label has enough test images: the overall difference is marked
    assert enough["seed_groups"][1]["delta_seeds"]["acsa"]["significant"]
    markdown = compare_markdown(enough)
    assert "Δ +10.0 [" in markdown and "]*" in markdown and "Welch t-interval across seeds" in markdown


def test_without_the_baseline_in_a_group_nothing_is_added():
    rows = [run(1, "nw", 0, 0.6, [0.8]), run(2, "crt", 0, 0.7, [0.8]), run(3, "crt", 1, 0.72, [0.81])]
    table = {"labels": ["a"], "too_few": [False], "baseline": 1, "rows": rows, "seed_groups": [group("crt", rows[1:])]}
    add_seed_differences(table)
    assert "delta_seeds" not in table["seed_groups"][0]
