"""Edge-label placement: every label on its own edge, clear of the others, the nodes and crossings.

The rules are checked with geometry written again here (fractions for the crossings, plain
arithmetic for boxes and circles), not with the module's own helpers, over many architectures in
both layouts (tests/scenes.py rebuilds app/diagram.py's unit positions).
"""

from __future__ import annotations

import itertools
import math
import random
from fractions import Fraction

import pytest

from app import labels
from app.labels import (
    BASELINE,
    CHAR_WIDTH,
    LINE_HEIGHT,
    Box,
    Circle,
    Clearance,
    EdgeLabel,
    Placement,
    crossing,
    place_labels,
    place_largest,
    text_box,
    text_size,
)
from tests.scenes import Scene, architectures, scene

#: The label texts of the brief: a weight, a negative one, a tiny one, an update; and the two-line
#: label of the backward phase.
TEXTS: tuple[tuple[str, ...], ...] = (
    ("0.1234",),
    ("−12.35",),
    ("1.235e-05",),
    ("0.5 → 0.4983",),
    ("0.1234", "∂ −0.01234"),
)
TOLERANCE = 1e-6


# --------------------------------------------------------------------------------------------
# An independent check of the rules
# --------------------------------------------------------------------------------------------


def exact_crossings(a: EdgeLabel, b: EdgeLabel) -> tuple[float, float] | None:
    """Where two segments meet, solved in fractions (no tolerance to tune)."""
    ax, ay, bx, by = (Fraction(v) for v in (a.x1, a.y1, a.x2, a.y2))
    cx, cy, dx, dy = (Fraction(v) for v in (b.x1, b.y1, b.x2, b.y2))
    det = (bx - ax) * (dy - cy) - (by - ay) * (dx - cx)
    if det == 0:
        return None
    t = ((cx - ax) * (dy - cy) - (cy - ay) * (dx - cx)) / det
    u = ((cx - ax) * (by - ay) - (cy - ay) * (bx - ax)) / det
    if 0 <= t <= 1 and 0 <= u <= 1:
        return float(ax + (bx - ax) * t), float(ay + (by - ay) * t)
    return None


def box_gap(a: Box, b: Box) -> float:
    """The distance between two boxes along the axis that separates them (negative: they overlap)."""
    return max(a.left - b.right, b.left - a.right, a.top - b.bottom, b.top - a.bottom)


def point_to_box(x: float, y: float, box: Box) -> float:
    dx = max(box.left - x, 0.0, x - box.right)
    dy = max(box.top - y, 0.0, y - box.bottom)
    return math.hypot(dx, dy)


def assert_rules_hold(drawing: Scene, placed: list[Placement], clearance: Clearance) -> None:
    assert [p.id for p in placed] == [label.id for label in drawing.labels]
    width, height = drawing.bounds
    for label, place in zip(drawing.labels, placed, strict=True):
        # the centre is the point at t of its own segment, and t is strictly inside it
        assert 0 < place.t < 1
        assert place.x == pytest.approx(label.x1 + (label.x2 - label.x1) * place.t, abs=0.01)
        assert place.y == pytest.approx(label.y1 + (label.y2 - label.y1) * place.t, abs=0.01)
        cross = (label.x2 - label.x1) * (place.y - label.y1) - (label.y2 - label.y1) * (place.x - label.x1)
        assert abs(cross) / label.length < 0.01, "the centre is on the edge's line"
        # the text block is centred there and has the size asked for; the halo surrounds it
        assert place.text.width == pytest.approx(label.width)
        assert place.text.height == pytest.approx(label.height)
        assert place.text.centre == pytest.approx((place.x, place.y), abs=0.01)
        assert place.halo == Box(
            place.text.left - clearance.halo,
            place.text.top - clearance.halo,
            place.text.right + clearance.halo,
            place.text.bottom + clearance.halo,
        )
        halo = place.halo
        assert halo.left >= 0 and halo.top >= 0 and halo.right <= width and halo.bottom <= height
        for circle in drawing.circles:
            assert point_to_box(circle.x, circle.y, halo) >= circle.r + clearance.gap - TOLERANCE
        for box, *_ in drawing.captions:
            assert box_gap(halo, box) >= clearance.gap - TOLERANCE
        for other in drawing.labels:
            if other is not label:
                point = exact_crossings(label, other)
                if point is not None:
                    assert point_to_box(*point, halo) >= clearance.crossing - TOLERANCE, (label.id, other.id)
    for a, b in itertools.combinations(placed, 2):
        assert box_gap(a.halo, b.halo) >= clearance.gap - TOLERANCE, (a.id, b.id)


