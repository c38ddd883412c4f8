"""Bootstrap tables are stored between processes: a second comparison reads them instead of resampling, gives the
same table, recomputes an unreadable file, and the folder stays under its size limit."""

from __future__ import annotations

import os

import numpy as np
import pytest

from core.analysis import compare_intervals, interval_store
from core.analysis.compare import compare
from core.catalog.store import Catalog
from tests.conftest import main_cli
from tests.experiments.test_seeds_and_intervals import catalog as catalog
from tests.experiments.test_seeds_and_intervals import head_args
from tests.features.test_feature_store import weights_file as weights_file


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def test_a_second_process_reads_the_stored_tables(catalog, weights_file, monkeypatch):
    assert main_cli(*head_args(catalog, weights_file, "--epochs", "1", "--seeds", "0,1")).returncode == 0
    with Catalog(catalog) as cat:
        first = compare(cat, [1, 2], resamples=300)
        assert len(list(interval_store.folder().glob("*.npz"))) == 2
        compare_intervals._CACHE.clear()  # as a new process

        def no_resampling(*_args, **_kwargs):
            raise AssertionError("resampled again")

        monkeypatch.setattr(compare_intervals, "resample_columns", no_resampling)
        assert compare(cat, [1, 2], resamples=300) == first
        for path in interval_store.folder().glob("*.npz"):  # damaged files are computed again
            path.write_bytes(b"not a zip")
        compare_intervals._CACHE.clear()
        monkeypatch.undo()
        assert compare(cat, [1, 2], resamples=300) == first
        assert compare(cat, [1, 2], resamples=200)["resamples"] == 200  # another draw, other files


def test_the_folder_is_trimmed_to_its_limit_least_recently_used_first(monkeypatch):
    monkeypatch.setattr(interval_store, "MAX_BYTES", 5_000)
    table = {"acsa": np.zeros(300)}  # about 2.6 kB a file
    for age, name in enumerate(("a", "b", "c"), start=1):
        interval_store.save(name, table)
        os.utime(interval_store.folder() / f"{name}.npz", (age, age))  # a older than b, b older than c
    points = {"acsa": np.zeros(1)}
    assert interval_store.load("a", points, 299) is None and interval_store.load("c", points, 299) is not None
    assert np.array_equal(interval_store.load("c", points, 299)["acsa"], table["acsa"])


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 broken"])
def test_an_unreadable_file_reads_as_absent(content):
    interval_store.folder().mkdir(parents=True, exist_ok=True)
    (interval_store.folder() / "x.npz").write_bytes(content)
    assert interval_store.load("x", {"acsa": np.zeros(1)}, 9) is None


POINTS = {"acsa": np.array([0.5]), "ap": np.array([[0.25, 0.75]])}


def _table(**changes):
    table = {"acsa": np.full(11, 0.5), "ap": np.tile([0.25, 0.75], (11, 1))}
    table["acsa"][1:] = np.linspace(0.4, 0.6, 10)
    table.update(changes)
    return table


@pytest.mark.parametrize(
    "table",
    [
        _table(acsa=np.r_[0.9, np.full(10, 0.9)]),  # made-up numbers: its point value is not the run's
        _table(acsa=np.r_[0.5, np.full(10, 37.0)]),  # not a fraction
        _table(acsa=np.r_[0.5, np.full(10, np.inf)]),
        _table(ap=np.tile([0.25, 0.75, 0.5], (11, 1))),  # another shape: was an internal error
        _table(acsa=np.full(5, 0.5)),  # other resamples
        {"acsa": np.full(11, 0.5)},  # a metric missing
        _table(acsa=np.array(["0.5"] * 11)),
    ],
)
def test_a_stored_table_that_is_not_this_comparison_s_is_computed_again(table):
    interval_store.save("t", table)
    assert interval_store.load("t", POINTS, 10) is None
    interval_store.save("t", _table())
    assert interval_store.load("t", POINTS, 10) is not None


def test_a_fifo_named_like_an_entry_does_not_hang():
    interval_store.folder().mkdir(parents=True, exist_ok=True)
    os.mkfifo(interval_store.folder() / "f.npz")
    assert interval_store.load("f", POINTS, 10) is None
