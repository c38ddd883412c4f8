"""The convex-GAN oversampler: convex hulls, class selection, D's schedule, the toy problem, runs and the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from scipy import stats
from torch import nn

from core.config import OversampleConfig
from core.oversampling.gan import FeatureBank, Phase2, default_samples, minority_probabilities

CPU = torch.device("cpu")


def blobs(counts, seed):
    """Four 2-D Gaussian classes on the corners of a square, ``counts`` points each."""
    rng = np.random.default_rng(seed)
    centres = np.array([[0, 0], [2.0, 0], [0, 2.0], [2.0, 2.0]])
    x = np.concatenate([rng.normal(centres[c], 0.7, size=(n, 2)) for c, n in enumerate(counts)])
    y = np.concatenate([[c] * n for c, n in enumerate(counts)])
    return torch.tensor(x, dtype=torch.float32), torch.tensor(y)


def bank_of(x, y, num_labels=4, **kwargs):
    return FeatureBank(
        x,
        [(int(c),) for c in y],
        num_labels,
        dictionary_size=kwargs.pop("dictionary_size", 2000),
        seed=0,
        multi_label=False,
    )


def phase(bank, head=None, **settings):
    config = OversampleConfig(**{"batch_size": 64, "epochs": 1, **settings})
    return Phase2(bank, head or nn.Linear(bank.dim, bank.num_labels), config, cosine=False, device=CPU)


@pytest.mark.parametrize("weights", ["per-feature", "per-dimension"])
def test_generated_features_are_convex_combinations_of_the_sampled_ones(weights):
    x, y = blobs([300, 60, 20, 9], 0)
    p = phase(bank_of(x, y), weights=weights, samples=8)
    mixed, w, rows = p.synthesise(3, 50, seed=1)
    assert rows.shape == (50, 8) and bool((y[rows] == 3).all())  # sampled from that class's dictionary
    assert all(len(set(r.tolist())) == 8 for r in rows)  # without replacement
    assert bool((w >= 0).all()) and torch.allclose(w.sum(1), torch.ones(50))
    pool = x[rows]
    if weights == "per-feature":
        assert torch.allclose(mixed, torch.bmm(w.unsqueeze(1), pool).squeeze(1), atol=1e-6)
    # inside the sampled features' bounding box (per dimension: the convex hull of each coordinate)
    assert bool((mixed >= pool.min(1).values - 1e-5).all()) and bool((mixed <= pool.max(1).values + 1e-5).all())
    again, w2, rows2 = p.synthesise(3, 50, seed=1)
    assert torch.equal(mixed, again) and torch.equal(rows, rows2)  # reproducible


def test_dictionaries_are_capped_and_each_class_mixes_up_to_its_own_count():
    """Issue 17: N_s per class, at most that class's count, instead of the global minimum (the paper's)."""
    x, y = blobs([300, 60, 20, 9], 0)
    bank = bank_of(x, y, dictionary_size=50)
    assert bank.dictionary_counts.tolist() == [50, 50, 20, 9]
    assert default_samples(bank.dictionary_counts.numpy()) == 50  # the generator's width: min(100, largest)
    assert default_samples(np.array([5000, 300])) == 100
    _pool, rows, valid = bank.sample_pool(torch.tensor([3, 0]), 10, torch.Generator().manual_seed(0))
    assert valid.sum(1).tolist() == [9, 10] and len(set(rows[0, :9].tolist())) == 9
    p = phase(bank, samples=10)
    _mixed, w, rows = p.synthesise(3, 20, seed=1)
    assert torch.all(w[:, 9:] == 0) and torch.allclose(w.sum(1), torch.ones(20))  # the 9 of class 3, no more


def test_generator_classes_follow_n_max_minus_n_c():
    counts = np.array([400, 200, 100, 40])
    probabilities = minority_probabilities(counts)
    assert probabilities[0] == 0 and probabilities.sum() == pytest.approx(1)
    x, y = blobs(counts.tolist(), 0)
    p = phase(bank_of(x, y), samples=4, batch_size=256)
    for _ in range(20):
        p.step()
    observed = p.generator_draws
    assert observed[0] == 0  # the largest class is never drawn
    expected = probabilities[1:] * observed.sum()
    assert stats.chisquare(observed[1:], expected).pvalue > 0.001
    generated = p.generated  # Q's synthetic batches: the same distribution over C_m (issue 17)
    assert generated[0] == 0
    assert stats.chisquare(generated[1:], probabilities[1:] * generated.sum()).pvalue > 0.001


def test_discriminator_is_updated_every_fifth_iteration():
    x, y = blobs([100, 30, 10, 6], 0)
    p = phase(bank_of(x, y), samples=4)
    before = [t.clone() for t in p.discriminator.parameters()]
    updated = []
    for _ in range(11):
        _q, d, _g = p.step()
        updated.append(d is not None)
        now = list(p.discriminator.parameters())
        assert any(not torch.equal(a, b) for a, b in zip(before, now)) == updated[-1]
        before = [t.clone() for t in now]
    assert updated == [i % 5 == 0 for i in range(11)] and p.d_updates == 3


def test_phase_2_raises_minority_recall_on_a_long_tailed_toy_problem():
    x, y = blobs([1000, 200, 40, 12], 0)
    xt, yt = blobs([300] * 4, 1)
    torch.manual_seed(0)
    head = nn.Linear(2, 4)
    optimiser = torch.optim.Adam(head.parameters(), lr=0.05)
    for _ in range(300):  # Phase 1: a classifier trained on the imbalanced data
        loss = nn.functional.cross_entropy(head(x), y)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()

    def recall(h):
        with torch.no_grad():
            predicted = h(xt).argmax(1)
        return np.array([float((predicted[yt == c] == c).float().mean()) for c in range(4)])

    before = recall(head)
    p = phase(bank_of(x, y), head=head, epochs=10, batch_size=128)
    steps = list(p.run())
    after = recall(p.head)
    assert steps[-1].epoch_done and steps[-1].epoch == 9
    assert after[3] > before[3] + 0.15, (before, after)  # the rarest class
    assert after[2:].mean() > before[2:].mean()
    assert after.mean() > before.mean()  # class-averaged accuracy rises too


def test_oversample_cli_records_a_run_with_its_base(tmp_path):
    from tests.conftest import main_cli, make_garments, run_cli

    make_garments(tmp_path / "images", {"long": 30, "short": 14, "cap": 6, "puff": 4}, size=(16, 16))
    catalog = tmp_path / "c.sqlite"
    assert main_cli("init", str(catalog)).returncode == 0  # set-up in this process; the commands tested run as
    assert main_cli("import", str(catalog), str(tmp_path / "images"), "--attribute", "sleeve").returncode == 0
    done = run_cli(
        "train",
        str(catalog),
        "-a",
        "sleeve",
        "--backbone",
        "resnet32-cifar",
        "--epochs",
        "1",
        "--batch-size",
        "16",
        "--image-size",
        "16",
        "--oversample",
        "convex-gan",
        "--gan-epochs",
        "2",
        "--gan-batch-size",
        "32",
        "--json",
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["loss"] == "convex-gan" and result["status"] == "finished"
    base = result["base_run_id"]
    assert base is not None and base != result["run_id"] and result["epochs_done"] == 2
    assert "features of" in done.stderr and "phase 2 epoch 2" in done.stderr
    listed = {r["run_id"]: r for r in json.loads(main_cli("runs", str(catalog), "--json").stdout)}
    assert listed[base]["loss"] == "nw" and listed[result["run_id"]]["base_run_id"] == base

    again = run_cli("oversample", str(catalog), str(base), "--epochs", "1", "--batch-size", "32", "--json")
    assert again.returncode == 0, again.stderr
    assert "0 computed" in again.stderr  # Phase 1 features of the base run come from the feature store
    inspect = main_cli("synthetic", str(catalog), str(result["run_id"]), "--label", "puff", "--count", "2", "--json")
    assert inspect.returncode == 0, inspect.stderr
    shown = json.loads(inspect.stdout)
    # each synthetic puff mixes min(N_s, its own count): 3 of the 4 puff images are in the training split
    assert len(shown["synthetic"]) == 2 and shown["samples_per_synthetic"] == 3
    assert all(len(s["mixes"]) == 3 for s in shown["synthetic"])
    assert all(abs(s["weight_sum"] - 1) < 1e-3 for s in shown["synthetic"])
    assert sum(shown["generated_per_label"].values()) > 0

    bad = main_cli("oversample", str(catalog), "999")
    assert bad.returncode != 0 and bad.stderr.strip().count("\n") == 0 and "no run 999" in bad.stderr
    bad = main_cli("synthetic", str(catalog), str(base), "--label", "puff")
    assert bad.returncode != 0 and "not a finished convex-gan run" in bad.stderr