def sample_architectures() -> list[tuple[int, ...]]:
    """Every two-layer architecture, and a fixed random draw of deeper ones (all ≤ 24 edges)."""
    every = list(architectures())
    shallow = [a for a in every if len(a) == 2]
    draw = random.Random(9)
    three = draw.sample([a for a in every if len(a) == 3], 30)
    deeper = draw.sample([a for a in every if len(a) > 3], 30)
    return [*shallow, *three, *deeper, (2, 2, 2), (2, 3, 2), (2, 4, 4, 1), (8, 1, 8), (2, 8, 1), (1, 8, 2)]


# --------------------------------------------------------------------------------------------
# Properties over many architectures
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("orientation", ["landscape", "portrait"])
def test_every_placement_keeps_the_rules(orientation: str) -> None:
    placed_count = 0
    cases = sample_architectures()
    for number, layers in enumerate(cases):
        lines = TEXTS[number % len(TEXTS)]
        font = 12.0
        drawing = scene(layers, orientation, font, lines, delta="δ 0.1234" if len(lines) > 1 else "")
        clearance = Clearance.for_font(font)
        placed = place_labels(drawing.labels, drawing.obstacles, drawing.bounds, clearance)
        if placed is not None:
            placed_count += 1
            assert_rules_hold(drawing, placed, clearance)
    # the rules are not met by placing nothing: most of these scenes have room at 12 units
    assert placed_count >= 0.75 * len(cases), (placed_count, len(cases))


@pytest.mark.parametrize("orientation", ["landscape", "portrait"])
@pytest.mark.parametrize("lines", TEXTS, ids=lambda lines: "|".join(lines))
@pytest.mark.parametrize("layers", [(2, 2, 2), (2, 3, 2), (2, 5, 2), (3, 3, 3), (2, 2, 2, 2), (4, 1, 4, 1)])
def test_the_named_networks_at_every_label_length(
    layers: tuple[int, ...], lines: tuple[str, ...], orientation: str
) -> None:
    """The largest font (of 18, 16, 14, 12) at which the labels fit, and the rules at that font."""
    delta = "δ 0.1234" if len(lines) > 1 else ""
    found = place_largest(
        lambda font: scene(layers, orientation, font, lines, delta=delta).labels,
        lambda font: scene(layers, orientation, font, lines, delta=delta).obstacles,
        scene(layers, orientation).bounds,
        [12.0, 14.0, 16.0, 18.0],
    )
    assert found is not None, "these networks have room for their labels at 12 units at least"
    font, placed = found
    assert_rules_hold(scene(layers, orientation, font, lines, delta=delta), placed, Clearance.for_font(font))


@pytest.mark.parametrize("orientation", ["landscape", "portrait"])
def test_2_3_2_at_the_projectors_18_units(orientation: str) -> None:
    """At 18 units a short one-line label fits the default network; a value with its gradient
    under it needs 17: the diagram has to make room (or shrink the numbers) for the backward phase."""
    drawing = scene((2, 3, 2), orientation, 18.0, ("−0.1234",))
    assert place_labels(drawing.labels, drawing.obstacles, drawing.bounds, Clearance.for_font(18.0))
    two = ("0.1234", "∂ −0.01234")
    wanted = 17.0
    found = place_largest(
        lambda font: scene((2, 3, 2), orientation, font, two, delta="δ 0.1234").labels,
        lambda font: scene((2, 3, 2), orientation, font, two, delta="δ 0.1234").obstacles,
        scene((2, 3, 2), orientation).bounds,
        [14.0, 15.0, 16.0, 17.0, 18.0],
    )
    assert found is not None and found[0] == wanted


