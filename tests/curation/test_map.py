"""The map of the catalog: the projection, the map kept beside the feature store, its colours, and ``tailor map``."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.base.errors import TailorError
from core.base.iteration import drain
from core.catalog.store import Catalog
from core.curation.catalog_map import catalog_map, colouring
from core.curation.label_issues import FeatureChoice
from core.features.projection import map_path, project, read_map, write_map
from tests.conftest import main_cli
from tests.curation.test_suggest import pool as pool
from tests.features.test_feature_store import weights_file as weights_file
from tests.heads.test_heads import shapes as shapes

FEATURES = ("--backbone", "resnet32-cifar", "--pretrained")


def clusters(n: int = 40, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 4, (3, 64))
    labels = np.repeat(np.arange(3), n)
    return (centres[labels] + rng.normal(0, 1, (3 * n, 64))).astype(np.float16), labels


def knn_agreement(points: np.ndarray, labels: np.ndarray, k: int = 5) -> float:
    d = ((points[:, None, :] - points[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    nearest = np.argsort(d, axis=1)[:, :k]
    return float((labels[nearest] == labels[:, None]).mean())


@pytest.mark.parametrize("method", ["tsne", "umap"])
def test_the_projection_keeps_clusters_apart(method):
    features, labels = clusters()
    points = drain(project(features, method))
    assert points.shape == (120, 2) and points.dtype == np.float32 and np.isfinite(points).all()
    assert knn_agreement(points, labels) > 0.95


def test_the_projection_reports_progress_and_stops_on_cancel():
    features, _ = clusters(200)
    events = []
    generator = project(features, "tsne")
    try:
        while True:
            events.append(next(generator))
    except StopIteration as stop:
        assert stop.value is not None
    assert events[0].what == "PCA" and any(e.what == "layout" for e in events)
    assert all(0 <= e.done <= e.total for e in events)
    cancel = threading.Event()
    cancel.set()
    assert drain(project(features, "tsne", cancel)) is None
    with pytest.raises(TailorError, match="at least 5 images"):
        drain(project(features[:3]))


def test_the_map_beside_the_store_is_read_back_checked(tmp_path):
    class Store:
        folder = tmp_path

        def claim(self) -> None:
            pass

    store = Store()
    hashes = [f"{i:02x}" + "0" * 62 for i in range(1, 6)]
    points = np.arange(10, dtype=np.float32).reshape(5, 2)
    write_map(store, "tsne", hashes, points)
    assert np.array_equal(read_map(store, "tsne", hashes[::-1]), points[::-1])
    assert read_map(store, "tsne", [*hashes, "99" + "0" * 62]) is None  # an image the map lacks
    assert read_map(store, "umap", hashes) is None
    map_path(store, "tsne").write_bytes(b"not a map")
    assert read_map(store, "tsne", hashes) is None
    np.savez(map_path(store, "tsne"), ids=np.arange(5), points=np.full((5, 2), np.nan))
    assert read_map(store, "tsne", hashes) is None  # not finite: ignored, computed again


def test_tailor_map_json_png_and_the_map_read_back(pool, weights_file, tmp_path):
    catalog, ids = pool
    args = ("map", catalog, "-a", "colour", *FEATURES, weights_file, "--image-size", "16")
    result = main_cli(*args, "--json")
    assert result.returncode == 0, result.stderr
    items = json.loads(result.stdout)
    assert [item["image_id"] for item in items] == list(range(1, 29 + 13 + 1)) and set(items[0]) == {
        "image_id",
        "x",
        "y",
    }
    png = tmp_path / "map.png"
    again = main_cli(*args, "--png", str(png), "--color-by", "label")
    assert again.returncode == 0, again.stderr
    assert "read back from beside the feature store" in again.stdout and f"drawn into {png}" in again.stdout
    assert Image.open(png).size == (1200, 1200)
    refused = main_cli(*args, "--png", str(png))
    assert refused.returncode == 2 and "add --force" in refused.stderr
    refused = main_cli(*args, "--png", catalog, "--force")  # never over the catalog, whatever the flags
    assert refused.returncode == 2 and "is the catalog itself" in refused.stderr
    assert main_cli(*args, "--png", str(png), "--force", "--color-by", "split").returncode == 0
    for bad, message in ((("--color-by", "size"), "--color-by size: expected one of"),
                         (("--color-by", "predicted"), "no run of this attribute has stored predictions")):  # fmt: skip
        refused = main_cli(*args, "--png", str(tmp_path / "other.png"), *bad)
        assert refused.returncode == 2 and message in refused.stderr, refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1
    refused = main_cli("map", catalog, "-a", "nope", *FEATURES, weights_file)
    assert refused.returncode == 2 and "no attribute 'nope'" in refused.stderr


def test_an_image_missing_from_disk_is_one_line_and_nothing_is_written(pool, weights_file):
    catalog, ids = pool
    with Catalog(catalog) as cat, cat.session() as s:
        from sqlalchemy import text

        path = s.execute(text("select path from image where id = :i"), {"i": ids["green"][0]}).scalar_one()
    Path(path).unlink()
    refused = main_cli("map", catalog, *FEATURES, weights_file, "--image-size", "16")
    assert refused.returncode == 2 and f"{path} is missing on disk" in refused.stderr
    assert not list(Path(catalog + ".features").glob("*/map-*.npz"))


def test_colours_put_the_tail_on_top(pool, weights_file):
    catalog, ids = pool
    choice = FeatureChoice(backbone="resnet32-cifar", pretrained=weights_file, image_size=16)
    made = drain(catalog_map(catalog, attribute="colour", choice=choice))
    assert not made.reused and made.points.shape == (len(made.image_ids), 2)
    with Catalog(catalog) as cat:
        by_label = colouring(cat, made.image_ids, "label", "colour")
        assert by_label.categories == ("red", "green", "blue")  # most images first: drawn first
        unlabeled = set(ids["red"] + ids["green"] + ids["blue"])
        rows = {int(i): r for r, i in enumerate(made.image_ids)}
        assert all(by_label.values[rows[i]] == -1 for i in unlabeled)
        drawn = by_label.values[by_label.order]
        assert list(drawn) == sorted(drawn)  # unlabeled first, the tail (blue) last, on top
        groups = colouring(cat, made.image_ids, "group", "colour")
        assert groups.categories == ("head", "medium", "tail") and groups.values[rows[ids["red"][0]]] == -1
        assert colouring(cat, made.image_ids, "unlabeled", "colour").values.sum() == len(unlabeled)
        assert set(colouring(cat, made.image_ids, "split").values.tolist()) == {3}  # no splits: "none"
        with pytest.raises(TailorError, match="needs an attribute"):
            colouring(cat, made.image_ids, "label")
    again = drain(catalog_map(catalog, attribute="colour", choice=choice))
    assert again.reused and np.array_equal(again.points, made.points)
    assert Path(map_path_of(catalog)).is_file()


def map_path_of(catalog: str) -> str:
    found = list(Path(catalog + ".features").glob("*/map-tsne.npz"))
    assert len(found) == 1
    return str(found[0])
