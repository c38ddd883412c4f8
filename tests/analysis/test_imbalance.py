"""Imbalance statistics against their formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest

from core.analysis.imbalance import (
    GroupRule,
    assign_groups,
    class_weights,
    effective_number,
    imbalance_ratio,
    summarize,
)

CIFAR10_LT = [5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50]
PROFILES = [CIFAR10_LT, [6000, 300, 40, 6], [7, 7, 7], [1, 2, 3, 1000]]


def proportional(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return np.allclose(a / a.sum(), b / b.sum(), rtol=1e-12, atol=0)


@pytest.mark.parametrize("counts", PROFILES)
@pytest.mark.parametrize("beta", [0.9, 0.99, 0.999, 0.9999])
def test_weights_are_proportional_to_the_formulas_with_mean_lam(counts, beta):
    n = np.asarray(counts, float)
    expected = {
        "nw": np.ones_like(n),
        "ifw": 1 / n,
        "isw": 1 / np.sqrt(n),
        "iew": np.array([(1 - beta) / (1 - beta**c) for c in counts]),
    }
    for scheme, formula in expected.items():
        for lam in (1.0, 2.5):
            w = class_weights(counts, scheme, beta=beta, lam=lam)
            assert proportional(w, formula), scheme
            assert w.mean() == pytest.approx(lam, rel=1e-12)
    assert np.all(class_weights(counts, "nw") == 1.0)


def test_effective_number_formula_and_limits():
    for beta in (0.5, 0.9, 0.999, 0.9999):
        for n in (1, 2, 50, 5000):
            assert effective_number([n], beta)[0] == pytest.approx((1 - beta**n) / (1 - beta), rel=1e-12)
    assert effective_number([10, 1], 0.0).tolist() == [1.0, 1.0]
    assert effective_number([50], 1 - 1e-12)[0] == pytest.approx(50, rel=1e-6)
    assert effective_number([0], 0.99)[0] == 0.0


def test_iew_moves_from_nw_to_ifw_as_beta_grows():
    low = class_weights(CIFAR10_LT, "iew", beta=1e-6)
    high = class_weights(CIFAR10_LT, "iew", beta=1 - 1e-9)
    assert np.allclose(low, 1.0, atol=1e-4)
    assert proportional(high, 1 / np.asarray(CIFAR10_LT, float)) or np.allclose(
        high, class_weights(CIFAR10_LT, "ifw"), rtol=1e-3
    )


@pytest.mark.parametrize(
    "bad, message",
    [
        (([5, 0, 3], "ifw"), "label index 1 has none"),
        (([5, 3], "xyz"), "unknown weighting scheme 'xyz'"),
        (([], "nw"), "non-empty"),
        (([5, -1], "nw"), "non-negative"),
    ],
)
def test_bad_weight_arguments_raise_value_error(bad, message):
    with pytest.raises(ValueError, match=message):
        class_weights(*bad)
    with pytest.raises(ValueError, match="beta must be in"):
        class_weights([1, 2], "iew", beta=1.0)


def test_imbalance_ratio():
    assert imbalance_ratio(CIFAR10_LT) == 100.0
    assert imbalance_ratio([6, 0, 6000]) == 1000.0
    assert imbalance_ratio([0, 0]) is None


def test_log_group_rule_on_cifar10_lt():
    assert assign_groups(CIFAR10_LT) == ["head"] * 3 + ["medium"] * 3 + ["tail"] * 4
    assert assign_groups([7, 7]) == ["head", "head"]
    assert assign_groups([100, 10, 1, 0]) == ["head", "medium", "tail", "tail"]


def test_shots_group_rule_and_parsing():
    rule = GroupRule.parse("shots:100,20")
    assert assign_groups([101, 100, 20, 19], rule) == ["head", "medium", "medium", "tail"]
    assert GroupRule.parse("shots") == GroupRule("shots", 100, 20)
    for bad in ("shots:1", "thirds", "shots:5,10", "log:3"):
        with pytest.raises(ValueError):
            GroupRule.parse(bad)


def test_summarize_sorts_by_count_and_leaves_empty_labels_unweighted():
    stats = summarize("sleeve", "single", ["puff", "short", "none", "long"], [6, 6000, 0, 300], images=6306, beta=0.999)
    assert [item["name"] for item in stats["labels"]] == ["short", "long", "puff", "none"]
    assert stats["imbalance_ratio"] == 1000.0
    assert stats["empty_labels"] == ["none"]
    assert stats["labels"][-1]["weights"] == {"nw": None, "ifw": None, "isw": None, "iew": None}
    ifw = [item["weights"]["ifw"] for item in stats["labels"][:3]]
    assert proportional(ifw, [1 / 6000, 1 / 300, 1 / 6])
    assert stats["labels"][0]["effective_number"] == pytest.approx((1 - 0.999**6000) / 0.001)
    assert stats["groups"] == {"head": 1, "medium": 1, "tail": 2}
    assert math.isclose(sum(item["share"] for item in stats["labels"]), 1.0)