def test_too_many_or_too_short_edges_get_no_placement() -> None:
    # six layers share 713 units: after the circles, the one-unit gaps leave 59 units of edge,
    # less than a 6-character label at 18
    drawing = scene((1, 1, 1, 1, 1, 1), "landscape", 18.0)
    assert drawing.labels[0].length == pytest.approx(142.6 - 2 * 42, abs=0.01)
    assert place_labels(drawing.labels, drawing.obstacles, drawing.bounds, Clearance.for_font(18.0)) is None
    assert (
        place_largest(
            lambda font: scene((1, 1, 1, 1, 1, 1), "landscape", font).labels,
            lambda font: scene((1, 1, 1, 1, 1, 1), "landscape", font).obstacles,
            drawing.bounds,
            [18.0, 16.0],
        )
        is None
    )


def test_deterministic() -> None:
    drawing = scene((3, 4, 2), "landscape", 14.0, ("−12.35",))
    clearance = Clearance.for_font(14.0)
    first = place_labels(drawing.labels, drawing.obstacles, drawing.bounds, clearance)
    again = place_labels(drawing.labels, drawing.obstacles, drawing.bounds, clearance)
    assert first is not None and first == again


# --------------------------------------------------------------------------------------------
# The default network, exactly
# --------------------------------------------------------------------------------------------


def test_2_3_2_landscape_positions() -> None:
    """Candidates lie a quarter em (4.5 units) apart: t = k / floor(length / 4.5). Each label sits
    at the first spot that clears the node and the captions, unless a crossing or another label is
    in the way or another edge would run under it."""
    drawing = scene((2, 3, 2), "landscape", 18.0, ("0.1234",))
    placed = place_labels(drawing.labels, drawing.obstacles, drawing.bounds, Clearance.for_font(18.0))
    assert placed is not None
    # (k, n): the k-th of the n spots along the edge (63 on the 285-unit edges, 82 on the 372s)
    spots = {
        "weight:0,0,0": ((10, 63), 146.29, 182.54),
        "weight:0,0,1": ((11, 63), 150.66, 228.63),
        "weight:0,0,2": ((11, 82), 133.83, 262.42),
        "weight:0,1,0": ((11, 82), 133.83, 337.58),
        "weight:0,1,1": ((11, 63), 150.66, 371.37),
        "weight:0,1,2": ((10, 63), 146.29, 417.46),
        "weight:1,0,0": ((25, 63), 568.34, 149.93),
        "weight:1,0,1": ((10, 82), 486.78, 164.59),
        "weight:1,1,0": ((10, 63), 502.79, 277.54),
        "weight:1,1,1": ((10, 63), 502.79, 322.46),
        "weight:1,2,0": ((16, 82), 508.06, 418.4),
        "weight:1,2,1": ((11, 63), 507.16, 466.37),
    }
    assert {p.id: (p.t, p.x, p.y) for p in placed} == {
        key: (round(k / n, 6), x, y) for key, ((k, n), x, y) in spots.items()
    }
    by_id = {p.id: p for p in placed}
    # the first gap has no captions near the inputs, so its labels mirror about the middle row
    for i, j in itertools.product(range(2), range(3)):
        a, b = by_id[f"weight:0,{i},{j}"], by_id[f"weight:0,{1 - i},{2 - j}"]
        assert (a.t, a.x) == (b.t, b.x) and a.y + b.y == pytest.approx(600.0, abs=0.011)
    # the labels of one source are staggered: no two of them at the same distance along the edge
    for i in range(2):
        lengths = [
            round(by_id[f"weight:0,{i},{j}"].t * drawing.labels[3 * i + j].length, 1) for j in range(3)
        ]
        assert len(set(lengths)) == 3
    assert [math.floor(label.length / 4.5) for label in drawing.labels[:3]] == [63, 63, 82]


def test_2_3_2_labels_keep_off_the_crossings() -> None:
    drawing = scene((2, 3, 2), "landscape", 18.0, ("0.1234",))
    placed = place_labels(drawing.labels, drawing.obstacles, drawing.bounds, Clearance.for_font(18.0))
    assert placed is not None
    # x1→h3 and x2→h1 cross on the middle row, 95/285 of the way from x = 62 to 418.5
    middle = exact_crossings(drawing.labels[2], drawing.labels[3])
    assert middle is not None and middle == pytest.approx((62 + 356.5 / 3, 300.0))
    for place in placed[2], placed[3]:
        assert point_to_box(*middle, place.halo) >= 4.5
        assert place.t < 0.5, "on the source's side of the crossing"


