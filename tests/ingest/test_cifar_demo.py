"""``tailor demo --dataset cifar10-lt``: CIFAR-10-LT as a catalog from CIFAR-10's own archive or a tree of images,
a hostile pickle refused, and the offline message naming what to fetch."""

from __future__ import annotations

import io
import json
import pickle
import tarfile
from pathlib import Path

import numpy as np
from PIL import Image

from core.ingest.cifar_demo import CLASSES, lt_counts
from tests.conftest import main_cli


def python_archive(path: Path, per_class: int = 6, hostile: bool = False) -> Path:
    """A small archive in CIFAR-10's Python format (pickled dicts of NumPy arrays)."""
    rng = np.random.default_rng(0)

    def batch(n: int) -> bytes:
        labels = [i % 10 for i in range(n)]
        data = rng.integers(0, 255, (n, 3072), dtype=np.uint8)
        return pickle.dumps({"data": data, "labels": labels}, protocol=2)

    members = {"cifar-10-batches-py/batches.meta": pickle.dumps({"label_names": list(CLASSES)}, protocol=2)}
    for i in range(1, 6):
        members[f"cifar-10-batches-py/data_batch_{i}"] = batch(2 * per_class)
    members["cifar-10-batches-py/test_batch"] = batch(20)
    if hostile:

        class Boom:
            def __reduce__(self):
                return (print, ("pwned",))

        members["cifar-10-batches-py/test_batch"] = pickle.dumps(Boom())
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_lt_counts_follow_the_protocol():
    assert lt_counts([5000] * 10, 100) == [5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50]
    assert lt_counts([3, 3], 100) == [3, 1]


def test_a_python_archive_that_is_not_cifar_s_own_is_refused_before_anything_is_unpickled(tmp_path):
    """CIFAR-10's Python archive holds pickles: only the published archive (its MD5) is read, by torchvision."""
    for hostile in (False, True):
        archive = python_archive(tmp_path / f"cifar-10-python-{hostile}.tar.gz", hostile=hostile)
        out = tmp_path / f"demo-{hostile}"
        refused = main_cli("demo", "--dataset", "cifar10-lt", "--from", str(archive), "--out", str(out), "--no-gui")
        assert refused.returncode == 2 and "not CIFAR-10's published archive (its MD5 differs)" in refused.stderr
        assert "pwned" not in refused.stdout and not (out / "cifar10").exists()


def test_cifar10_lt_from_a_tree_of_images(tmp_path):
    tree = tmp_path / "jpg"
    for split, n in (("train", 4), ("test", 2)):
        for c in CLASSES:
            for i in range(n):
                target = tree / split / c / f"{i:04d}.jpg"
                target.parent.mkdir(parents=True, exist_ok=True)
                Image.new("RGB", (32, 32), (i * 40, 90, 160)).save(target)
    archive = tmp_path / "cifar10-jpg.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tree / "train", arcname="train")
        tar.add(tree / "test", arcname="test")
    result = main_cli("demo", "--dataset", "cifar10-lt", "--from", str(archive), "--out", str(tmp_path / "a"),
                      "--no-gui")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "training images per class: 4, 2, 1, 1, 1, 1, 1, 1, 1, 1" in result.stdout
    stats = json.loads(main_cli("stats", str(tmp_path / "a" / "catalog.sqlite"), "-a", "object", "--json").stdout)
    assert stats["split"] == "train" and stats["imbalance_ratio"] == 4.0
    with_rest = main_cli("demo", "--dataset", "cifar10-lt", "--from", str(archive), "--out", str(tmp_path / "w"),
                         "--no-gui", "--with-unlabeled")  # fmt: skip
    assert with_rest.returncode == 0, with_rest.stderr
    info = json.loads(main_cli("info", str(tmp_path / "w" / "catalog.sqlite"), "--json").stdout)
    assert info["images"] == 40 + 20  # every training image (26 without a label) and the test set
    again = main_cli("demo", "--dataset", "cifar10-lt", "--from", str(archive), "--out", str(tmp_path / "w"))
    assert again.returncode == 2 and "--force" in again.stderr
    forced = main_cli("demo", "--dataset", "cifar10-lt", "--from", str(archive), "--out", str(tmp_path / "w"),
                      "--no-gui", "--force")  # fmt: skip
    assert forced.returncode == 0, forced.stderr
    not_tar = tmp_path / "x.tar.gz"
    not_tar.write_bytes(b"not an archive")
    refused = main_cli("demo", "--dataset", "cifar10-lt", "--from", str(not_tar), "--out", str(tmp_path / "c"))
    assert refused.returncode == 2 and "not a readable tar archive" in refused.stderr


def test_the_demo_never_writes_over_or_deletes_a_folder_s_own_files(tmp_path):
    """--out holding a manifest of the user's: refused (one line) and left as it was; a folder of the user's named
    raw/ (the name the unpacking used, and removed after) is left alone."""
    tree = tmp_path / "jpg"
    for split in ("train", "test"):
        for c in CLASSES:
            target = tree / split / c / "0000.jpg"
            target.parent.mkdir(parents=True, exist_ok=True)
            Image.new("RGB", (32, 32), (40, 90, 160)).save(target)
    archive = tmp_path / "cifar10-jpg.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tree / "train", arcname="train")
        tar.add(tree / "test", arcname="test")
    out = tmp_path / "mine"
    (out / "raw").mkdir(parents=True)
    (out / "raw" / "notes.txt").write_text("my notes")
    (out / "cifar10-lt.csv").write_text("my own manifest")
    refused = main_cli("demo", "--dataset", "cifar10-lt", "--from", str(archive), "--out", str(out), "--no-gui")
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1
    assert "already holds cifar10-lt.csv" in refused.stderr and "--force" in refused.stderr
    assert (out / "cifar10-lt.csv").read_text() == "my own manifest" and not (out / "catalog.sqlite").exists()
    (out / "cifar10-lt.csv").unlink()
    made = main_cli("demo", "--dataset", "cifar10-lt", "--from", str(archive), "--out", str(out), "--no-gui")
    assert made.returncode == 0, made.stderr
    assert (out / "raw" / "notes.txt").read_text() == "my notes"
    assert sorted(p.name for p in out.iterdir()) == ["catalog.sqlite", "cifar10", "cifar10-lt.csv", "raw"]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    linked = tmp_path / "linked"
    linked.mkdir()
    (linked / "cifar10").symlink_to(elsewhere, target_is_directory=True)
    for force in ((), ("--force",)):  # never through a link, --force or not
        refused = main_cli("demo", "--dataset", "cifar10-lt", "--from", str(archive), "--out", str(linked),
                           "--no-gui", *force)  # fmt: skip
        assert refused.returncode == 2 and "cifar10 is a symbolic link" in refused.stderr, refused.stderr
    assert list(elsewhere.iterdir()) == [] and sorted(p.name for p in linked.iterdir()) == ["cifar10"]


def test_offline_the_message_names_what_to_fetch(tmp_path, monkeypatch):
    from torchvision.datasets import CIFAR10

    monkeypatch.setattr(CIFAR10, "url", "http://127.0.0.1:9/cifar-10-python.tar.gz")  # nothing listens there
    refused = main_cli("demo", "--dataset", "cifar10-lt", "--out", str(tmp_path / "d"), "--no-gui")
    assert refused.returncode == 2
    assert "cannot download CIFAR-10" in refused.stderr and "cifar-10-python.tar.gz" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
