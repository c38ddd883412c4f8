"""Exporting a finished run's model as TorchScript or ONNX (input: N x 3 x S x S ImageNet-normalised floats)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import torch

from core.base.errors import TailorError
from core.catalog.records import RunStatus
from core.catalog.runs import RunInfo, get_run
from core.catalog.store import Catalog
from core.config import TrainConfig
from core.training import checkpoints
from core.training.backbones import Classifier, MirroredViews, build_classifier


def load_run_model(catalog: Catalog, run_id: int) -> tuple[Classifier, TrainConfig, RunInfo]:
    """The final model of a finished run (weights loaded with ``weights_only=True``), its configuration and
    record."""
    run = get_run(catalog, run_id)
    if run.status != RunStatus.FINISHED:
        raise TailorError(f"run {run_id} is {run.status}; only finished runs have a final model")
    path = Path(run.directory) / "model.pt"
    if not path.is_file():
        raise TailorError(f"run {run_id}: model file {path} is missing")
    config = run.config
    model, _ = build_classifier(
        config.backbone, len(run.labels), cosine=config.cosine_head, posthoc=bool(config.posthoc)
    )
    model.load_state_dict(checkpoints.load(path))
    return model.eval(), config, run


def export_model(catalog: Catalog, run_id: int, fmt: str, out: str, metadata: dict | None = None) -> Path:
    """Write the run's model; ``metadata`` (core.training.model_card.metadata) goes into the file: ONNX
    ``metadata_props`` key ``tailor``, TorchScript extra file ``tailor.json`` (both JSON)."""
    network, config, _ = load_run_model(catalog, run_id)
    model: torch.nn.Module = MirroredViews(network) if config.mirrored_views else network
    example = torch.zeros(1, 3, config.pixels, config.pixels)
    target = Path(out).expanduser()
    if not target.parent.is_dir():
        raise TailorError(f"--out {out}: folder {target.parent} does not exist")
    if fmt == "torchscript":
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # jit.trace is deprecated in favour of torch.export
            traced = torch.jit.trace(model, example)  # type: ignore[no-untyped-call]  # torch's own
            extra = {"tailor.json": json.dumps(metadata)} if metadata is not None else {}
            traced.save(str(target), _extra_files=extra)
    elif fmt == "onnx":
        try:
            torch.onnx.export(
                model,
                (example,),
                str(target),
                input_names=["image"],
                output_names=["logits"],
                dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}},
                dynamo=False,
            )
        except Exception as exc:
            if "onnx" in str(exc).lower() and "install" in str(exc).lower():
                raise TailorError("ONNX export needs the onnx package: pip install onnx") from None
            raise
        if metadata is not None:
            _onnx_metadata(target, metadata)
    else:
        raise TailorError(f"unknown format '{fmt}' (torchscript or onnx)")
    return target


def _onnx_metadata(path: Path, metadata: dict) -> None:
    """Add ``metadata`` to the ONNX file's ``metadata_props`` (key ``tailor``) in place."""
    import onnx

    model = onnx.load(str(path))
    entry = model.metadata_props.add()
    entry.key, entry.value = "tailor", json.dumps(metadata)
    onnx.save(model, str(path))
