"""Two people on one catalog: no lost updates, conflicting single-label edits refused, the window refreshes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from core.base.errors import TailorError
from core.catalog import edits
from core.catalog.store import Catalog
from core.ingest.importer import import_source, run
from tests.conftest import dump_tables

WORKER = """
import sys
from core.catalog import edits
from core.catalog.store import Catalog
location, label = sys.argv[1], int(sys.argv[2])
with Catalog(location) as catalog:
    for image in range(1, 41):
        edits.assign(catalog, [image], label)
        if image % 3 == 0:
            edits.remove(catalog, [image], label)
"""


def _label_id(catalog, attribute: str, name: str) -> int:
    with catalog.engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT l.id FROM label l JOIN attribute a ON a.id = l.attribute_id WHERE a.name = :a AND l.name = :n"
            ),
            {"a": attribute, "n": name},
        ).scalar()


def test_a_single_label_edit_over_someone_elses_change_is_refused(location, tree):
    with Catalog.create(location) as alice, Catalog(location) as bob:
        run(import_source(alice, tree, "animal"))
        cat, dog, fox = (_label_id(alice, "animal", n) for n in ("cat", "dog", "fox"))
        with alice.engine.connect() as conn:
            image = conn.execute(
                text("SELECT image_id FROM annotation WHERE label_id = :c ORDER BY image_id"), {"c": cat}
            ).first()[0]
        seen = {image: ("cat",)}  # what Alice's window shows
        edits.assign(bob, [image], dog)  # Bob relabels it meanwhile
        before = dump_tables(alice)
        with pytest.raises(TailorError, match="relabelled elsewhere.*now dog, shown cat"):
            edits.assign(alice, [image], fox, seen=seen)
        assert dump_tables(alice) == before  # nothing written, Bob's label kept
        edits.assign(alice, [image], fox, seen={image: ("dog",)})  # after a refresh she sees dog: allowed
        with alice.engine.connect() as conn:
            assert conn.execute(
                text(
                    "SELECT label_id FROM annotation WHERE image_id = :i AND attribute_id = "
                    "(SELECT attribute_id FROM label WHERE id = :f)"
                ),
                {"i": image, "f": fox},
            ).scalars().all() == [fox]


def test_two_processes_adding_multi_label_labels_lose_nothing(location, tmp_path):
    from tests.conftest import make_garments

    make_garments(tmp_path / "images", {"a": 25, "b": 15})
    with Catalog.create(location) as catalog:
        run(import_source(catalog, tmp_path / "images", "shape"))
        style = edits.create_attribute(catalog, "style", "multi").attributes[0]
        labels = [edits.create_label(catalog, style, name).inserted[0].ids[0] for name in ("boho", "formal")]
    root = Path(__file__).resolve().parents[2]
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, location, str(label)], cwd=root, stderr=subprocess.PIPE, text=True
        )
        for label in labels
    ]
    for worker in workers:
        assert worker.wait(120) == 0, worker.stderr.read()
    with Catalog(location) as catalog, catalog.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT image_id, label_id FROM annotation WHERE attribute_id = :s"), {"s": style}
        ).all()
    expected = {(image, label) for image in range(1, 41) if image % 3 for label in labels}
    assert set(rows) == expected and len(rows) == len(expected)  # each process's rows, none lost or doubled
