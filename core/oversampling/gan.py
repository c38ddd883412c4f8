"""Convex-GAN minority oversampling over feature dictionaries: Phase 2 of Park, Song and Kang, "Imbalanced
Classification via Feature Dictionary-Based Minority Oversampling" (IEEE Access 2022), after Mullick et al.'s
GAMO (ICCV 2019). This module works on feature tensors only; ``core.oversampling.job`` feeds it a run's features
and records the result as a run.

* **Dictionaries** (:class:`FeatureBank`): per class, at most ``dictionary_size`` features of its training images
  (a seeded random subset; all when fewer).
* **Generator** G (:class:`ConvexGenerator`): ``[z ~ N(0, I) ; one-hot class]`` -> FC 512 -> FC 1024 -> FC to
  convex weights over the features sampled (without replacement) from that class's dictionary: min(N_s, the
  class's own count) of them (N_s is the generator's width, min(100, the largest dictionary) by default; the
  weights of the slots a small class cannot fill are 0); the synthetic feature is ``sum_i w_i f_i``. Two readings of
  the paper's output layer, both supported:

  - ``per-feature`` (default, Eq. 3): one weight per sampled feature, a softmax over the N_s of them;
  - ``per-dimension`` (the output size of the paper's Table 1): N_s x D weights, a softmax over the N_s sampled
    features separately for every feature dimension.

  Either way every synthetic feature lies in the convex hull of the sampled real ones (per dimension, for the
  second reading: in their bounding box).
* **Discriminator** D (:class:`Discriminator`): ``[feature ; one-hot class]`` -> FC 1024 -> FC 512 -> 1, trained
  with the least-squares GAN loss (Eq. 5): ``(D(real) - 1)^2 / 2 + D(fake)^2 / 2``.
* **Classifier** Q: the base run's head, fine-tuned on real and generated features with MSE (the paper's baseline:
  squared error between the softmax, or sigmoid, output and the target, summed over labels), focal or LDAM.

Each iteration (Algorithm 1): Q is updated on a batch of real features (classes drawn uniformly) and on a batch
generated with G fixed, and D on the same two batches every ``d_every``-th iteration; synthetic features are only
ever of C_m, the classes but the largest, drawn with probability proportional to ``N_max - N_c`` (so the smaller a
class, the more it is generated); G is updated to make D call its features real, ``lam (D(G) - 1)^2``, while
pushing Q's score of the conditioning class down in the same least-squares form, ``Q_c(G)^2`` (Eq. 4: hard but
realistic minority samples, as in GAMO). Since the real batch is class-balanced already, Q is re-balanced even
without G: the control of the benchmark is cRT on the same features (``core.heads``, docs/benchmarks.md). Adam
(0.9, 0.999) for all three, ``lr`` then ``lr_late`` after
``decay_after`` epochs; Q's rate is ``head_lr`` (decayed by the same factor), 1e-3 by default: at the paper's
5e-5 a head moves too little in the few thousand iterations of a CIFAR-size problem to change its balance (on the
toy problem of the tests the tail recall stays at 0.22 with 5e-5 and rises to 0.52 with 1e-3; ``--head-lr 5e-5``
is the paper's setting). An epoch is ``iterations`` iterations, by default enough to draw C x N_max samples (the
size of the training set balanced by oversampling).

Multi-label attributes: a label's dictionary holds the features of the images that carry it; real samples keep
their full 0/1 targets, a synthetic feature is a positive of its label only (the other labels are unknown; they
are treated as absent).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from core.base.errors import TailorError
from core.config import HeadLossName, OversampleConfig
from core.training.losses import make_loss

# -- dictionaries -------------------------------------------------------------------------------------------------


class FeatureBank:
    """Training features, their targets, per-class members and dictionaries (row numbers into ``features``)."""

    def __init__(
        self,
        features: torch.Tensor,
        targets: list[tuple[int, ...]],
        num_labels: int,
        *,
        dictionary_size: int,
        seed: int,
        multi_label: bool,
    ) -> None:
        self.features = features.float()
        self.num_labels = num_labels
        self.multi_label = multi_label
        members: list[list[int]] = [[] for _ in range(num_labels)]
        for row, labels in enumerate(targets):
            for label in labels:
                members[label].append(row)
        empty = [c for c, rows in enumerate(members) if not rows]
        if empty:
            raise TailorError(f"labels {empty} have no training features; the oversampler needs at least one per label")
        self.counts = np.array([len(rows) for rows in members])
        self.member_counts = torch.tensor(self.counts)
        rng = np.random.default_rng(seed)
        dictionaries = [
            rows
            if len(rows) <= dictionary_size
            else sorted(rng.choice(rows, size=dictionary_size, replace=False).tolist())
            for rows in members
        ]
        width = max(len(rows) for rows in dictionaries)
        self.dictionary = torch.full((num_labels, width), -1, dtype=torch.long)
        for c, rows in enumerate(dictionaries):
            self.dictionary[c, : len(rows)] = torch.tensor(rows)
        self.dictionary_counts = torch.tensor([len(rows) for rows in dictionaries])
        width = max(len(rows) for rows in members)
        self.members = torch.full((num_labels, width), -1, dtype=torch.long)
        for c, rows in enumerate(members):
            self.members[c, : len(rows)] = torch.tensor(rows)
        if multi_label:
            self.target_matrix = torch.zeros((len(targets), num_labels))
            for row, labels in enumerate(targets):
                self.target_matrix[row, list(labels)] = 1.0
        else:
            self.target_vector = torch.tensor([labels[0] for labels in targets])

    @property
    def dim(self) -> int:
        return self.features.shape[1]

    def real(self, classes: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """One real feature of each given class (drawn from all its training features) and its targets."""
        pick = (torch.rand(len(classes), generator=generator) * self.member_counts[classes]).long()
        rows = self.members[classes, pick]
        targets = self.target_matrix[rows] if self.multi_label else self.target_vector[rows]
        return self.features[rows], targets

    def sample_pool(
        self, classes: torch.Tensor, samples: int, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """For each class, min(``samples``, its dictionary size) distinct dictionary features: the features
        (B x N_s x D), their rows (B x N_s) and which slots hold one (B x N_s; a class with fewer features than N_s
        fills the rest with repeats that the generator's weights never reach)."""
        counts = self.dictionary_counts[classes]
        width = self.dictionary.shape[1]
        keys = torch.rand((len(classes), width), generator=generator)
        keys[torch.arange(width).unsqueeze(0) >= counts.unsqueeze(1)] = 2.0  # never picked before a real slot
        slots = keys.topk(min(samples, width), dim=1, largest=False).indices
        valid = torch.arange(slots.shape[1]).unsqueeze(0) < counts.unsqueeze(1)
        slots = torch.where(valid, slots, slots[:, :1])  # padding repeats a real slot (weight 0)
        rows = self.dictionary[classes.unsqueeze(1), slots]
        return self.features[rows], rows, valid


def default_samples(counts: np.ndarray) -> int:
    """N_s, the generator's width: min(100, the largest dictionary); each class mixes min(N_s, its own count)."""
    return max(1, min(100, int(counts.max())))


def minority_probabilities(counts: np.ndarray) -> np.ndarray:
    """G's class distribution: proportional to N_max - N_c (so the largest class is never drawn); uniform when all
    classes are equal."""
    gaps = counts.max() - counts.astype(np.float64)
    return gaps / gaps.sum() if gaps.sum() > 0 else np.full(len(counts), 1 / len(counts))


# -- networks -----------------------------------------------------------------------------------------------------


class ConvexGenerator(nn.Module):
    def __init__(
        self, num_labels: int, samples: int, dim: int, *, noise: int = 256, per_dimension: bool = False
    ) -> None:
        super().__init__()
        self.num_labels, self.samples, self.dim, self.noise = num_labels, samples, dim, noise
        self.per_dimension = per_dimension
        self.net = nn.Sequential(
            nn.Linear(noise + num_labels, 512),
            nn.ReLU(),
            nn.Linear(512, 1024),
            nn.ReLU(),
            nn.Linear(1024, samples * (dim if per_dimension else 1)),
        )

    def weights(self, z: torch.Tensor, classes: torch.Tensor, valid: torch.Tensor | None = None) -> torch.Tensor:
        """Convex weights: B x N_s (per feature) or B x N_s x D (per dimension), >= 0, summing to 1 over the valid
        slots of N_s (``valid``: B x N_s; the others get weight 0)."""
        logits = self.net(torch.cat([z, F.one_hot(classes, self.num_labels).float()], dim=1))
        if self.per_dimension:
            logits = logits.view(len(z), self.samples, self.dim)
        if valid is not None:
            mask = ~valid.unsqueeze(2) if self.per_dimension else ~valid
            logits = logits.masked_fill(mask, float("-inf"))
        return torch.softmax(logits, dim=1)

    def forward(
        self, z: torch.Tensor, classes: torch.Tensor, pool: torch.Tensor, valid: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        w = self.weights(z, classes, valid)
        mixed = (w * pool).sum(1) if self.per_dimension else torch.bmm(w.unsqueeze(1), pool).squeeze(1)
        return mixed, w


class Discriminator(nn.Module):
    def __init__(self, num_labels: int, dim: int) -> None:
        super().__init__()
        self.num_labels = num_labels
        self.net = nn.Sequential(
            nn.Linear(dim + num_labels, 1024),
            nn.LeakyReLU(0.2),
            nn.Linear(1024, 512),
            nn.LeakyReLU(0.2),
            nn.Linear(512, 1),
        )

    def forward(self, features: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
        scores: torch.Tensor = self.net(torch.cat([features, F.one_hot(classes, self.num_labels).float()], dim=1))
        return scores.squeeze(1)


# -- the classifier's losses ---------------------------------------------------------------------------------


class HeadLoss:
    """Q's loss on logits and targets (class indices, or 0/1 rows for multi-label), its scores, and the score of
    one class per sample (what G pushes down)."""

    def __init__(self, name: str, counts: np.ndarray, *, multi_label: bool, cosine: bool) -> None:
        if name == HeadLossName.LDAM and (multi_label or not cosine):
            raise TailorError(
                "--head-loss ldam needs a single-label base run trained with ldam or ldam-drw (a cosine head)"
            )
        self.name, self.multi_label = name, multi_label
        self.scale = 30.0 if cosine else 1.0  # cosine logits are in [-1, 1]: LDAM's s
        self.criterion = None if name == "mse" else make_loss(name, counts, multi_label=multi_label)

    def scores(self, logits: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(logits * self.scale) if self.multi_label else torch.softmax(logits * self.scale, 1)

    def __call__(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        if self.criterion is not None:
            loss: torch.Tensor = self.criterion(
                logits if self.name == HeadLossName.LDAM else logits * self.scale, targets
            )
            return loss
        wanted = targets if self.multi_label else F.one_hot(targets, logits.shape[1]).float()
        return ((self.scores(logits) - wanted) ** 2).sum(1).mean()

    def as_targets(self, classes: torch.Tensor, num_labels: int) -> torch.Tensor:
        return F.one_hot(classes, num_labels).float() if self.multi_label else classes


# -- Phase 2 ------------------------------------------------------------------------------------------------------


@dataclass
class Phase2Step:
    """Progress of Phase 2, yielded every ``report_every`` iterations and at the end of each epoch."""

    epoch: int
    iteration: int  # within the epoch, 1-based
    iterations: int
    q_loss: float  # running means over the epoch so far
    d_loss: float
    g_loss: float
    epoch_done: bool = False


class Phase2:
    """The three networks, their optimisers and the sampling state; :meth:`run` trains them."""

    def __init__(
        self, bank: FeatureBank, head: nn.Module, config: OversampleConfig, *, cosine: bool, device: torch.device
    ) -> None:
        config.validate()
        self.bank, self.config, self.device = bank, config, device
        self.samples = config.samples or default_samples(bank.dictionary_counts.numpy())
        torch.manual_seed(config.seed)
        self.rng = torch.Generator().manual_seed(config.seed)
        self.head = head.to(device)
        self.generator = ConvexGenerator(
            bank.num_labels, self.samples, bank.dim, noise=config.noise, per_dimension=config.weights == "per-dimension"
        ).to(device)
        self.discriminator = Discriminator(bank.num_labels, bank.dim).to(device)
        self.loss = HeadLoss(config.head_loss, bank.counts, multi_label=bank.multi_label, cosine=cosine)
        self.optimisers = {
            name: torch.optim.Adam(module.parameters(), lr=config.lr, betas=(0.9, 0.999))
            for name, module in (("q", self.head), ("d", self.discriminator), ("g", self.generator))
        }
        self.head_lr = config.head_lr or config.lr
        self.minority = torch.tensor(minority_probabilities(bank.counts), dtype=torch.float64)
        self.iterations = config.iterations or max(
            1, math.ceil(bank.num_labels * int(bank.counts.max()) / config.batch_size)
        )
        self.generated = np.zeros(bank.num_labels, dtype=np.int64)  # synthetic features Q was trained on
        self.generator_draws = np.zeros(bank.num_labels, dtype=np.int64)  # classes of G's updates
        self.d_updates = 0
        self.iteration = 0  # over all epochs

    def _uniform(self) -> torch.Tensor:
        return torch.randint(self.bank.num_labels, (self.config.batch_size,), generator=self.rng)

    def _minority(self) -> torch.Tensor:
        """Classes of C_m (all but the largest), drawn with probability proportional to N_max - N_c."""
        return torch.multinomial(self.minority, self.config.batch_size, replacement=True, generator=self.rng)

    def _generate(self, classes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        pool, rows, valid = self.bank.sample_pool(classes, self.samples, self.rng)
        z = torch.randn((len(classes), self.config.noise), generator=self.rng)
        dev = self.device
        mixed, w = self.generator(z.to(dev), classes.to(dev), pool.to(dev), valid.to(dev))
        return mixed, w, rows

    def step(self) -> tuple[float, float | None, float]:
        """One iteration of Algorithm 1; returns Q's, D's (None when D was not updated) and G's losses."""
        c, dev = self.config, self.device
        self.head.train()
        # Q (and every d_every-th iteration D) on real features, then on features generated with G fixed
        real_classes = self._uniform()
        real, real_targets = self.bank.real(real_classes, self.rng)
        fake_classes = self._minority()
        with torch.no_grad():
            fake, _, _ = self._generate(fake_classes)
        real, real_targets, real_classes = real.to(dev), real_targets.to(dev), real_classes.to(dev)
        fake_classes_dev = fake_classes.to(dev)
        q_loss: torch.Tensor = self.loss(self.head(real), real_targets) + self.loss(
            self.head(fake), self.loss.as_targets(fake_classes_dev, self.bank.num_labels)
        )
        self.optimisers["q"].zero_grad(set_to_none=True)
        q_loss.backward()  # type: ignore[no-untyped-call]  # torch leaves Tensor.backward unannotated
        self.optimisers["q"].step()
        self.generated += np.bincount(fake_classes.numpy(), minlength=self.bank.num_labels)
        d_value = None
        if self.iteration % c.d_every == 0:
            d_loss = (
                0.5 * ((self.discriminator(real, real_classes) - 1) ** 2).mean()
                + 0.5 * (self.discriminator(fake, fake_classes_dev) ** 2).mean()
            )
            self.optimisers["d"].zero_grad(set_to_none=True)
            d_loss.backward()
            self.optimisers["d"].step()
            self.d_updates += 1
            d_value = float(d_loss.detach())
        # G: minority classes, fooling D (lam) while lowering Q's score of the class (Eq. 4, least squares)
        classes = self._minority()
        self.generator_draws += np.bincount(classes.numpy(), minlength=self.bank.num_labels)
        mixed, _, _ = self._generate(classes)
        classes = classes.to(dev)
        realism = ((self.discriminator(mixed, classes) - 1) ** 2).mean()
        score = (self.loss.scores(self.head(mixed)).gather(1, classes.unsqueeze(1)) ** 2).mean()
        g_loss = c.lam * realism + score
        self.optimisers["g"].zero_grad(set_to_none=True)
        g_loss.backward()
        self.optimisers["g"].step()
        self.optimisers["q"].zero_grad(set_to_none=True)  # G's loss reached Q's gradients; they are not used
        self.optimisers["d"].zero_grad(set_to_none=True)
        self.iteration += 1
        return float(q_loss.detach()), d_value, float(g_loss.detach())

    def run(
        self, *, start_epoch: int = 0, report_every: int = 20, should_stop: Callable[[], bool] = lambda: False
    ) -> Generator[Phase2Step, None, None]:
        """Train for the configured epochs, yielding progress; stops early when ``should_stop()``."""
        for epoch in range(start_epoch, self.config.epochs):
            late = epoch >= self.config.decay_after
            lr = self.config.lr_late if late else self.config.lr
            for name, optimiser in self.optimisers.items():
                rate = lr if name != "q" else self.head_lr * (self.config.lr_late / self.config.lr if late else 1)
                for group in optimiser.param_groups:
                    group["lr"] = rate
            sums, d_sum, d_count = np.zeros(2), 0.0, 0
            for i in range(self.iterations):
                if should_stop():
                    return
                q, d, g = self.step()
                sums += (q, g)
                if d is not None:
                    d_sum, d_count = d_sum + d, d_count + 1
                last = i == self.iterations - 1
                if last or (i + 1) % report_every == 0:
                    yield Phase2Step(
                        epoch,
                        i + 1,
                        self.iterations,
                        sums[0] / (i + 1),
                        d_sum / d_count if d_count else float("nan"),
                        sums[1] / (i + 1),
                        last,
                    )

    @torch.no_grad()
    def synthesise(self, label: int, count: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``count`` synthetic features of ``label`` with their convex weights (count x N_s, averaged over the
        dimensions for per-dimension weights) and the dictionary rows they mix (count x N_s)."""
        self.generator.eval()
        saved = self.rng.get_state()
        self.rng.manual_seed(seed)
        try:
            mixed, w, rows = self._generate(torch.full((count,), label, dtype=torch.long))
        finally:
            self.rng.set_state(saved)
            self.generator.train()
        if w.dim() == 3:
            w = w.mean(2)
        return mixed.cpu(), w.cpu(), rows

    def state(self) -> dict:
        """What a run keeps (weights-only loadable): G, D, Q and the sampling counts."""
        return {
            "generator": self.generator.state_dict(),
            "discriminator": self.discriminator.state_dict(),
            "head": self.head.state_dict(),
            "samples": self.samples,
            "dictionary": self.bank.dictionary.clone(),
            "dictionary_counts": self.bank.dictionary_counts.clone(),
            "generated": torch.tensor(self.generated),
            "generator_draws": torch.tensor(self.generator_draws),
        }
