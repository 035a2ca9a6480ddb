"""Where the page's diagram goes: exact positions on both canvases, the label shapes, and label
placement computed once per architecture and shape."""

from __future__ import annotations

import math

import pytest

from app import diagram_geometry
from app.diagram_geometry import LANDSCAPE, PORTRAIT, Shape, geometry, number_width, placements, shape_of
from app.labels import BASELINE, Circle, Clearance


def test_the_default_network_on_the_projectors_canvas() -> None:
    g = geometry((2, 3, 2), "landscape")
    assert (LANDSCAPE.width, LANDSCAPE.height) == (1100.0, 520.0)
    # layers 428 apart between the margins (50 before, 194 after for the targets); units 192 apart:
    # (520 − 2·68) / 2, less than the 200 allowed
    assert (g.radius, g.spacing, g.roomy) == (40.0, 192.0, True)
    assert g.centres == (
        ((50.0, 164.0), (50.0, 356.0)),
        ((478.0, 68.0), (478.0, 260.0), (478.0, 452.0)),
        ((906.0, 164.0), (906.0, 356.0)),
    )
    # x1 → h1 runs from (50, 164) to (478, 68): 438.63 long, cut 40 from each centre
    length = math.hypot(428, 96)
    assert (
        g.segment(0, 0, 0)
        == (
            round(50 + 40 * 428 / length, 2),
            round(164 - 40 * 96 / length, 2),
            round(478 - 40 * 428 / length, 2),
            round(68 + 40 * 96 / length, 2),
        )
        == (89.03, 155.25, 438.97, 76.75)
    )
    # h1's bias sits 6 above its circle (its text's bottom: 0.254 em under the baseline), δ 6
    # below (its top 0.946 em over it); the name 0.3 em above the middle, the value under its
    # subscript
    assert g.bias_baseline(1, 0) == (478.0, round(68 - 40 - 6 - (1.2 - BASELINE) * 18, 2)) == (478.0, 17.43)
    assert g.delta_baseline(1, 0) == (478.0, round(68 + 40 + 6 + BASELINE * 18, 2)) == (478.0, 131.03)
    assert g.name_baseline(1, 0) == (478.0, 59.9)
    assert g.value_baseline(1, 0) == (478.0, round(59.9 + 0.52 * 27 + 3 + 0.928 * 18, 2)) == (478.0, 93.64)
    # t1 right of y1, its text centred on y1's middle
    assert (
        g.target_baseline(0)
        == (962.0, round(164 + (BASELINE - 0.6) * 20, 2), "start")
        == (962.0, 170.92, "start")
    )
    assert g.edges[:4] == ((0, 0, 0), (0, 0, 1), (0, 0, 2), (0, 1, 0)) and len(g.edges) == 12


def test_units_shrink_to_keep_room_for_their_captions() -> None:
    # four units: 128 apart; bias and δ need 2·(6 + 21.6) + 2 = 57.2 of it, so the radius is 35.4
    four = geometry((2, 4, 1), "landscape")
    assert (four.spacing, four.radius, four.roomy) == (128.0, 35.4, True)
    # five: 96 apart leaves a radius of 19.4, under the 34 a value needs: names only, in circles
    # of 0.42 of the room (at most 40)
    five = geometry((2, 5, 1), "landscape")
    assert (five.spacing, five.roomy, five.radius) == (96.0, False, 40.0)
    eight = geometry((8, 8, 8, 8, 8, 8), "landscape")
    assert (eight.spacing, eight.roomy, eight.radius) == (54.86, False, 23.04)
    assert eight.name_baseline(0, 0) == (50.0, round(68 + 0.35 * 27, 2))  # in the middle of the circle


def test_the_phones_upright_canvas() -> None:
    g = geometry((2, 3, 2), "portrait")
    assert (PORTRAIT.width, PORTRAIT.height) == (440.0, 900.0)
    # layers top to bottom, 358 apart; units 150 apart across the 440-wide screen
    assert (g.radius, g.spacing, g.roomy) == (34.0, 150.0, True)
    assert g.centres == (
        ((145.0, 64.0), (295.0, 64.0)),
        ((70.0, 422.0), (220.0, 422.0), (370.0, 422.0)),
        ((145.0, 780.0), (295.0, 780.0)),
    )
    # targets under the outputs' δ
    assert g.target_baseline(0) == (145.0, round(g.delta_baseline(2, 0)[1] + 1.2 * 18, 2), "middle")


def test_geometry_and_placements_are_computed_once() -> None:
    assert geometry((3, 2), "landscape") is geometry((3, 2), "landscape")
    shape = Shape(lines=1, label=7, bias=9, delta=0, target=12)
    first = placements((2, 3, 2), "landscape", shape)
    hits = placements.cache_info().hits
    assert placements((2, 3, 2), "landscape", shape) is first
    assert placements.cache_info().hits == hits + 1


@pytest.mark.parametrize(
    ("texts", "width"),
    [([], 7), (["0.1234"], 7), (["−0.1234"], 7), (["0.01234"], 7), (["−0.01234"], 10), (["1.235e-05"], 10)],
)
def test_numbers_take_one_of_two_widths(texts: list[str], width: int) -> None:
    assert number_width(texts) == width


def test_the_room_kept_for_each_kind_of_text() -> None:
    # one short weight over a long gradient: both lines as wide as the gradient's, 2 + 10
    shape = shape_of(
        [[("", "0.1234"), ("", "∂ −1.235e-05")], [("", "0.5"), ("", "∂ 0.01")]],
        biases=["b 0.35 → 0.3412", "b 0.6"],
        deltas=["δ 0.01"],
        targets=["0.01", "0.99"],
    )
    assert shape == Shape(lines=2, label=12, bias=19, delta=9, target=12)
    # the post's names come first on the line, and no captions when the units have no room
    named = shape_of([[("w5", "0.4")]], biases=[], deltas=[], targets=["0.5"])
    assert named == Shape(lines=1, label=3 + 7, bias=0, delta=0, target=12)


def test_placed_labels_keep_the_rules() -> None:
    shape = Shape(lines=2, label=12, bias=9, delta=12, target=12)
    found = placements((2, 3, 2), "landscape", shape)
    assert found is not None and len(found) == 12
    g = geometry((2, 3, 2), "landscape")
    clearance = Clearance.for_font(18.0)
    for (l, i, j), place in zip(g.edges, found, strict=True):
        assert place.id == f"{l},{i},{j}"
        # on its own edge, inside the canvas, clear of every circle and caption
        x1, y1, x2, y2 = g.segment(l, i, j)
        assert (place.x, place.y) == pytest.approx(
            (x1 + (x2 - x1) * place.t, y1 + (y2 - y1) * place.t), abs=0.01
        )
        halo = place.halo
        assert halo.left >= 0 and halo.right <= 1100 and halo.top >= 0 and halo.bottom <= 520
        assert halo.width == pytest.approx(12 * 18 * 0.64 + 2 * clearance.halo)
        for obstacle in diagram_geometry.obstacles(g, shape):
            if isinstance(obstacle, Circle):
                assert halo.distance_to_point(obstacle.x, obstacle.y) >= obstacle.r + clearance.gap - 1e-6
            else:
                assert not halo.grown(clearance.gap - 1e-6).intersects(obstacle)


def test_no_placement_where_there_is_no_room() -> None:
    # 2-4-4-1: the 16 edges between the two hidden layers cross a third of the way along
    assert placements((2, 4, 4, 1), "landscape", Shape(1, 7, 9, 0, 12)) is None
    assert placements((1, 1, 1, 1, 1, 1), "landscape", Shape(2, 12, 9, 12, 12)) is None
