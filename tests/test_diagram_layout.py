"""Where the diagram's parts go: positions in both orientations, boxes, label placement."""

from __future__ import annotations

from app.diagram_layout import Box, Layout, Line, label_box, place_labels


def test_place_labels_avoids_a_placed_label() -> None:
    lines = (Line("0.1234", "value"),)
    taken = label_box(200, 100, lines)
    # a horizontal edge through the taken spot: the label moves off its preferred middle
    ((x, y),) = place_labels([(0, 100, 400, 100)], [lines], [0.5], [taken])
    assert x != 200
    assert label_box(x, y, lines).overlap(taken) == 0
    assert y == 100


def test_portrait_layout_runs_top_to_bottom() -> None:
    layout = Layout.portrait((2, 3, 2))
    (x0, y0), (x1, y1) = layout.position(0, 0), layout.position(1, 0)
    assert y0 < y1 and x0 != x1
    _x, y, anchor = layout.target_position(0)
    assert anchor == "middle" and y > layout.position(2, 0)[1]
    assert Box(0, 0, 10, 10).overlap(Box(5, 5, 20, 20)) == 25
    assert Box(0, 0, 10, 10).overlap(Box(10, 0, 20, 10)) == 0
