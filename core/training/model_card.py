"""What travels with an exported model, so that a deployer needs nothing else: how to prepare an image, the labels
in output order, how scores come from the logits, the thresholds with the test images behind them, and a model card
(JSON and Markdown: data, split sizes, metrics with intervals, per-label test counts, how to call it).

:func:`metadata` is written into the model itself (ONNX ``metadata_props`` key ``tailor``, TorchScript extra file
``tailor.json``); :func:`card` and :func:`card_markdown` beside it (``FILE.card.json``, ``FILE.card.md``).
``docs/examples/predict_onnx.py`` reads the metadata back and reproduces ``tailor predict``'s scores with
onnxruntime and Pillow alone (a test checks that).
"""

from __future__ import annotations

from pathlib import Path

from core.analysis.compare_exports import markdown_cell
from core.base.percent import percent, percent_text
from core.base.version import installed_version
from core.catalog.runs import RunInfo, settings
from core.catalog.store import Catalog
from core.training.pretrained import input_statistics

EXAMPLE = "docs/examples/predict_onnx.py"


def preprocessing(run: RunInfo) -> dict:
    """How an image becomes the model's input: Tailor's one decode path (core.ingest.images) and its resize."""
    config = run.config
    mean, std = input_statistics(config.backbone, config.normalization, config.pretrained)
    size = config.pixels
    return {
        "input": "image",
        "layout": "NCHW",
        "dtype": "float32",
        "size": [size, size],
        "decode": "RGB; EXIF orientation applied; transparency composited on white; 16-bit greys scaled to 8 bits",
        "jpeg_draft": f"a JPEG at least {2 * size} px in both directions is decoded with Pillow's draft at "
        f"({size}, {size}) first",
        "resize": f"the whole image to {size} x {size} px, Pillow bilinear (the aspect ratio is not kept)",
        "scale": "pixel values / 255",
        "mean": [round(v, 6) for v in mean],
        "std": [round(v, 6) for v in std],
        "normalization": config.normalization,
    }


def metadata(run: RunInfo, thresholds: dict) -> dict:
    """What the exported model carries about itself."""
    by_name = {item["name"]: item for item in thresholds["labels"]}
    labels = []
    for j, label in enumerate(run.labels):
        item = by_name.get(label.name, {})
        labels.append({
            "index": j, "name": label.name, "threshold": item.get("threshold"), "threshold_chosen": item.get("chosen"),
            "test_images": label.test, "test_precision": item.get("test_precision"),
            "test_recall": item.get("test_recall"),
        })  # fmt: skip
    return {
        "tailor_version": installed_version() or "dev",
        "run_id": run.id,
        "attribute": run.attribute,
        "kind": str(run.kind),
        "preprocessing": preprocessing(run),
        "output": {"name": "logits", "scores": thresholds["scores"]},
        "labels": labels,
        "example": EXAMPLE,
    }


def card(catalog: Catalog, run: RunInfo, thresholds: dict) -> dict:
    """The model card: the metadata, the data and split sizes, how it was trained, its test metrics with 95%
    bootstrap intervals."""
    from core.analysis.compare import compare

    table = compare(catalog, [run.id], resamples=1000, seed=0)
    row = table["rows"][0]
    metrics = {key: {"value": row.get(key), "ci": (row.get("ci") or {}).get(key)}
               for key in ("top1", "acsa", "gm", "macro_ap")}  # fmt: skip
    return {
        **metadata(run, thresholds),
        "variant": run.loss,
        "backbone": run.backbone,
        "settings": settings(run),
        "data": {
            "attribute": run.attribute,
            "train_images": sum(label.train for label in run.labels),
            "test_images": sum(label.test for label in run.labels),
            "per_label": [{"name": label.name, "train": label.train, "test": label.test} for label in run.labels],
        },
        "metrics": metrics,
        "confidence": table.get("confidence"),
        "min_test_images": table.get("min_test_images"),
    }


def card_markdown(document: dict, model_file: str) -> str:
    """The model card for people; every name from the catalog escaped."""
    pre = document["preprocessing"]
    lines = [
        f"# Model card: {markdown_cell(document['attribute'])} (Tailor run {document['run_id']})",
        "",
        f"{markdown_cell(document['variant'])} on {markdown_cell(document['backbone'])}; exported by Tailor "
        f"{document['tailor_version']}. Input `{pre['input']}` {pre['layout']} {pre['dtype']} "
        f"{pre['size'][0]} x {pre['size'][1]}; output `logits`; scores = {document['output']['scores']}.",
        "",
        "## Preparing an image",
        "",
        *(f"- {key}: {pre[key]}" for key in ("decode", "jpeg_draft", "resize", "scale", "mean", "std")),
        "",
        "## Data",
        "",
        f"{document['data']['train_images']:,} training and {document['data']['test_images']:,} test labels.",
        "",
        "| label | training images | test images | threshold | how chosen | test precision | test recall |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, data in zip(document["labels"], document["data"]["per_label"]):
        few = " (too few to compare)" if label["test_images"] < (document.get("min_test_images") or 0) else ""
        threshold = "–" if label["threshold"] is None else f"{label['threshold']:.4g}"
        lines.append(
            f"| {markdown_cell(label['name'])} | {data['train']} | {label['test_images']}{few} | {threshold} | "
            f"{markdown_cell(label['threshold_chosen'] or '–')} | {percent(label['test_precision'], '%')} | "
            f"{percent(label['test_recall'], '%')} |"
        )
    lines += ["", "## Test metrics (95% bootstrap intervals)", ""]
    for key, name in (("top1", "top-1"), ("acsa", "ACSA"), ("gm", "GM"), ("macro_ap", "macro AP")):
        metric = document["metrics"][key]
        lines.append(f"- {name}: {percent_text(metric['value'], metric['ci'], '%')}")
    lines += [
        "",
        "## Calling it",
        "",
        f"`python {EXAMPLE} {Path(model_file).name} IMAGE` prints each label's score and whether it reaches its "
        "threshold (onnxruntime and Pillow; the preparation above is read from the model's metadata).",
        "",
    ]
    return "\n".join(lines)


def beside(model_path: str | Path) -> dict[str, Path]:
    """The files written beside an exported model: its thresholds and its card (JSON and Markdown)."""
    from core.analysis.operating_points import thresholds_path

    path = Path(model_path).expanduser()
    return {"thresholds": thresholds_path(path), "card": path.with_name(path.name + ".card.json"),
            "card_markdown": path.with_name(path.name + ".card.md")}  # fmt: skip


def export_package(catalog: Catalog, run_id: int, fmt: str, out: str, target_precision: float) -> dict:
    """The model with its metadata inside, and beside it the thresholds and the model card; what was written (and
    the saved thresholds that were ignored, one line each)."""
    from core.analysis.operating_points import thresholds_document
    from core.base.files import atomic_write
    from core.base.json_text import json_text
    from core.catalog.runs import get_run
    from core.training.export import export_model

    run = get_run(catalog, run_id)
    thresholds = thresholds_document(catalog, run_id, target_precision)
    document = card(catalog, run, thresholds)
    path = export_model(catalog, run_id, fmt, out, metadata(run, thresholds))
    files = beside(path)
    texts = {"thresholds": json_text(thresholds, indent=2) + "\n", "card": json_text(document, indent=2) + "\n",
             "card_markdown": card_markdown(document, str(path))}  # fmt: skip
    for key, text in texts.items():
        with atomic_write(files[key], "w", encoding="utf-8") as fh:
            fh.write(text)
    return {"model": path, **files, "ignored": thresholds["ignored"]}
