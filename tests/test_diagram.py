"""Diagram content: positions, names, colours, labels that keep the rules, what each phase shows."""

from __future__ import annotations

import itertools
import math

import pytest

from app import diagram, session
from app.diagram import build, edge_width
from app.diagram_geometry import LANDSCAPE, PORTRAIT
from app.labels import Box, Clearance, text_box, text_size
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


PHASES = [
    (),
    ("substep",),
    ("forward",),
    ("forward", "substep"),
    ("forward", "backward"),
    ("forward", "backward", "update"),
]


def test_default_network_geometry() -> None:
    d = build(session.create("d"))
    assert (d.width, d.height) == (LANDSCAPE.width, LANDSCAPE.height)
    assert [(n.layer, n.unit) for n in d.nodes] == [(0, 0), (0, 1), (1, 0), (1, 1), (1, 2), (2, 0), (2, 1)]
    assert len(d.edges) == 12
    xs = sorted({n.x for n in d.nodes})
    assert xs == [LANDSCAPE.before, 478.0, LANDSCAPE.width - LANDSCAPE.after]
    hidden = [n.y for n in d.nodes if n.layer == 1]
    assert hidden == [68.0, 260.0, 452.0]  # centred, 192 apart: (520 − 2·68) / 2
    # edges start and end on the circles, not at their centres
    first, source = d.edges[0], d.nodes[0]
    assert math.hypot(first.x1 - source.x, first.y1 - source.y) == pytest.approx(source.r, abs=0.01)


@pytest.mark.parametrize("layers", [[2, 3, 2], [1, 1], [3, 5, 4, 2], [8, 8, 8, 8, 8, 8], [2, 2, 2]])
@pytest.mark.parametrize("orientation", ["landscape", "portrait"])
def test_every_node_fits_and_none_overlap(layers: list[int], orientation: str) -> None:
    d = build(
        session.create("d", layers=layers, input=[0.1] * layers[0], target=[0.5] * layers[-1]),
        orientation,  # type: ignore[arg-type]
    )
    assert len(d.nodes) == sum(layers)
    for n in d.nodes:
        assert n.x - n.r >= 0 and n.x + n.r <= d.width
        assert n.y - n.r >= 0 and n.y + n.r <= d.height
    for a, b in itertools.combinations(d.nodes, 2):
        assert math.hypot(a.x - b.x, a.y - b.y) >= a.r + b.r


def caption_boxes(d: diagram.Diagram) -> list[Box]:
    font = d.fonts.number
    boxes = [text_box(n.x, n.bias_y, n.bias_text, font) for n in d.nodes if n.bias_text]
    boxes += [text_box(n.x, n.delta_y, n.delta_text, font) for n in d.nodes if n.delta_text]
    for t in d.targets:
        width = text_size([f"t1 = {t.text}"], d.fonts.target)[0]
        boxes.append(
            text_box(t.x + width / 2 if t.anchor == "start" else t.x, t.y, f"t1 = {t.text}", d.fonts.target)
        )
    return boxes


@pytest.mark.parametrize("actions", PHASES)
@pytest.mark.parametrize("orientation", ["landscape", "portrait"])
@pytest.mark.parametrize("layers", [[2, 3, 2], [2, 2, 2]])
def test_labels_keep_apart_off_the_units_and_on_their_edges(
    layers: list[int], actions: tuple[str, ...], orientation: str
) -> None:
    d = build(stepped(*actions, layers=layers, target=[0.01, 0.99]), orientation)  # type: ignore[arg-type]
    assert d.labelled and d.roomy
    gap = Clearance.for_font(d.fonts.number).gap
    for e in d.edges:
        assert e.halo is not None
        halo = e.halo
        assert halo.left >= 0 and halo.right <= d.width and halo.top >= 0 and halo.bottom <= d.height
        # the label's centre lies on its own edge
        centre_y = (halo.top + halo.bottom) / 2
        cross = (e.x2 - e.x1) * (centre_y - e.y1) - (e.y2 - e.y1) * (e.label_x - e.x1)
        assert abs(cross) / math.hypot(e.x2 - e.x1, e.y2 - e.y1) < 0.02
        for n in d.nodes:
            assert halo.distance_to_point(n.x, n.y) >= n.r + gap - 1e-6
        for box in caption_boxes(d):
            assert not halo.grown(gap - 1e-6).intersects(box), (e.key, box)
    for a, b in itertools.combinations(d.edges, 2):
        assert a.halo is not None and b.halo is not None
        assert not a.halo.grown(gap / 2 - 1e-6).intersects(b.halo.grown(gap / 2 - 1e-6)), (a.key, b.key)


def test_labels_are_numbers_only_and_the_phase_decides_their_lines() -> None:
    idle = build(stepped())
    assert [[(line.text, line.kind, line.symbol) for line in e.lines] for e in idle.edges[:1]] == [
        [(fmt(idle.edges[0].weight), "value", None)]
    ]
    backward = build(stepped("forward", "backward"))
    e = backward.edges[0]
    assert e.gradient is not None
    assert [line.text for line in e.lines] == [fmt(e.weight), f"∂ {fmt(e.gradient)}"]
    assert e.link_name == f"w11 = {fmt(e.weight)}, ∂L/∂w11 = {fmt(e.gradient)}: show the working"
    updated = build(stepped("forward", "backward", "update"))
    e = updated.edges[0]
    assert e.old_weight is not None
    assert [(line.text, line.kind) for line in e.lines] == [
        (fmt(e.old_weight), "value"),
        (f"→ {fmt(e.weight)}", "new"),
    ]
    assert e.link_name == f"w11 = {fmt(e.old_weight)} → {fmt(e.weight)}: show the working"