# --------------------------------------------------------------------------------------------
# Single rules on small scenes
# --------------------------------------------------------------------------------------------


def horizontal(key: str, y: float, width: float = 60.0, x1: float = 0.0, x2: float = 400.0) -> EdgeLabel:
    return EdgeLabel(key, x1, y, x2, y, width, 20.0)


CLEAR = Clearance(halo=5.0, gap=2.0, crossing=4.0, step=4.0)


def test_an_open_edge_puts_its_label_nearest_the_source() -> None:
    (place,) = place_labels([horizontal("a", 100)], [], (400, 200), CLEAR) or []
    # the halo's left side (x − 30 − 5) must be ≥ 0: the first spot on the 4-unit grid is x = 36
    assert (place.t, place.x, place.y) == (0.09, 36.0, 100.0)
    assert place.text == Box(6.0, 90.0, 66.0, 110.0)
    assert place.halo == Box(1.0, 85.0, 71.0, 115.0)


def test_a_node_and_a_caption_push_the_label_along() -> None:
    node = Circle(0.0, 100.0, 40.0)
    caption = Box(80.0, 70.0, 140.0, 95.0)  # above the line, reaching into the label's height
    (place,) = place_labels([horizontal("a", 100)], [node, caption], (400, 200), CLEAR) or []
    # clear of the circle: x − 35 ≥ 40 + 2; clear of the caption: x − 35 ≥ 140 + 2
    assert place.x == 180.0 and place.halo.left - caption.right >= 2.0


def test_a_crossing_is_kept_out_of_the_halo() -> None:
    crossing_edge = EdgeLabel("b", 100, 0, 100, 200, 30.0, 20.0)
    placed = place_labels([horizontal("a", 100), crossing_edge], [], (400, 200), CLEAR)
    assert placed is not None
    a, b = placed
    # a's halo spans x ± 35: with the crossing at x = 100 kept 4 away, x ≤ 61 or x ≥ 139
    assert a.x == 36.0
    # b's label goes above or below the crossing, 4 clear of it (its halo is 30 high: y ≤ 81)
    assert abs(b.y - 100) - 15 >= 4
    assert b.x == 100.0


def test_a_crossing_that_leaves_no_room_means_no_placement() -> None:
    # an edge between two nodes, crossed halfway: its 70-wide halo, kept 2 off the circles and 4
    # off the crossing, fits on neither side (x ≤ 161 and x ≥ 187 on the left, mirrored right)
    a = horizontal("a", 100, x1=150, x2=250)
    b = EdgeLabel("b", 200, 0, 200, 200, 10.0, 10.0)
    nodes = [Circle(140, 100, 10), Circle(260, 100, 10)]
    assert place_labels([a, b], nodes, (400, 200), CLEAR) is None
    # without the crossing edge the label fits in the middle
    placed = place_labels([a], nodes, (400, 200), CLEAR)
    assert placed is not None and 187 <= placed[0].x <= 213


def test_two_labels_that_cannot_both_fit() -> None:
    # two parallel edges 10 apart: their 30-high halos can only sit side by side, and a drawing
    # 130 wide has no room for two 70-wide halos and the gap
    edges = [horizontal("a", 100, x1=0, x2=130), horizontal("b", 110, x1=0, x2=130)]
    assert place_labels(edges, [], (130, 200), CLEAR) is None
    longer = [horizontal("a", 100, x1=0, x2=200), horizontal("b", 110, x1=0, x2=200)]
    placed = place_labels(longer, [], (400, 200), CLEAR)
    assert placed is not None
    first, second = placed
    assert first.x == 36.0  # the source end
    assert box_gap(first.halo, second.halo) >= 2.0  # and the other one staggered past it


def test_a_foreign_line_under_the_halo_costs_more_than_distance() -> None:
    # a short stub runs under the spot nearest the source (it ends before crossing the edge)
    stub = EdgeLabel("s", 30, 60, 30, 95, 4.0, 4.0)
    placed = place_labels([horizontal("a", 100), stub], [], (400, 200), CLEAR)
    assert placed is not None
    a = placed[0]
    assert a.halo.left >= 30.0, "the label moved past the stub rather than hide it"
    cheap = Clearance(halo=5.0, gap=2.0, crossing=4.0, step=4.0, intrusion=0.0)
    placed = place_labels([horizontal("a", 100), stub], [], (400, 200), cheap)
    assert placed is not None and placed[0].x == 36.0


