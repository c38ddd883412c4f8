"""Every loss against an independent float64 NumPy computation of its formula."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.config import SINGLE_LABEL_ONLY
from core.training.losses import LOSSES, make_loss

CIFAR10_LT = [5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50]
PROFILES = {
    "cifar10-lt": CIFAR10_LT,
    "steep": [6000, 300, 40, 6],
    "balanced": [90] * 6,
    "100-labels": [int(round(500 * 0.01 ** (i / 99))) for i in range(100)],
}
RTOL = 1e-5


# -- independent reference formulas (NumPy, float64) --------------------------------------------------------


def log_softmax(x):
    z = x - x.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def raw_weights(counts, scheme, beta=0.99):
    n = np.asarray(counts, float)
    return {"nw": np.ones_like(n), "ifw": 1 / n, "isw": 1 / np.sqrt(n), "iew": (1 - beta) / (1 - beta**n)}[scheme]


def ref_single(x, y, counts, name, gamma=2.0, beta=0.99, max_m=0.5, s=30.0, weighted_drw=False):
    if name in ("ldam", "ldam-drw"):
        inv = np.asarray(counts, float) ** -0.25
        m = max_m * inv / inv.max()
        x = x.copy()
        x[np.arange(len(y)), y] -= m[y]
        x = s * x
    logp = log_softmax(x)[np.arange(len(y)), y]
    if name in ("nw", "ifw", "isw", "iew"):
        w = raw_weights(counts, name, beta)[y]
        return (w * -logp).sum() / w.sum()
    if name in ("focal", "cb-focal"):
        fl = -((1 - np.exp(logp)) ** gamma) * logp
        if name == "focal":
            return fl.mean()
        w = raw_weights(counts, "iew", beta)[y]
        return (w * fl).sum() / w.sum()
    w = raw_weights(counts, "iew", 0.9999)[y] if weighted_drw else np.ones(len(y))
    return (w * -logp).sum() / w.sum()


def ref_multi(x, t, counts, name, gamma=2.0, beta=0.99):
    bce = np.maximum(x, 0) - x * t + np.log1p(np.exp(-np.abs(x)))
    if name in ("focal", "cb-focal"):
        p = 1 / (1 + np.exp(-x))
        p_t = p * t + (1 - p) * (1 - t)
        bce = bce * (1 - p_t) ** gamma
        scheme = "iew" if name == "cb-focal" else "nw"
    else:
        scheme = name
    w = raw_weights(counts, scheme, beta)
    return (bce * w).sum() / (w.sum() * x.shape[0])


def batch(counts, size=256, seed=0, scale=3.0):
    rng = np.random.default_rng(seed)
    c = len(counts)
    x = rng.normal(0, scale, (size, c))
    y = rng.integers(0, c, size)
    t = (rng.random((size, c)) < 0.3).astype(float)
    return x, y, t


def torch_loss(loss, x, target, dtype=torch.float64):
    return float(loss(torch.tensor(x, dtype=dtype), torch.tensor(target)))


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("name", ["nw", "ifw", "isw", "iew", "focal", "cb-focal", "ldam"])
def test_single_label_losses_match_the_formulas(profile, name):
    counts = PROFILES[profile]
    x, y, _ = batch(counts, seed=hash((profile, name)) % 1000)
    if name == "ldam":
        x = np.tanh(x)  # cosine logits live in [-1, 1]
    variants = {
        "focal": {"gamma": 0.5},
        "cb-focal": {"gamma": 0.5, "beta": 0.999},
        "iew": {"beta": 0.9},
        "ldam": {"max_m": 0.3, "s": 10.0},
    }
    for params in ({}, variants.get(name, {})):
        got = torch_loss(make_loss(name, counts, multi_label=False, **params), x, y)
        assert got == pytest.approx(ref_single(x, y, counts, name, **params), rel=RTOL)


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("name", ["nw", "ifw", "isw", "iew", "focal", "cb-focal"])
def test_multi_label_losses_match_the_formulas(profile, name):
    counts = PROFILES[profile]
    x, _, t = batch(counts, seed=7)
    params = {"beta": 0.999} if name in ("iew", "cb-focal") else {}
    got = torch_loss(make_loss(name, counts, multi_label=True, **params), x, t)
    assert got == pytest.approx(ref_multi(x, t, counts, name, **params), rel=RTOL)


@pytest.mark.parametrize("multi_label", [False, True])
def test_focal_with_gamma_zero_is_cross_entropy(multi_label):
    x, y, t = batch(CIFAR10_LT)
    target = t if multi_label else y
    focal = torch_loss(make_loss("focal", CIFAR10_LT, multi_label=multi_label, gamma=0), x, target)
    plain = torch_loss(make_loss("nw", CIFAR10_LT, multi_label=multi_label), x, target)
    assert focal == pytest.approx(plain, rel=1e-12)
    cb = torch_loss(make_loss("cb-focal", CIFAR10_LT, multi_label=multi_label, gamma=0, beta=0.999), x, target)
    iew = torch_loss(make_loss("iew", CIFAR10_LT, multi_label=multi_label, beta=0.999), x, target)
    assert cb == pytest.approx(iew, rel=1e-12)


def test_ldam_drw_switches_weights_at_80_percent_of_the_epochs():
    x, y, _ = batch(CIFAR10_LT, seed=3)
    x = np.tanh(x)
    loss = make_loss("ldam-drw", CIFAR10_LT, multi_label=False)  # 200 epochs -> epoch 160
    plain = ref_single(x, y, CIFAR10_LT, "ldam-drw")
    weighted = ref_single(x, y, CIFAR10_LT, "ldam-drw", weighted_drw=True)
    assert plain != pytest.approx(weighted, rel=1e-3)
    for epoch, expected in ((0, plain), (159, plain), (160, weighted), (199, weighted)):
        loss.set_epoch(epoch)
        assert torch_loss(loss, x, y) == pytest.approx(expected, rel=RTOL), epoch
    short = make_loss("ldam-drw", CIFAR10_LT, multi_label=False, epochs=10)
    short.set_epoch(7)
    assert not short.weighted
    short.set_epoch(8)
    assert short.weighted
    assert make_loss("ldam-drw", CIFAR10_LT, multi_label=False, drw_epoch=3).drw_epoch == 3


@pytest.mark.parametrize(
    "name, multi_label",
    [(name, False) for name in LOSSES] + [(name, True) for name in LOSSES if name not in SINGLE_LABEL_ONLY],
)
def test_gradients_flow(name, multi_label):
    x, y, t = batch(CIFAR10_LT, size=32)
    logits = torch.tensor(np.tanh(x), dtype=torch.float32, requires_grad=True)
    loss = make_loss(name, CIFAR10_LT, multi_label=multi_label)
    loss.set_epoch(199)
    value = loss(logits, torch.tensor(t, dtype=torch.float32) if multi_label else torch.tensor(y))
    value.backward()
    assert torch.isfinite(value) and value > 0
    assert torch.isfinite(logits.grad).all() and logits.grad.abs().sum() > 0


def test_half_precision_logits_are_computed_in_float32():
    x, y, _ = batch(CIFAR10_LT, size=16)
    loss = make_loss("iew", CIFAR10_LT, multi_label=False)
    value = loss(torch.tensor(x, dtype=torch.bfloat16), torch.tensor(y))
    assert value.dtype == torch.float32


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: make_loss("ldam", CIFAR10_LT, multi_label=True), "defined for single-label attributes"),
        (lambda: make_loss("ldam-drw", CIFAR10_LT, multi_label=True), "defined for single-label attributes"),
        (lambda: make_loss("softmax", CIFAR10_LT, multi_label=False), "unknown loss 'softmax'"),
        (lambda: make_loss("ifw", [10, 0, 3], multi_label=False), "label index 1 has none"),
        (lambda: make_loss("nw", [10, 0, 3], multi_label=True), "label index 1 has none"),
        (lambda: make_loss("focal", CIFAR10_LT, multi_label=False, gama=2), "takes no parameter gama"),
        (lambda: make_loss("focal", CIFAR10_LT, multi_label=False, gamma=-1), "gamma must be >= 0"),
        (lambda: make_loss("nw", [5], multi_label=False), "at least two labels"),
    ],
)
def test_inapplicable_losses_raise_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_shape_mismatch_is_a_clear_error():
    loss = make_loss("nw", CIFAR10_LT, multi_label=False)
    with pytest.raises(ValueError, match=r"expected logits of shape \(batch, 10\)"):
        loss(torch.zeros(4, 9), torch.zeros(4, dtype=torch.long))


@pytest.mark.parametrize("gamma", [0.25, 0.5, 0.99, 2.0])
@pytest.mark.parametrize("name", ["focal", "cb-focal"])
@pytest.mark.parametrize("multi_label", [True, False])
def test_focal_gradients_stay_finite_at_saturated_logits(name, multi_label, gamma):
    """Issue 17: (1 - p_t)^gamma differentiated at p_t = 1 gave NaN gradients for 0 < gamma < 1."""
    logits = torch.tensor([[17.0, -3.0], [120.0, -90.0], [0.3, -0.2]], requires_grad=True)
    targets = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]]) if multi_label else torch.tensor([0, 0, 1])
    loss = make_loss(name, [10, 3], multi_label=multi_label, gamma=gamma)(logits, targets)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(logits.grad).all()


@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0])
@pytest.mark.parametrize("alpha", [-1.0, 0.25])
def test_sigmoid_focal_matches_torchvision_where_torchvision_is_finite(gamma, alpha):
    from torchvision.ops import sigmoid_focal_loss

    from core.training.losses import sigmoid_focal

    x = torch.randn(20, 4, dtype=torch.float64) * 3
    t = (torch.rand(20, 4) > 0.6).double()
    expected = sigmoid_focal_loss(x, t, alpha=alpha, gamma=gamma, reduction="none")
    assert torch.allclose(sigmoid_focal(x, t, alpha=alpha, gamma=gamma), expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("tau", [0.0, 0.5, 1.0, 2.0])
def test_balanced_softmax_is_cross_entropy_of_logits_plus_tau_log_prior(tau):
    """Menon et al. 2021, Eq. 10, against NumPy: -log softmax(z + tau log pi)_y with pi the training frequencies."""
    x, y, _ = batch(CIFAR10_LT, size=32)
    prior = np.asarray(CIFAR10_LT, float) / sum(CIFAR10_LT)
    shifted = log_softmax(x + tau * np.log(prior))
    expected = -shifted[np.arange(len(y)), y].mean()
    loss = make_loss("balanced-softmax", CIFAR10_LT, multi_label=False, tau=tau)
    assert float(loss(torch.tensor(x), torch.tensor(y))) == pytest.approx(expected, rel=RTOL)


@pytest.mark.parametrize("multi_label", [False, True])
def test_crt_loss_is_the_plain_loss(multi_label):
    x, y, t = batch(CIFAR10_LT, size=32)
    target = torch.tensor(t) if multi_label else torch.tensor(y)
    crt = make_loss("crt", CIFAR10_LT, multi_label=multi_label)(torch.tensor(x), target)
    nw = make_loss("nw", CIFAR10_LT, multi_label=multi_label)(torch.tensor(x), target)
    assert float(crt) == pytest.approx(float(nw), rel=1e-12)
