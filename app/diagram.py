"""The network diagram's content, computed here so the SVG template only draws.

Everything shown (names in the article's notation, rounded numbers, colours, which parts a sub-step
just computed) is decided here from the session's traces; where it goes is
:mod:`app.diagram_layout`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from app.diagram_layout import Box, Fonts, Layout, Line, place_labels, preferred_position, text_box
from app.notation import Symbol, fmt, full, unit_symbol, weight_symbol
from app.palette import NEGATIVE, POSITIVE, mix
from app.session import PHASE_TABLE, Session

#: Above this many edges the labels would pile up: numbers stay in tooltips and data attributes.
MAX_LABELLED_EDGES = 24


@dataclass(frozen=True)
class Node:
    layer: int
    unit: int
    #: How the panel names this unit ("unit:l,j") and its bias ("bias:l-1,j"; "" for inputs).
    key: str
    bias_key: str
    x: float
    y: float
    r: float
    symbol: Symbol
    #: h (x for inputs) once computed; full precision.
    activation: float | None
    #: a once computed (None for inputs).
    pre_activation: float | None
    #: δ = ∂L/∂a once computed.
    delta: float | None
    #: The bias of this unit (None for inputs), the one before the update (after an update).
    bias: float | None
    old_bias: float | None
    fill: str
    text_fill: str
    #: Text shown inside the circle under the name (the activation), and under it (δ).
    value_text: str
    delta_text: str
    bias_text: str
    tooltip: str
    highlight: bool


@dataclass(frozen=True)
class Edge:
    layer: int
    source: int
    target: int
    #: How the panel names this weight: "weight:l,i,j".
    key: str
    x1: float
    y1: float
    x2: float
    y2: float
    symbol: Symbol
    weight: float
    old_weight: float | None
    gradient: float | None
    stroke: str
    width: float
    label_x: float
    label_y: float
    lines: tuple[Line, ...]
    labelled: bool
    tooltip: str
    highlight: bool


@dataclass(frozen=True)
class Target:
    unit: int
    x: float
    y: float
    #: SVG text-anchor: "start" beside the output, "middle" under it.
    anchor: str
    symbol: Symbol
    value: float
    text: str
    highlight: bool


@dataclass(frozen=True)
class Diagram:
    orientation: str
    width: float
    height: float
    fonts: Fonts
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    targets: tuple[Target, ...]
    #: What the last step computed, in words (for the caption and screen readers).
    caption: str


# --------------------------------------------------------------------------------------------
# Colours and sizes
# --------------------------------------------------------------------------------------------


def node_fill(activation: float | None) -> tuple[str, str]:
    """Fill by activation: white at 0, deep blue at 1 (orange below 0); and a readable text colour."""
    if activation is None:
        return "#f4f4f5", "#18181b"
    amount = min(abs(activation), 1.0) * 0.85
    fill = mix(POSITIVE if activation >= 0 else NEGATIVE, amount)
    return fill, "#ffffff" if amount > 0.5 else "#18181b"


def edge_width(weight: float) -> float:
    """Thickness grows with |w| and saturates: 1.5 at 0, about 9 for |w| ≥ 2."""
    return round(1.5 + 7.5 * math.tanh(abs(weight)), 2)


def edge_stroke(weight: float) -> str:
    return POSITIVE if weight >= 0 else NEGATIVE


def node_boxes(node: Node, fonts: Fonts) -> list[Box]:
    """What a node covers: its circle, its bias text above and its δ text below (see the template)."""
    boxes = [Box(node.x - node.r - 6, node.y - node.r - 6, node.x + node.r + 6, node.y + node.r + 6)]
    if node.bias_text:
        boxes.append(text_box(node.x, node.y - node.r - 10, node.bias_text, fonts.bias))
    if node.delta_text:
        boxes.append(text_box(node.x, node.y + node.r + 24, node.delta_text, fonts.delta))
    return boxes


# --------------------------------------------------------------------------------------------
# What the last (sub-)step computed
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Focus:
    """Which parts to highlight: unit layers and weight layers the last step computed."""

    node_layers: frozenset[int]
    edge_layers: frozenset[int]
    targets: bool
    caption: str


def focus_of(session: Session) -> Focus:
    depth = session.arch.depth
    computed = PHASE_TABLE[session.phase].computed
    fwd, bwd = session.forward, session.backward
    none: frozenset[int] = frozenset()
    if computed == "nothing" or fwd is None:
        return Focus(none, none, False, "Nothing computed yet: press Forward (or Sub-step).")
    if computed == "layer":
        layer = fwd.layers_done
        return Focus(
            frozenset({layer}),
            frozenset({layer - 1}),
            False,
            f"Forward: layer {layer} computed, a({layer}) and h({layer}).",
        )
    # After a coarse step everything is new, so nothing is singled out; a sub-step highlights
    # exactly the part it computed.
    if computed == "loss":
        if session.substep_mode:
            return Focus(frozenset({depth}), none, True, "Forward: the loss L computed from y and t.")
        return Focus(none, none, False, "Forward pass done: every a, every h and the loss.")
    if computed == "delta" and bwd is not None:
        if session.substep_mode or session.phase == "backwarding":
            layer = depth - bwd.layers_done + 1
            return Focus(
                frozenset({layer}),
                frozenset({layer - 1}),
                False,
                f"Backward: δ({layer}) and the gradients of the weights into layer {layer} computed.",
            )
        return Focus(none, none, False, "Backward pass done: every δ and every gradient.")
    if session.substep_mode:
        return Focus(none, frozenset(range(depth)), False, "Update: every weight moved against its gradient.")
    return Focus(none, none, False, "Update done: every weight moved against its gradient (old → new).")


# --------------------------------------------------------------------------------------------
# Building the diagram
# --------------------------------------------------------------------------------------------


def build(session: Session, orientation: str = "landscape") -> Diagram:
    """The diagram of a session in its current phase, laid out for a wide or an upright screen."""
    layers = session.arch.layers
    layout = Layout.portrait(layers) if orientation == "portrait" else Layout.landscape(layers)
    focus = focus_of(session)
    nodes = tuple(_node(session, layout, focus, l, j) for l in range(len(layers)) for j in range(layers[l]))
    return Diagram(
        orientation=layout.orientation,
        width=layout.width,
        height=layout.height,
        fonts=layout.fonts,
        nodes=nodes,
        edges=_edges(session, layout, focus, nodes),
        targets=tuple(_target(session, layout, focus, j) for j in range(layers[-1])),
        caption=focus.caption,
    )


@dataclass(frozen=True)
class _UnitValues:
    """What the traces and the parameters hold for one unit (None where not computed)."""

    activation: float | None
    pre_activation: float | None
    delta: float | None
    bias: float | None
    old_bias: float | None


def _unit_values(session: Session, l: int, j: int) -> _UnitValues:
    fwd, bwd, row = session.forward, session.backward, session.display_row
    h = fwd.activations[l] if fwd is not None else None
    pre = fwd.pre_activations[l - 1] if fwd is not None and l > 0 else None
    d = bwd.deltas[l - 1] if bwd is not None and l > 0 else None
    previous = session.previous if session.phase == "updated" else None
    return _UnitValues(
        activation=float(h[row, j]) if h is not None else None,
        pre_activation=float(pre[row, j]) if pre is not None else None,
        delta=float(d[row, j]) if d is not None else None,
        bias=float(session.params.biases[l - 1][j]) if l > 0 else None,
        old_bias=float(previous.biases[l - 1][j]) if l > 0 and previous is not None else None,
    )


def _node_tooltip(symbol: Symbol, values: _UnitValues) -> str:
    if values.activation is not None:
        lines = [f"{symbol.text} = {full(values.activation)}"]
    else:
        lines = [f"{symbol.text}: not computed"]
    if values.pre_activation is not None:
        lines.append(f"a = {full(values.pre_activation)}")
    if values.delta is not None:
        lines.append(f"δ = ∂L/∂a = {full(values.delta)}")
    if values.bias is not None:
        was = f" (was {full(values.old_bias)})" if values.old_bias is not None else ""
        lines.append(f"b = {full(values.bias)}{was}")
    return "\n".join(lines)


def _bias_text(values: _UnitValues) -> str:
    if values.bias is None:
        return ""
    if values.old_bias is not None and values.old_bias != values.bias:
        return f"b {fmt(values.old_bias)} → {fmt(values.bias)}"
    return f"b {fmt(values.bias)}"


def _node(session: Session, layout: Layout, focus: Focus, l: int, j: int) -> Node:
    x, y = layout.position(l, j)
    symbol = unit_symbol(l, j, len(layout.layers))
    values = _unit_values(session, l, j)
    # The input is given, so it is shown before any forward pass.
    shown = session.input[j] if l == 0 else values.activation
    fill, text_fill = node_fill(shown)
    return Node(
        layer=l,
        unit=j,
        key=f"unit:{l},{j}",
        bias_key=f"bias:{l - 1},{j}" if l > 0 else "",
        x=round(x, 2),
        y=round(y, 2),
        r=round(layout.radius, 2),
        symbol=symbol,
        activation=values.activation,
        pre_activation=values.pre_activation,
        delta=values.delta,
        bias=values.bias,
        old_bias=values.old_bias,
        fill=fill,
        text_fill=text_fill,
        value_text=fmt(shown) if shown is not None else "",
        delta_text=f"δ {fmt(values.delta)}" if values.delta is not None else "",
        bias_text=_bias_text(values),
        tooltip=_node_tooltip(symbol, values),
        highlight=l in focus.node_layers,
    )


@dataclass(frozen=True)
class _EdgeDraft:
    """An edge before its label is placed."""

    layer: int
    source: int
    target: int
    #: The visible part of the edge: from the source's circle to the target's.
    segment: tuple[float, float, float, float]
    #: Where along the edge its label would rather sit (see preferred_position).
    preferred: float
    symbol: Symbol
    weight: float
    old_weight: float | None
    gradient: float | None
    lines: tuple[Line, ...]


def _edge_draft(session: Session, layout: Layout, l: int, i: int, j: int) -> _EdgeDraft:
    (sx, sy), (tx, ty), r = layout.position(l, i), layout.position(l + 1, j), layout.radius
    length = math.hypot(tx - sx, ty - sy)
    ux, uy = (tx - sx) / length, (ty - sy) / length
    symbol = weight_symbol(l, i, j, len(layout.layers))
    weight = float(session.params.weights[l][i, j])
    previous = session.previous if session.phase == "updated" else None
    old = float(previous.weights[l][i, j]) if previous is not None else None
    g = session.backward.weight_gradients[l] if session.backward is not None else None
    gradient = float(g[i, j]) if g is not None else None
    lines = [Line(fmt(old) if old is not None else fmt(weight), "value", symbol)]
    if gradient is not None and old is None:
        lines.append(Line(f"∂ {fmt(gradient)}", "gradient"))
    if old is not None:
        lines.append(Line(f"→ {fmt(weight)}", "new"))
    return _EdgeDraft(
        layer=l,
        source=i,
        target=j,
        segment=(sx + ux * r, sy + uy * r, tx - ux * r, ty - uy * r),
        preferred=preferred_position(i, layout.layers[l]),
        symbol=symbol,
        weight=weight,
        old_weight=old,
        gradient=gradient,
        lines=tuple(lines),
    )


def _edges(session: Session, layout: Layout, focus: Focus, nodes: tuple[Node, ...]) -> tuple[Edge, ...]:
    layers = layout.layers
    drafts = [
        _edge_draft(session, layout, l, i, j)
        for l in range(len(layers) - 1)
        for i in range(layers[l])
        for j in range(layers[l + 1])
    ]
    labelled = len(drafts) <= MAX_LABELLED_EDGES
    if labelled:
        obstacles = [box for n in nodes for box in node_boxes(n, layout.fonts)]
        places = place_labels(
            [d.segment for d in drafts],
            [d.lines for d in drafts],
            [d.preferred for d in drafts],
            obstacles,
            (layout.width, layout.height),
            layout.fonts.label,
        )
    else:
        places = [(0.0, 0.0)] * len(drafts)
    return tuple(_edge(d, place, labelled, focus) for d, place in zip(drafts, places, strict=True))


def _edge(draft: _EdgeDraft, place: tuple[float, float], labelled: bool, focus: Focus) -> Edge:
    tooltip = [f"{draft.symbol.text} = {full(draft.weight)}"]
    if draft.old_weight is not None:
        tooltip.append(f"before the update: {full(draft.old_weight)}")
    if draft.gradient is not None:
        tooltip.append(f"∂L/∂{draft.symbol.text} = {full(draft.gradient)}")
    x1, y1, x2, y2 = draft.segment
    return Edge(
        layer=draft.layer,
        source=draft.source,
        target=draft.target,
        key=f"weight:{draft.layer},{draft.source},{draft.target}",
        x1=round(x1, 2),
        y1=round(y1, 2),
        x2=round(x2, 2),
        y2=round(y2, 2),
        symbol=draft.symbol,
        weight=draft.weight,
        old_weight=draft.old_weight,
        gradient=draft.gradient,
        stroke=edge_stroke(draft.weight),
        width=edge_width(draft.weight),
        label_x=place[0],
        label_y=place[1],
        lines=draft.lines,
        labelled=labelled,
        tooltip="\n".join(tooltip),
        highlight=draft.layer in focus.edge_layers,
    )


def _target(session: Session, layout: Layout, focus: Focus, j: int) -> Target:
    x, y, anchor = layout.target_position(j)
    return Target(
        unit=j,
        x=round(x, 2),
        y=round(y, 2),
        anchor=anchor,
        symbol=Symbol("t", str(j + 1)),
        value=session.target[j],
        text=fmt(session.target[j]),
        highlight=focus.targets,
    )
