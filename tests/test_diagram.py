"""Diagram geometry and content: positions, names, colours, labels kept apart, highlights."""

from __future__ import annotations

import itertools

import pytest

from app import diagram, diagram_layout, session
from app.diagram import build, edge_width, node_boxes
from app.diagram_layout import label_box
from app.notation import fmt
from app.palette import NEGATIVE, POSITIVE
from app.session import Session


def stepped(*actions: str, **create: object) -> Session:
    s = session.create("d", **create)  # type: ignore[arg-type]
    steps = {
        "forward": session.run_forward,
        "backward": session.run_backward,
        "update": session.run_update,
        "substep": session.run_substep,
    }
    for action in actions:
        s = steps[action](s)
    return s


def test_default_network_geometry() -> None:
    d = build(session.create("d"))
    assert (d.width, d.height) == (diagram_layout.WIDTH, diagram_layout.HEIGHT)
    assert [(n.layer, n.unit) for n in d.nodes] == [(0, 0), (0, 1), (1, 0), (1, 1), (1, 2), (2, 0), (2, 1)]
    assert len(d.edges) == 12
    xs = sorted({n.x for n in d.nodes})
    assert len(xs) == 3 and xs[0] == diagram_layout.MARGIN_LEFT
    assert xs[2] == diagram_layout.WIDTH - diagram_layout.MARGIN_RIGHT
    for n in d.nodes:
        assert n.r <= n.x <= d.width - n.r
        assert n.r <= n.y <= d.height - n.r
    # layers are centred vertically; each layer's units are evenly spaced
    hidden = [n.y for n in d.nodes if n.layer == 1]
    assert hidden[1] == d.height / 2
    assert hidden[1] - hidden[0] == pytest.approx(hidden[2] - hidden[1])
    # edges start and end on the circles, not at their centres
    first = d.edges[0]
    source = d.nodes[0]
    assert ((first.x1 - source.x) ** 2 + (first.y1 - source.y) ** 2) ** 0.5 == pytest.approx(
        source.r, abs=0.02
    )


@pytest.mark.parametrize("layers", [[2, 3, 2], [1, 1], [3, 5, 4, 2], [8, 8, 8, 8, 8, 8], [2, 2, 2]])
@pytest.mark.parametrize("orientation", ["landscape", "portrait"])
def test_every_node_fits_and_none_overlap(layers: list[int], orientation: str) -> None:
    d = build(
        session.create("d", layers=layers, input=[0.1] * layers[0], target=[0.5] * layers[-1]), orientation
    )
    assert len(d.nodes) == sum(layers)
    for n in d.nodes:
        assert n.x - n.r >= 0 and n.x + n.r <= d.width
        assert n.y - n.r >= 0 and n.y + n.r <= d.height
    for a, b in itertools.combinations(d.nodes, 2):
        assert ((a.x - b.x) ** 2 + (a.y - b.y) ** 2) ** 0.5 >= a.r + b.r


@pytest.mark.parametrize(
    "actions", [(), ("forward",), ("forward", "backward"), ("forward", "backward", "update")]
)
@pytest.mark.parametrize("orientation", ["landscape", "portrait"])
def test_default_labels_stay_inside_and_do_not_pile_up(actions: tuple[str, ...], orientation: str) -> None:
    d = build(stepped(*actions), orientation)
    fonts = d.fonts
    boxes = [label_box(e.label_x, e.label_y, e.lines, fonts.label) for e in d.edges]
    for box in boxes:
        assert box.left >= 0 and box.right <= d.width and box.top >= 0 and box.bottom <= d.height
    areas = [(b.right - b.left) * (b.bottom - b.top) for b in boxes]
    overlap = sum(a.overlap(b) for a, b in itertools.combinations(boxes, 2))
    # Labels may touch in the crowded middle of the hidden→output gap, but by less than 3 % of
    # their total area; at the edges' midpoints the 2-3-2 labels would overlap by 33 % (83 % upright).
    assert overlap <= 0.03 * sum(areas)
    node_cover = [box for n in d.nodes for box in node_boxes(n, fonts)]
    on_nodes = sum(label.overlap(node) for label in boxes for node in node_cover)
    assert on_nodes <= 0.03 * sum(areas)


