"""Browsing queries (core.catalog.browse) and thumbnails (core.ingest.thumbnails): every filter against SQL truth."""

from __future__ import annotations

import pytest
from PIL import Image
from sqlalchemy import select, update

from core.base.errors import TailorError
from core.catalog import edits
from core.catalog.browse import image_detail, image_ids, image_rows, labels
from core.catalog.records import ImageFilter
from core.catalog.schema import Image as ImageRow
from core.ingest.images import BadImage
from core.ingest.importer import import_source, run
from core.ingest.thumbnails import cache_file, load
from tests.conftest import make_garments, write_image


@pytest.fixture
def shop(catalog, tmp_path):
    make_garments(tmp_path / "shop" / "train", {"long": 12, "short": 6, "puff": 2})
    make_garments(tmp_path / "shop" / "test", {"long": 3, "short": 2, "puff": 1})
    run(import_source(catalog, tmp_path / "shop", "sleeve"))
    return catalog


def label_id(catalog, name):
    attribute = catalog.attribute("sleeve").id
    return next(info.id for info in labels(catalog, attribute) if info.name == name)


def test_every_filter_matches_sql_truth(shop):
    attribute = shop.attribute("sleeve").id
    every = list(image_ids(shop))
    assert len(every) == 26
    puff = label_id(shop, "puff")
    assert len(image_ids(shop, ImageFilter(attribute, puff))) == 3
    assert len(image_ids(shop, ImageFilter(attribute, puff, has_label=False))) == 23
    assert len(image_ids(shop, ImageFilter(split="test"))) == 6
    assert len(image_ids(shop, ImageFilter(split="none"))) == 0
    assert len(image_ids(shop, ImageFilter(text="SHORT-"))) == 8  # case-insensitive
    assert len(image_ids(shop, ImageFilter(text="%"))) == 0  # LIKE wildcards are literal
    # unlabeled and source follow edits
    edits.clear(shop, every[:4], attribute)
    edits.assign(shop, every[4:6], puff)
    assert list(image_ids(shop, ImageFilter(attribute, unlabeled=True))) == every[:4]
    assert list(image_ids(shop, ImageFilter(attribute, source="human"))) == every[4:6]
    assert len(image_ids(shop, ImageFilter(attribute, source="import"))) == 20
    combined = ImageFilter(attribute, puff, split="train", source="human")
    assert set(image_ids(shop, combined)) == {i for i in every[4:6] if image_detail(shop, i).split == "train"}


def test_sorting_by_path_and_date(shop):
    by_path = list(image_ids(shop))
    rows = image_rows(shop, by_path)
    assert [r.path for r in rows] == sorted(r.path for r in rows)
    with shop.session() as s:  # make the last image by path the newest
        s.execute(
            update(ImageRow)
            .where(ImageRow.id == by_path[-1])
            .values(added_at=s.scalar(select(ImageRow.added_at).where(ImageRow.id == by_path[0])).replace(year=2099))
        )
    assert image_ids(shop, ImageFilter(sort="newest"))[0] == by_path[-1]
    assert image_ids(shop, ImageFilter(sort="oldest"))[-1] == by_path[-1]
    with pytest.raises(TailorError, match="unknown sort"):
        image_ids(shop, ImageFilter(sort="size"))


def test_rows_keep_order_and_carry_labels(shop):
    attribute = shop.attribute("sleeve").id
    ids = list(image_ids(shop))[::-1][:5]
    rows = image_rows(shop, ids + [999999], attribute)
    assert [r.id for r in rows] == ids  # order kept, unknown ids left out
    assert all(len(r.labels) == 1 for r in rows)
    detail = image_detail(shop, ids[0])
    assert detail.annotations[0].attribute == "sleeve" and detail.annotations[0].source == "import"


def test_labels_are_in_stable_name_order_with_counts(shop):
    attribute = shop.attribute("sleeve").id
    assert [(i.name, i.count) for i in labels(shop, attribute)] == [("long", 15), ("puff", 3), ("short", 8)]


def test_thumbnails_cache_large_images_only(tmp_path):
    cache = tmp_path / "cache"
    big = write_image(tmp_path / "big.jpg", size=(600, 300))
    small = write_image(tmp_path / "small.png", size=(32, 32))
    first = load(big, "a" * 64, cache, size=128)
    assert (first.width, first.height, first.cached) == (128, 64, False)
    assert len(first.rgb) == 128 * 64 * 3
    assert cache_file(cache, "a" * 64, 128).is_file()
    assert load(big, "a" * 64, cache, size=128).cached
    thumb = load(small, "b" * 64, cache, size=128)
    assert (thumb.width, thumb.height) == (32, 32) and not cache_file(cache, "b" * 64, 128).exists()
    cache_file(cache, "a" * 64, 128).write_bytes(b"garbage")  # a damaged entry is rebuilt
    assert not load(big, "a" * 64, cache, size=128).cached


def test_thumbnails_refuse_bombs_and_broken_files(tmp_path):
    bomb = tmp_path / "bomb.png"
    Image.new("1", (20000, 20000)).save(bomb)  # 400 M pixels declared, a few KB on disk
    with pytest.raises(BadImage, match="decompression bomb"):
        load(bomb, None, None)
    truncated = tmp_path / "cut.jpg"
    truncated.write_bytes(write_image(tmp_path / "whole.jpg", size=(300, 300)).read_bytes()[:200])
    with pytest.raises(BadImage):
        load(truncated, None, None)
    with pytest.raises(BadImage, match="not found"):
        load(tmp_path / "missing.png", None, None)
