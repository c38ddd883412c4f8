"""The feature store: keys follow image content, chunks are atomic, a pass can be cancelled and resumed."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
from sqlalchemy import text

from core.base.errors import TailorError
from core.catalog.store import Catalog
from core.config import TrainConfig
from core.features import extract as extraction
from core.features.extractor import features_root
from core.features.store import FeatureStore
from core.heads.train import train_head
from core.ingest.importer import import_source, run
from core.training.backbones import ResNet32Cifar
from core.training.events import FeatureProgress, RunCancelled, RunFinished
from tests.training.test_training import _shapes_catalog


@pytest.fixture
def catalog(tmp_path) -> str:
    return _shapes_catalog(tmp_path, str(tmp_path / "c.sqlite"))


@pytest.fixture
def weights_file(tmp_path) -> str:
    """'Pretrained' weights for the small CIFAR ResNet (random, seeded: the features only need to be fixed)."""
    torch.manual_seed(0)
    path = tmp_path / "resnet32.pth"
    torch.save(ResNet32Cifar().state_dict(), path)
    return str(path)


def head_config(weights_file: str, **kw) -> TrainConfig:
    values = dict(attribute="colour", backbone="resnet32-cifar", pretrained=weights_file, head_only=True,
                  epochs=2, batch_size=8, image_size=16)  # fmt: skip
    values.update(kw)
    return TrainConfig(**values)


def passes(events) -> tuple[FeatureProgress, list]:
    """The last feature-progress event of a head-only run and all its events."""
    events = list(events)
    return [e for e in events if isinstance(e, FeatureProgress)][-1], events


def key(hex_digit: str) -> str:
    return hex_digit * 64


def test_store_adds_gathers_and_finds_what_is_missing(tmp_path):
    store = FeatureStore(tmp_path / "s", {"extractor": 1})
    store.add([key("a"), key("b")], np.array([[1, 2], [3, 4]], dtype=np.float32))
    store.add([key("c")], np.array([[5, 6]], dtype=np.float32))
    assert store.missing([key("c"), key("d"), key("a"), key("d")]) == [key("d")]
    gathered = store.gather([key("c"), key("a"), key("c")])
    assert gathered.dtype == np.float16 and gathered.tolist() == [[5, 6], [1, 2], [5, 6]]
    assert FeatureStore(tmp_path / "s", {"extractor": 1}).stored == 3  # read back from disk
    with pytest.raises(TailorError, match="holds another extractor's features"):
        FeatureStore(tmp_path / "s", {"extractor": 2})
    with pytest.raises(TailorError, match="1 images have no features"):
        store.gather([key("e")])


def test_a_chunk_without_its_keys_file_does_not_count(tmp_path):
    """A pass killed between the features and the keys of a chunk leaves a chunk that is ignored."""
    store = FeatureStore(tmp_path / "s", {"extractor": 1})
    store.add([key("a")], np.ones((1, 2)))
    store._chunk_path(1).write_bytes(b"half written")
    assert FeatureStore(tmp_path / "s", {"extractor": 1}).missing([key("a"), key("b")]) == [key("b")]


def test_the_store_sits_beside_the_catalog_or_in_the_cache_for_a_url(tmp_path, monkeypatch):
    assert features_root(str(tmp_path / "c.sqlite")) == tmp_path / "c.sqlite.features"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    root = features_root("postgresql+psycopg://db.example:5433/catalog")
    assert root == tmp_path / "cache" / "tailor" / "features" / "postgresql-db.example-5433-catalog"


def test_keys_follow_content_an_edited_label_recomputes_nothing_a_changed_file_one_image(
    catalog, weights_file, tmp_path
):
    first, events = passes(train_head(catalog, head_config(weights_file)))
    assert (first.total, first.cached) == (29, 0) and isinstance(events[-1], RunFinished)
    with Catalog(catalog) as cat, cat.session(write=True) as s:  # relabel an image: features stay valid
        green = s.execute(text("select id from label where name = 'green'")).scalar()
        s.execute(text("update annotation set label_id = :g where id = (select min(id) from annotation)"), {"g": green})
    second, _ = passes(train_head(catalog, head_config(weights_file)))
    assert (second.total, second.cached) == (29, 29)
    changed = tmp_path / "shapes" / "red" / "0.png"
    from PIL import Image

    Image.new("RGB", (24, 24), (1, 2, 3)).save(changed)
    with Catalog(catalog) as cat:
        run(import_source(cat, tmp_path / "shapes", "colour"))
    third, _ = passes(train_head(catalog, head_config(weights_file)))
    assert (third.total, third.cached) == (29, 28)


def test_another_extractor_has_its_own_store(catalog, weights_file):
    passes(train_head(catalog, head_config(weights_file)))
    other, _ = passes(train_head(catalog, head_config(weights_file, image_size=24)))
    assert other.cached == 0
    assert len([p for p in features_root(catalog).iterdir() if p.is_dir()]) == 2  # beside its .owner.json


def test_cancel_keeps_finished_chunks_and_the_next_pass_resumes(catalog, weights_file, monkeypatch):
    monkeypatch.setattr(extraction, "CHUNK_IMAGES", 8)
    cancel = threading.Event()
    seen = []
    for event in train_head(catalog, head_config(weights_file), cancel=cancel):
        seen.append(event)
        if isinstance(event, FeatureProgress) and event.done >= 10:
            cancel.set()  # after the second chunk of 8 (one batch each): both are kept, the third never starts
    assert isinstance(seen[-1], RunCancelled) and seen[-1].run_id == 0
    with Catalog(catalog) as cat, cat.session() as s:
        assert s.execute(text("select count(*) from run")).scalar() == 0  # nothing recorded
    resumed, events = passes(train_head(catalog, head_config(weights_file)))
    assert resumed.cached == 16 and isinstance(events[-1], RunFinished)