def test_a_crowded_network_keeps_its_numbers_off_the_edges() -> None:
    d = build(session.create("d", layers=[6, 6, 6], input=[0.0] * 6, target=[0.0] * 6))
    assert len(d.edges) == 72
    assert not d.labelled and not d.roomy
    assert not any(e.labelled or e.halo for e in d.edges)
    assert all(e.tooltip.startswith(e.symbol.text + " = ") for e in d.edges)
    # 2-4-4-1: room for the units' numbers, none for the 28 edges' labels
    deep = build(session.create("d", layers=[2, 4, 4, 1], target=[0.5]))
    assert deep.roomy and not deep.labelled


def test_when_two_lines_do_not_fit_each_edge_keeps_the_phases_quantity() -> None:
    # 2-4-1 after backward: the gradients are ~1e-05 ("∂ 7.510e-05"), and two lines do not fit
    s = stepped("forward", "backward", layers=[2, 4, 1], target=[0.5])
    d = build(s)
    assert d.labelled
    assert all(len(e.lines) == 1 and e.lines[0].kind == "gradient" for e in d.edges)
    assert all(e.gradient is not None and e.lines[0].text == f"∂ {fmt(e.gradient)}" for e in d.edges)
    updated = build(session.run_update(s))
    assert all([line.kind for line in e.lines] == ["new"] for e in updated.edges)
    # and the biases keep their new value only: "b → 0.06805"
    assert all(n.bias_text.startswith("b → ") for n in updated.nodes if n.layer > 0)


def test_the_posts_names() -> None:
    s = session.create(
        "d", layers=[2, 2, 2], weights=[[[0.15, 0.25], [0.20, 0.30]], [[0.40, 0.50], [0.45, 0.55]]]
    )
    d = build(s, names="post")
    named = {e.key: (e.lines[0].symbol.text if e.lines[0].symbol else "", e.lines[0].text) for e in d.edges}
    assert named == {
        "weight:0,0,0": ("w1", "0.15"),
        "weight:0,1,0": ("w2", "0.2"),
        "weight:0,0,1": ("w3", "0.25"),
        "weight:0,1,1": ("w4", "0.3"),
        "weight:1,0,0": ("w5", "0.4"),
        "weight:1,1,0": ("w6", "0.45"),
        "weight:1,0,1": ("w7", "0.5"),
        "weight:1,1,1": ("w8", "0.55"),
    }
    assert d.edges[4].tooltip == "w5 = 0.4 (u11 in the article's names)"
    assert d.labelled
    # other networks keep the article's names
    assert build(session.create("d"), names="post").edges[0].symbol.text == "w11"


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
    d = build(session.create("d"))
    assert {(e.weight >= 0, e.sign) for e in d.edges} == {(True, "positive"), (False, "negative")}


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
    # The name starts with what the link shows, as it shows it (WCAG 2.5.3: label in name).
    assert outputs[0].link_name == f"y1 {fmt(float(y[0]))}: show the working"

    backward = stepped("forward", "backward")
    d = build(backward)
    assert backward.backward is not None
    assert [e.gradient for e in d.edges if e.layer == 1] == [
        float(g) for g in backward.backward.weight_gradient(1).ravel()
    ]
    assert all(e.lines[1].kind == "gradient" for e in d.edges)
    assert all(n.delta_text.startswith("δ ") for n in d.nodes if n.layer > 0)
    assert not any(n.stale for n in d.nodes)

    updated = stepped("forward", "backward", "update")
    d = build(updated)
    for e in d.edges:
        assert e.old_weight is not None and e.old_weight != e.weight
        assert e.lines[0].text == fmt(e.old_weight) and e.lines[1].text == "→ " + fmt(e.weight)
    assert all("→" in n.bias_text for n in d.nodes if n.layer > 0)
    # the activations are the forward pass's before the update: stale, and said so
    assert [n.stale for n in d.nodes] == [False, False, True, True, True, True, True]
    assert d.nodes[2].link_name.endswith("before the update: show the working")
    assert d.notes and "before this update" in d.notes[0]


def test_batch_mode_shows_the_current_sample() -> None:
    s = session.create("d", dataset="xor", mode="batch")
    s = session.edit(s, sample_index=2)
    s = session.run_forward(s)
    assert s.forward is not None
    d = build(s)
    inputs = [n.activation for n in d.nodes if n.layer == 0]
    assert inputs == [1.0, 0.0]
    assert [n.activation for n in d.nodes if n.layer == 2] == [float(s.forward.activation(2)[2, 0])]
    assert d.notes == (
        "Batch of 4: units show sample 3 (x = 1, 0); the loss and gradients are means over all 4.",
    )


def test_a_portrait_layer_keeps_its_captions_apart() -> None:
    updated = build(stepped("forward", "backward", "update"), "portrait")
    hidden = [n for n in updated.nodes if n.layer == 1]
    font = PORTRAIT.fonts.number
    boxes = [text_box(n.x, n.bias_y, n.bias_text, font) for n in hidden]
    for a, b in itertools.pairwise(boxes):
        assert a.right <= b.left
    assert all(n.bias_text.startswith("b → ") for n in hidden)
