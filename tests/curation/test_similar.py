"""Similar images: the nearest images to a few chosen ones by stored features (core and ``tailor similar``)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from core.base.errors import TailorError
from core.base.iteration import drain
from core.catalog.store import Catalog
from core.curation.label_issues import FeatureChoice
from core.curation.similar import find_similar, nearest
from tests.conftest import main_cli
from tests.features.test_feature_store import weights_file as weights_file
from tests.heads.test_heads import shapes as shapes
from tests.training.test_bundled_weights import fake_bundle as fake_bundle

FEATURES = ("--backbone", "resnet32-cifar", "--pretrained")


def test_nearest_ranks_by_cosine_to_the_mean_direction():
    rng = np.random.default_rng(0)
    candidates = rng.normal(size=(1000, 16)).astype(np.float16)
    query = rng.normal(size=(3, 16)).astype(np.float16)
    rows, distances = nearest(query, candidates, 10)
    q = query.astype(np.float64) / np.linalg.norm(query.astype(np.float64), axis=1, keepdims=True)
    direction = q.mean(0) / np.linalg.norm(q.mean(0))
    c = candidates.astype(np.float64) / np.linalg.norm(candidates.astype(np.float64), axis=1, keepdims=True)
    expected = np.argsort(-(c @ direction), kind="stable")[:10]
    assert list(rows) == list(expected)
    assert np.all(np.diff(distances) >= 0) and np.allclose(distances, 1 - c[expected] @ direction, atol=1e-5)
    assert len(nearest(query, candidates[:4], 10)[0]) == 4  # k larger than the pool


def test_similar_images_share_the_chosen_ones_label(shapes, weights_file):
    with Catalog(shapes) as cat:
        ids = {name: [] for name in ("red", "green", "blue")}
        with cat.session() as s:
            from sqlalchemy import text

            for image_id, path in s.execute(text("select id, path from image order by id")):
                ids[path.split("/")[-2]].append(image_id)
    chosen = ids["green"][:2]
    result = main_cli("similar", shapes, *map(str, chosen), "-k", "4", "-a", "colour", *FEATURES, weights_file,
                      "--image-size", "16", "--json")  # fmt: skip
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert len(found) == 4 and not {f["image_id"] for f in found} & set(chosen)
    assert all(f["labels"] == ["green"] for f in found), found
    assert [f["distance"] for f in found] == sorted(f["distance"] for f in found)
    assert set(found[0]) == {"image_id", "path", "distance", "labels"}
    text_out = main_cli("similar", shapes, str(chosen[0]), "-k", "2", *FEATURES, weights_file, "--image-size", "16")
    assert "2 of " in text_out.stdout and "colour: green" in text_out.stdout


def test_unlabeled_only_searches_images_without_a_label(shapes, weights_file, tmp_path):
    choice = FeatureChoice(backbone="resnet32-cifar", pretrained=weights_file, image_size=16)
    with pytest.raises(TailorError, match="no images without a label of 'colour' to search"):
        drain(find_similar(shapes, [1], attribute="colour", unlabeled=True, choice=choice))
    from core.ingest.importer import import_source, run
    from tests.conftest import write_image

    write_image(tmp_path / "new" / "green.png", colour=(30, 200, 40), size=(24, 24))
    (tmp_path / "new" / "new.csv").write_text("path,labels\ngreen.png,\n")
    with Catalog(shapes) as cat:
        run(import_source(cat, tmp_path / "new" / "new.csv", "colour"))
    result = drain(find_similar(shapes, [1, 2], attribute="colour", unlabeled=True, choice=choice))
    assert [n.path for n in result.neighbours] == [str(tmp_path / "new" / "green.png")]
    assert result.neighbours[0].labels == () and result.searched == 1


def test_bad_input_is_one_line_and_writes_nothing(shapes, weights_file):
    refused = main_cli("similar", shapes, "1", "424242", *FEATURES, weights_file)
    assert refused.returncode == 2 and "no image with id 424242 in the catalog" in refused.stderr
    refused = main_cli("similar", shapes, "1", "-a", "nope", *FEATURES, weights_file)
    assert refused.returncode == 2 and "nope" in refused.stderr
    refused = main_cli("similar", shapes, "1", "--backbone", "resnet18")
    assert refused.returncode == 2 and "--pretrained" in refused.stderr
    refused = main_cli("similar", shapes, "1", "-k", "0")
    assert refused.returncode == 2


def test_without_a_backbone_the_bundled_one_is_used_at_the_size_asked(shapes, fake_bundle):
    """The default of tailor features and tailor similar alike: the best bundled backbone, the options kept."""
    found = main_cli("similar", shapes, "1", "-k", "3", "--image-size", "32", "--json")
    assert found.returncode == 0, found.stderr
    assert len(json.loads(found.stdout)) == 3
    assert any("efficientnet_lite0-32px" in p.name for p in Path(shapes + ".features").iterdir())
