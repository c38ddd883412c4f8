"""The Map tab: compute the map, colour it, lasso a cluster into Browse and label it (undoable), a click shows the
image in Browse, Browse's selection ringed on the map; the density image of a large map; the geometry helpers."""

from __future__ import annotations

import os

import numpy as np
from PySide6.QtCore import QPointF

from core.catalog.store import Catalog
from tests.conftest import dump_tables
from tests.curation.test_suggest import pool as pool
from tests.features.test_feature_store import weights_file as weights_file
from tests.heads.test_heads import shapes as shapes
from tests.qt_helpers import idle, open_window, settle
from tests.workbench.test_curation_window import wait_job
from workbench.viewmodels.map_points import density_image, in_polygon, in_view, nearest


def test_geometry_helpers():
    points = np.array([[0, 0], [0.9, 0.9], [2, 2], [5, 5]], dtype=np.float32)
    assert in_view(points, 0.5, 2.5, 0.5, 2.5).tolist() == [1, 2]
    triangle = np.array([[-1, -1], [3, -1], [-1, 3]], dtype=np.float64)
    assert in_polygon(points, triangle).tolist() == [0, 1]  # (2, 2) is outside the hypotenuse x + y = 2
    assert in_polygon(points, triangle[:2]).tolist() == []
    assert nearest(points, np.arange(4), 1.1, 0.9, 0.5) == 1 and nearest(points, np.arange(4), 3.5, 3.5, 0.5) is None
    rgb = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255], [9, 9, 9]], dtype=np.uint8)
    same_place = np.array([[0, 0], [0, 0], [1, 1], [1, 1]], dtype=np.float32)
    image = density_image(same_place, rgb, np.array([1, 0, 3, 2]), pixels=4)
    assert image[0, 0, :3].tolist() == [255, 0, 0]  # drawn last there: point 0
    assert image[3, 3, :3].tolist() == [0, 0, 255] and image[0, 3, 3] == 0  # an empty pixel is transparent


def trained_catalog(pool, weights_file) -> tuple[str, dict]:
    """The pool catalog whose default features (its newest run's) are the small network's."""
    from core.base.iteration import drain
    from core.curation.predict import predict
    from core.heads.train import train_head
    from tests.features.test_feature_store import head_config

    location, ids = pool
    run_id = list(train_head(location, head_config(weights_file, epochs=5)))[-1].run_id
    drain(predict(location, run_id))  # the unlabeled images' predictions: what "Colour by predicted label" shows
    return location, ids


def test_map_lasso_into_browse_label_and_undo(qtbot, pool, weights_file):
    location, ids = trained_catalog(pool, weights_file)
    window = open_window(qtbot, location)
    view = window.view("map")
    window.tabs.setCurrentWidget(view)
    qtbot.waitUntil(lambda: "No map of this catalog yet" in view.summary.text(), timeout=30000)
    view.compute_button.click()
    wait_job(qtbot, window)
    qtbot.waitUntil(lambda: view.colouring is not None and len(view.scatters) > 0, timeout=30000)
    made = view.made
    assert made is not None and len(made.image_ids) == 29 + 13 and "42 images" in view.summary.text()
    assert view.colouring.categories == ("red", "green", "blue") and "the tail is drawn on top" in view.legend.text()
    swatches = [view.swatches.item(i).text() for i in range(view.swatches.count())]
    assert swatches == ["red", "green", "blue", "none"]  # one swatch per colour, names as plain text
    view.colour_box.setCurrentIndex(view.colour_box.findData("predicted"))
    qtbot.waitUntil(lambda: view.colouring is not None and view.colouring.field == "predicted", timeout=15000)
    assert "predictions of run 1" in view.legend.text()
    rows_predicted = view.colouring.values >= 0
    assert rows_predicted.sum() == 13  # the unlabeled images were predicted; the labelled ones show as none
    # a lasso around the blue images (labelled and not): Browse shows exactly those
    rows = {int(i): r for r, i in enumerate(made.image_ids)}
    blue = [rows[i] for i in ids["blue"]]
    around = made.points[blue]
    low, high = around.min(axis=0) - 1e-3, around.max(axis=0) + 1e-3
    inside = set(in_polygon(made.points, np.array([[low[0], low[1]], [high[0], low[1]], [high[0], high[1]],
                                                    [low[0], high[1]]])).tolist())  # fmt: skip
    view._lassoed(np.array([[low[0], low[1]], [high[0], low[1]], [high[0], high[1]], [low[0], high[1]]]))
    browser = window.view("browser")
    qtbot.waitUntil(lambda: browser.filters.similar_chip.isVisible(), timeout=15000)
    assert browser.filters.similar_chip.text() == f"{len(inside)} images from the map  ✕"
    qtbot.waitUntil(lambda: set(browser.model.all_ids()) == {int(made.image_ids[r]) for r in inside}, timeout=15000)
    browser.filters.unlabeled.setChecked(True)  # the map's images without a label, labelled in bulk
    expected = {int(made.image_ids[r]) for r in inside} & set(ids["red"] + ids["green"] + ids["blue"])
    qtbot.waitUntil(lambda: set(browser.model.all_ids()) == expected, timeout=15000)
    with Catalog(location) as cat:
        before = dump_tables(cat, ("annotation",))
        blue_id = next(c.label_id for c in cat.label_counts("colour").labels if c.name == "blue")
    browser.grid.selectAll()
    qtbot.waitUntil(lambda: len(view.selected) == len(expected), timeout=15000)  # Browse's selection, ringed
    assert {int(made.image_ids[r]) for r in view.selected} == expected
    browser.assign_label(blue_id)
    settle(qtbot, window)
    with Catalog(location) as cat:
        assert len(dump_tables(cat, ("annotation",))["annotation"]) == len(before["annotation"]) + len(expected)
    window.undo()
    settle(qtbot, window)
    with Catalog(location) as cat:
        assert dump_tables(cat, ("annotation",)) == before
    window.tabs.setCurrentWidget(view)
    if os.environ.get("TAILOR_SCREENSHOTS"):
        window.resize(1024, 700)
        idle(qtbot, window)
        window.grab().save(os.path.join(os.environ["TAILOR_SCREENSHOTS"], "map.png"))


def test_a_click_shows_the_image_in_browse_and_the_map_opens_at_once_next_time(qtbot, pool, weights_file):
    location, _ids = trained_catalog(pool, weights_file)
    from core.base.iteration import drain
    from core.curation.catalog_map import catalog_map

    made = drain(catalog_map(location, attribute="colour"))  # kept beside the store
    window = open_window(qtbot, location)
    view = window.view("map")
    window.tabs.setCurrentWidget(view)
    qtbot.waitUntil(lambda: view.made is not None and len(view.scatters) > 0, timeout=30000)
    assert "kept beside the feature store" in view.summary.text()
    assert np.array_equal(view.made.points, made.points)
    scene = view.box.mapViewToScene(QPointF(*map(float, made.points[0])))
    assert view._at(scene) is not None
    row = view._at(scene)

    class Click:
        def scenePos(self):
            return scene

    view._clicked(Click())
    browser = window.view("browser")
    image_id = int(made.image_ids[row])
    qtbot.waitUntil(lambda: browser.grid.selected_ids() == [image_id], timeout=15000)
    assert browser.filters.similar_chip.text() == f"Image {image_id} from the map  ✕"
