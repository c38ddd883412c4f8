"""Exports a deployer can use: the ONNX and TorchScript files carry their preprocessing, labels and thresholds; a
model card (JSON and Markdown) lies beside them; ``docs/examples/predict_onnx.py`` reproduces ``tailor predict``'s
scores from the ONNX file with onnxruntime and Pillow alone."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from core.base.iteration import drain
from core.catalog.store import Catalog
from core.curation.predict import predict
from core.heads.train import train_head
from tests.conftest import main_cli
from tests.features.test_feature_store import head_config
from tests.features.test_feature_store import weights_file as weights_file
from tests.heads.test_heads import finished
from tests.heads.test_heads import shapes as shapes

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "predict_onnx.py"


def test_the_onnx_model_carries_what_a_deployer_needs_and_the_example_reproduces_predict(
    shapes, weights_file, tmp_path
):
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    run_id = finished(train_head(shapes, head_config(weights_file, epochs=3))).run_id
    out = tmp_path / "colour.onnx"
    result = main_cli("export-model", shapes, str(run_id), "--format", "onnx", "--out", str(out))
    assert result.returncode == 0, result.stderr
    meta = json.loads({p.key: p.value for p in onnx.load(str(out)).metadata_props}["tailor"])
    assert meta["run_id"] == run_id and meta["attribute"] == "colour" and meta["tailor_version"]
    assert [label["name"] for label in meta["labels"]] == ["blue", "green", "red"]  # the run's output order
    assert all("test_images" in label and "threshold" in label for label in meta["labels"])
    pre = meta["preprocessing"]
    assert pre["size"] == [16, 16] and pre["layout"] == "NCHW" and len(pre["mean"]) == len(pre["std"]) == 3
    assert meta["output"]["scores"] == "softmax(logits)"
    card = json.loads(out.with_name("colour.onnx.card.json").read_text())
    assert card["data"]["train_images"] + card["data"]["test_images"] == 29
    assert card["metrics"]["acsa"]["ci"] is not None and len(card["metrics"]["acsa"]["ci"]) == 2
    markdown = out.with_name("colour.onnx.card.md").read_text()
    assert "## Test metrics (95% bootstrap intervals)" in markdown and "docs/examples/predict_onnx.py" in markdown
    assert out.with_name("colour.onnx.thresholds.json").is_file()
    # the example, in isolated mode from another folder, gives tailor predict's scores
    with Catalog(shapes) as cat, cat.session() as s:
        from sqlalchemy import text

        rows = s.execute(text("select id, path from image order by id limit 4")).all()
    ids, paths = [r[0] for r in rows], [r[1] for r in rows]
    expected = drain(predict(shapes, run_id, image_ids=ids))
    ran = subprocess.run([sys.executable, "-I", str(EXAMPLE), str(out), *paths, "--json"], capture_output=True,
                         text=True, cwd=tmp_path, timeout=120)  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    got = json.loads(ran.stdout)
    names = expected.label_names
    for path, row in zip(paths, expected.scores):
        # within the float16 rounding of the feature store tailor predict reads (the export computes in float32)
        assert np.allclose([got[path][n] for n in names], row, atol=2e-3), (got[path], row)
        assert int(np.argmax([got[path][n] for n in names])) == int(np.argmax(row))
    refused = main_cli("export-model", shapes, str(run_id), "--format", "onnx", "--out", str(out))
    assert refused.returncode == 2 and "--force" in refused.stderr


def test_the_torchscript_model_carries_the_same_metadata(shapes, weights_file, tmp_path):
    run_id = finished(train_head(shapes, head_config(weights_file, epochs=2))).run_id
    out = tmp_path / "colour.pt"
    assert main_cli("export-model", shapes, str(run_id), "--out", str(out)).returncode == 0
    extra = {"tailor.json": ""}
    with pytest.warns(FutureWarning, match="deprecated"):
        torch.jit.load(str(out), _extra_files=extra)
    meta = json.loads(extra["tailor.json"])
    assert meta["run_id"] == run_id and meta["preprocessing"]["size"] == [16, 16]
    assert out.with_name("colour.pt.card.md").is_file()


def test_the_window_exports_the_same_package(shapes, weights_file, tmp_path):
    from workbench.views.operating_panel import _export

    run_id = finished(train_head(shapes, head_config(weights_file, epochs=2))).run_id
    message = _export(shapes, run_id, "torchscript", str(tmp_path / "m.pt"), 0.6)
    assert "model card" in message
    assert {p.name for p in tmp_path.iterdir()} >= {"m.pt", "m.pt.thresholds.json", "m.pt.card.json", "m.pt.card.md"}
