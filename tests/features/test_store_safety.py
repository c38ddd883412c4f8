"""The feature store under concurrency, damage, full disks, planted links and bad values (issue 26 points 2, 4)."""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import threading
import time

import numpy as np
import pytest

from core.base.errors import DiskFull, TailorError
from core.curation.duplicates import near_pairs
from core.features import store as store_module
from core.features.store import FeatureStore, NonFiniteFeatures


def key(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_two_writers_never_share_a_chunk(tmp_path, monkeypatch):
    """Two passes at once (a delay between the features and the keys of a chunk): each image keeps its own
    features; before the lock both picked chunk 0 and one's features were served for the other's images."""
    real_save = np.save

    def slow_save(fh, array, *args, **kwargs):
        real_save(fh, array, *args, **kwargs)
        if array.dtype == np.float16:
            time.sleep(0.3)

    monkeypatch.setattr(store_module.np, "save", slow_save)
    folder = tmp_path / "s"

    def write(name: str, value: float) -> None:
        FeatureStore(folder, {"extractor": 1}).add([key(f"{name}{i}") for i in range(3)], np.full((3, 4), value))

    threads = [threading.Thread(target=write, args=(name, value)) for name, value in (("a", 1.0), ("b", 2.0))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    monkeypatch.setattr(store_module.np, "save", real_save)
    store = FeatureStore(folder, {"extractor": 1})
    assert store.stored == 6
    assert store.gather([key(f"a{i}") for i in range(3)]).tolist() == [[1.0] * 4] * 3
    assert store.gather([key(f"b{i}") for i in range(3)]).tolist() == [[2.0] * 4] * 3


def test_a_chunk_copied_from_another_extractor_s_store_is_not_served(tmp_path):
    other = FeatureStore(tmp_path / "other", {"extractor": 2})
    other.add([key("a")], np.ones((1, 4)))
    mine = FeatureStore(tmp_path / "mine", {"extractor": 1})
    mine.add([key("b")], np.zeros((1, 4)))
    for path in (tmp_path / "other").glob("chunk-*"):
        shutil.copy(path, tmp_path / "mine" / path.name)
    reread = FeatureStore(tmp_path / "mine", {"extractor": 1})
    assert reread.missing([key("a"), key("b")]) == [key("a")]


@pytest.mark.parametrize(
    "damage",
    ["truncate features", "keys past the rows", "pickled keys", "other width", "not an array"],
)
def test_a_damaged_chunk_is_named_set_aside_and_recomputed(tmp_path, damage):
    store = FeatureStore(tmp_path / "s", {"extractor": 1})
    store.add([key("a"), key("b")], np.ones((2, 4)))
    store.add([key("c")], np.ones((1, 4)))
    features, keys = store._chunk_path(1), store._chunk_path(1, keys=True)
    if damage == "truncate features":
        features.write_bytes(features.read_bytes()[:100])
    elif damage == "keys past the rows":
        np.save(keys, np.array([bytes(16)] * 101, dtype="S16"))
    elif damage == "pickled keys":
        np.save(keys, np.array([object()], dtype=object), allow_pickle=True)
    elif damage == "other width":
        np.save(features, np.ones((1, 7), dtype=np.float16))
    else:
        keys.write_bytes(b"not an array at all")
    reread = FeatureStore(tmp_path / "s", {"extractor": 1})
    assert reread.missing([key("a"), key("b"), key("c")]) == [key("c")]
    assert len(reread.notes) == 1 and features.name in reread.notes[0] and "set aside" in reread.notes[0]
    assert "\n" not in reread.notes[0]
    assert (tmp_path / "s" / "damaged" / keys.name).exists() or damage == "truncate features"
    reread.add([key("c")], np.full((1, 4), 3.0))  # the next pass recomputes it; nothing stays stuck
    again = FeatureStore(tmp_path / "s", {"extractor": 1})
    assert again.gather([key("c")]).tolist() == [[3.0] * 4] and again.notes == []


def test_a_full_disk_says_so_and_leaves_nothing(tmp_path, monkeypatch):
    store = FeatureStore(tmp_path / "s", {"extractor": 1})
    store.add([key("a")], np.ones((1, 4)))

    def full(fh, array, *args, **kwargs):
        fh.write(b"x" * 10)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(store_module.np, "save", full)
    with pytest.raises(DiskFull, match=r"the disk holding .* is full"):
        store.add([key("b")], np.ones((1, 4)))
    assert sorted(p.name for p in (tmp_path / "s").iterdir() if "tmp" in p.name) == []
    monkeypatch.undo()
    assert FeatureStore(tmp_path / "s", {"extractor": 1}).missing([key("a"), key("b")]) == [key("b")]


def test_non_finite_features_are_refused_when_computed_and_when_read(tmp_path):
    store = FeatureStore(tmp_path / "s", {"extractor": 1})
    bad = np.ones((3, 4))
    bad[1, 2] = np.nan
    with pytest.raises(NonFiniteFeatures, match=r"not finite .* for 1 images \(b\.png\); nothing was stored"):
        store.add([key("a"), key("b"), key("c")], bad, ["a.png", "b.png", "c.png"])
    assert not any((tmp_path / "s").glob("chunk-*"))
    with pytest.raises(NonFiniteFeatures, match="for 1 images"):
        store.add([key("big")], np.full((1, 4), 1e6))  # finite in float64, infinite in float16
    store.add([key("a")], np.ones((1, 4)))
    np.save(store._chunk_path(0), np.array([[1, np.inf, 1, 1]], dtype=np.float16))  # written by hand
    with pytest.raises(NonFiniteFeatures, match=r"holds features that are not finite .*\(a\.png\)"):
        FeatureStore(tmp_path / "s", {"extractor": 1}).gather([key("a")], ["a.png"])


def test_temporary_names_are_never_written_through_planted_links(tmp_path):
    store = FeatureStore(tmp_path / "s", {"extractor": 1})
    store.add([key("a")], np.ones((1, 4)))
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    for name in ("chunk-000001.npy.tmp", "chunk-000001.keys.npy.tmp", "meta.json.tmp",
                 f"{store._chunk_path(1).name}.tmp", f"{store._chunk_path(1, keys=True).name}.tmp"):  # fmt: skip
        os.symlink(victim, tmp_path / "s" / name)
    (tmp_path / "s" / "meta.json").unlink()
    store.add([key("b")], np.ones((1, 4)))
    assert victim.read_text() == "precious"
    assert FeatureStore(tmp_path / "s", {"extractor": 1}).stored == 2


def test_near_duplicates_hold_beside_an_extreme_row_and_refuse_non_finite_ones():
    rng = np.random.default_rng(0)
    base = rng.normal(size=(40, 16)).astype(np.float32)
    features = np.concatenate([base, base[:17] + 0.001 * rng.normal(size=(17, 16)).astype(np.float32)])
    splits = ["train"] * 40 + ["test"] * 17
    assert len(near_pairs(features, splits, 0.95) or []) == 17
    huge = features.copy()
    huge[0] = 6e4
    assert len(near_pairs(huge, splits, 0.95) or []) == 16  # only the pair of the extreme image is lost
    huge[0] = np.nan
    with pytest.raises(TailorError, match="1 images have features that are not finite"):
        near_pairs(huge, splits, 0.95)


def test_a_damaged_chunk_is_said_by_the_feature_pass_and_the_cli(tmp_path, capsys):
    import torch

    from core.cli.render import follow_progress
    from core.features.extract import extract
    from core.training.events import Note

    store = FeatureStore(tmp_path / "s", {"extractor": 1})
    store.add([key("a")], np.ones((1, 4)))
    store.add([key("b")], np.ones((1, 4)))
    store._chunk_path(1).write_bytes(b"damaged")
    reread = FeatureStore(tmp_path / "s", {"extractor": 1})
    events = extract(
        reread, torch.nn.Identity(), ((0.0,), (1.0,)), [key("a")], ["a.png"], 8, device=torch.device("cpu")
    )
    assert follow_progress(events, lambda _event: None) is True
    err = capsys.readouterr().err
    assert "chunk-000001" in err and "is damaged" in err and err.count("\n") == 1
    again = FeatureStore(tmp_path / "s", {"extractor": 1})
    assert not [e for e in extract(again, torch.nn.Identity(), ((0.0,), (1.0,)), [key("a")], ["a.png"], 8,
                                   device=torch.device("cpu")) if isinstance(e, Note)]  # fmt: skip