def test_big_networks_keep_numbers_out_of_the_drawing() -> None:
    d = build(session.create("d", layers=[6, 6, 6], input=[0.0] * 6, target=[0.0] * 6))
    assert len(d.edges) == 72
    assert not any(e.labelled for e in d.edges)
    assert all(e.tooltip.startswith(e.symbol.text + " = ") for e in d.edges)


def test_colours_and_thickness_follow_sign_and_size() -> None:
    assert diagram.edge_stroke(0.3) == POSITIVE
    assert diagram.edge_stroke(-0.3) == NEGATIVE
    assert edge_width(0.0) == 1.5
    assert edge_width(0.1) < edge_width(0.5) < edge_width(2.0) <= 9.0
    assert edge_width(-0.5) == edge_width(0.5)
    assert diagram.node_fill(None) == ("#f4f4f5", "#18181b")
    assert diagram.node_fill(0.0) == ("#ffffff", "#18181b")
    low, high = diagram.node_fill(0.2), diagram.node_fill(0.95)
    assert high[1] == "#ffffff" and low[1] == "#18181b"
    assert diagram.node_fill(-0.9)[0] != diagram.node_fill(0.9)[0]


def test_what_each_phase_shows() -> None:
    idle = build(stepped())
    assert all(n.activation is None and n.delta is None for n in idle.nodes)
    assert [n.value_text for n in idle.nodes if n.layer == 0] == ["0.05", "0.1"]
    assert all(e.gradient is None and len(e.lines) == 1 for e in idle.edges)

    forward = stepped("forward")
    d = build(forward)
    assert forward.forward is not None
    y = forward.forward.activation(2)[0]
    outputs = [n for n in d.nodes if n.layer == 2]
    assert [n.activation for n in outputs] == [float(v) for v in y]
    assert outputs[0].value_text == fmt(float(y[0]))
    assert "a = " in outputs[0].tooltip and "not computed" not in outputs[0].tooltip

    backward = stepped("forward", "backward")
    d = build(backward)
    assert backward.backward is not None
    assert [e.gradient for e in d.edges if e.layer == 1] == [
        float(g) for g in backward.backward.weight_gradient(1).ravel()
    ]
    assert all(e.lines[1].kind == "gradient" for e in d.edges)
    assert all(n.delta_text.startswith("δ ") for n in d.nodes if n.layer > 0)

    updated = stepped("forward", "backward", "update")
    d = build(updated)
    for e in d.edges:
        assert e.old_weight is not None and e.old_weight != e.weight
        assert e.lines[0].text == fmt(e.old_weight) and e.lines[1].text == "→ " + fmt(e.weight)
    assert all("→" in n.bias_text for n in d.nodes if n.layer > 0)


def test_substeps_highlight_exactly_what_they_computed() -> None:
    s = session.create("d")
    seen = []
    for _ in range(6):
        s = session.run_substep(s)
        focus = diagram.focus_of(s)
        seen.append((s.phase, sorted(focus.node_layers), sorted(focus.edge_layers), focus.targets))
    assert seen == [
        ("forwarding", [1], [0], False),
        ("forwarding", [2], [1], False),
        ("forward", [2], [], True),
        ("backwarding", [2], [1], False),
        ("backward", [1], [0], False),
        ("updated", [], [0, 1], False),
    ]
    d = build(session.run_substep(session.create("d")))
    assert {n.layer for n in d.nodes if n.highlight} == {1}
    assert {e.layer for e in d.edges if e.highlight} == {0}
    coarse = build(stepped("forward", "backward"))
    assert not any(n.highlight for n in coarse.nodes) and not any(e.highlight for e in coarse.edges)


def test_batch_mode_shows_the_current_sample() -> None:
    s = session.create("d", dataset="xor", mode="batch")
    s = session.edit(s, sample_index=2)
    s = session.run_forward(s)
    assert s.forward is not None
    d = build(s)
    inputs = [n.activation for n in d.nodes if n.layer == 0]
    assert inputs == [1.0, 0.0]
    assert [n.activation for n in d.nodes if n.layer == 2] == [float(s.forward.activation(2)[2, 0])]
