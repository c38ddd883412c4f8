"""The approximate index of large stores (core.features.similarity_index): the same answers as the exact search on a
small store searched exhaustively, rebuilt when damaged, grown as images are added."""

from __future__ import annotations

from pathlib import Path

from core.base.iteration import drain
from core.catalog.store import Catalog
from core.curation.label_issues import FeatureChoice
from core.curation.similar import find_similar
from core.features import similarity_index
from tests.features.test_feature_store import weights_file as weights_file
from tests.heads.test_heads import shapes as shapes


def search(catalog: str, weights: str, exact: bool, monkeypatch) -> list[int]:
    monkeypatch.setattr(similarity_index, "EXACT_BELOW", 10**9 if exact else 1)
    choice = FeatureChoice(backbone="resnet32-cifar", pretrained=weights, image_size=16)
    result = drain(find_similar(catalog, [1, 2], k=6, choice=choice))
    return [n.image_id for n in result.neighbours]


def index_file(catalog: str) -> Path:
    return next(Path(catalog + ".features").glob("*/similarity.faiss"))


def test_the_index_answers_what_the_exact_search_does(shapes, weights_file, monkeypatch):
    exact = search(shapes, weights_file, True, monkeypatch)
    indexed = search(shapes, weights_file, False, monkeypatch)
    assert set(indexed) == set(exact) and indexed[:3] == exact[:3]  # float16 in the index: near ties may swap
    assert index_file(shapes).stat().st_size > 0


def test_a_damaged_index_is_rebuilt(shapes, weights_file, monkeypatch):
    first = search(shapes, weights_file, False, monkeypatch)
    index_file(shapes).write_bytes(b"not an index")
    assert search(shapes, weights_file, False, monkeypatch) == first
    assert index_file(shapes).read_bytes() != b"not an index"


def test_the_index_grows_with_the_store(shapes, weights_file, monkeypatch, tmp_path):
    from core.ingest.importer import import_source, run
    from tests.conftest import write_image

    search(shapes, weights_file, False, monkeypatch)
    ids_file = index_file(shapes).with_name("similarity.ids.npy")
    import numpy as np

    before = len(np.load(ids_file))
    write_image(tmp_path / "more" / "green" / "x.png", colour=(31, 199, 41), size=(24, 24))
    with Catalog(shapes) as cat:
        run(import_source(cat, tmp_path / "more", "colour"))
    search(shapes, weights_file, False, monkeypatch)
    assert len(np.load(ids_file)) == before + 1


def test_an_index_of_another_width_is_rebuilt_not_trusted(shapes, weights_file, monkeypatch):
    import faiss
    import numpy as np

    first = search(shapes, weights_file, False, monkeypatch)
    ids = np.load(index_file(shapes).with_name("similarity.ids.npy"))
    other = faiss.IndexIVFScalarQuantizer(faiss.IndexFlatIP(8), 8, 1, faiss.ScalarQuantizer.QT_fp16,
                                          faiss.METRIC_INNER_PRODUCT)  # fmt: skip
    vectors = np.random.default_rng(0).random((len(ids), 8), dtype=np.float32)
    other.train(vectors)
    other.add_with_ids(vectors, ids)  # readable, the right ids, another width
    index_file(shapes).write_bytes(faiss.serialize_index(other).tobytes())
    assert search(shapes, weights_file, False, monkeypatch) == first


def test_the_stores_keys_map_to_the_ids_of_their_hashes():
    import numpy as np

    from core.features.store import key_of

    hashes = ["00" * 32, "ff" * 32, "0123456789abcdef" + "00" * 24, "80" + "11" * 31]
    keys = np.array([key_of(h) for h in hashes], dtype="S16")  # the store's keys (trailing zero bytes dropped)
    assert similarity_index.key_ids(keys).tolist() == similarity_index.hash_ids(hashes).tolist()
    assert similarity_index.key_ids(keys).dtype == np.int64 and (similarity_index.key_ids(keys) >= 0).all()