def test_the_search_gives_up_within_its_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    drawing = scene((2, 3, 2), "landscape", 18.0)
    monkeypatch.setattr(labels, "BUDGET", 0)
    assert place_labels(drawing.labels, drawing.obstacles, drawing.bounds, Clearance.for_font(18.0)) is None


def test_an_edge_with_no_room_at_all() -> None:
    assert place_labels([horizontal("a", 100, width=500)], [], (400, 200), CLEAR) is None
    assert place_labels([], [], (400, 200), CLEAR) == []


# --------------------------------------------------------------------------------------------
# Shapes and sizes
# --------------------------------------------------------------------------------------------


def test_text_sizes_follow_the_character_model() -> None:
    assert text_size(["0.1234"], 18.0) == pytest.approx((6 * 18 * CHAR_WIDTH, 18 * LINE_HEIGHT))
    assert text_size(["0.1234", "∂ −0.01234"], 10.0) == pytest.approx((10 * 10 * 0.64, 24.0))
    box = text_box(100.0, 50.0, "b 0.5", 20.0)
    assert box.width == pytest.approx(5 * 20 * 0.64) and box.centre[0] == pytest.approx(100.0)
    # the baseline sits 0.946 em below the top of a 1.2 em line box
    assert round(BASELINE, 3) == 0.946
    assert box.top == pytest.approx(50.0 - 0.946 * 20) and box.height == pytest.approx(24.0)


def test_baseline_centres_the_block_on_the_edge() -> None:
    place = Placement("a", 0.5, 100.0, 200.0, Box(0, 0, 1, 1), Box(0, 0, 1, 1))
    # one line: the line box spans 200 ± 0.6 em; two lines: 200 ± 1.2 em
    assert place.baseline(20.0, 1) == pytest.approx(200 - 12 + 18.92)
    assert place.baseline(20.0, 2) == pytest.approx(200 - 24 + 18.92)


def test_segment_crossings() -> None:
    assert crossing((0, 0, 10, 10), (0, 10, 10, 0)) == pytest.approx((5.0, 5.0, 0.5))
    assert crossing((0, 0, 10, 0), (0, 1, 10, 1)) is None  # parallel
    assert crossing((0, 0, 10, 0), (11, -5, 11, 5)) is None  # would meet beyond the end
    assert crossing((0, 0, 10, 0), (10, -5, 10, 5)) == pytest.approx((10.0, 0.0, 1.0))  # at the end


@pytest.mark.parametrize(
    ("segment", "inside"),
    [
        ((-5, 5, 15, 5), True),  # straight through
        ((5, 5, 6, 6), True),  # wholly inside
        ((-5, -5, 15, 15), True),  # along the diagonal
        ((-5, 0, 15, 0), False),  # along the top side only
        ((-5, 5, -1, 5), False),  # stops short
        ((-10, 0, 0, 10), False),  # touches the corner (0, 10)... from outside: no interior
        ((20, -5, 20, 15), False),  # beside it
        ((5, -5, 5, 15), True),  # vertical through
    ],
)
def test_box_crosses_segment(segment: tuple[float, float, float, float], inside: bool) -> None:
    assert Box(0, 0, 10, 10).crosses_segment(segment) is inside


def test_box_distances_and_circles() -> None:
    box = Box(0, 0, 10, 10)
    assert box.distance_to_point(5, 5) == 0.0
    assert box.distance_to_point(13, 14) == 5.0
    assert box.intersects_circle(Circle(13, 14, 5.01)) and not box.intersects_circle(Circle(13, 14, 5.0))
    assert box.intersects(Box(9, 9, 20, 20)) and not box.intersects(Box(10, 0, 20, 10))
    assert box.contains(Box(1, 1, 10, 10)) and not box.contains(Box(-1, 1, 5, 5))
    assert box.grown(2) == Box(-2, -2, 12, 12)
