"""The network diagram's content, computed here so the SVG template only draws.

Everything shown (names in the article's notation, rounded numbers, colours, which parts a sub-step
just computed, which numbers are stale) is decided here from the session's traces; where it goes
is :mod:`app.diagram_geometry`, which places the edge labels once per architecture and label shape.

Edge labels carry numbers only (the name is in the link's text, the tooltip and the table view):
the weight, then under it ∂L/∂w after the backward pass or → the new value after an update. When
two lines do not fit, each edge keeps one, the phase's own quantity; when that does not fit either
the diagram says so (``labelled`` False) and the page shows the weight matrix instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from app.diagram_geometry import (
    Fonts,
    Geometry,
    Orientation,
    Shape,
    WirePlace,
    geometry,
    label_box,
    placements,
    shape_of,
)
from app.focus import Focus, Shown, UnitValues, focus_of, notes_of
from app.labels import Box, Placement, text_size
from app.notation import Names, Symbol, fmt, full, names_of
from app.palette import NEGATIVE, POSITIVE, mix
from app.session import Session


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
    #: The circle's SVG attributes (the same every step).
    circle: str
    symbol: Symbol
    #: h (x for inputs) once computed; full precision.
    activation: float | None
    #: a once computed (None for inputs).
    pre_activation: float | None
    #: δ = ∂L/∂a once computed.
    delta: float | None
    #: The bias of this unit (None for inputs), and the one before the update (after an update).
    bias: float | None
    old_bias: float | None
    fill: str
    text_fill: str
    #: Where the name and the value inside the circle, the bias above and δ below are written.
    name_y: float
    value_y: float
    bias_y: float
    delta_y: float
    #: The texts: the activation (or input) inside the circle, δ under it, the bias above.
    value_text: str
    delta_text: str
    bias_text: str
    tooltip: str
    #: What a screen reader says for the unit's link and its bias's, numbers included.
    link_name: str
    bias_link_name: str
    highlight: bool
    #: The activation was computed with the weights before the last update (phase "updated").
    stale: bool
    #: The data attributes that give the full-precision numbers to scripts and tests.
    data: str


@dataclass(frozen=True)
class LabelLine:
    """One line of an edge label: its text and a class that colours it ("value", "gradient",
    "new"); ``symbol`` names the weight in front of the number (the post's names only)."""

    text: str
    kind: str
    symbol: Symbol | None = None

    @property
    def length(self) -> int:
        return len(self.text) + (len(self.symbol.text) + 1 if self.symbol is not None else 0)


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
    #: The segment as SVG line attributes (the same every step).
    line: str
    #: The weight's name as shown (the article's w_ij, or the post's w1…w8), and the units it
    #: joins ("x1 → h2").
    symbol: Symbol
    route: str
    weight: float
    old_weight: float | None
    gradient: float | None
    #: "positive" or "negative": the stroke's colour (and a dash for negative weights).
    sign: str
    stroke: str
    width: float
    lines: tuple[LabelLine, ...]
    labelled: bool
    #: The label's centre, its first baseline, and its halo (drawn under the digits) as a box and
    #: as the rect's x, y, width, height.
    label_x: float
    label_y: float
    halo: Box | None
    halo_rect: tuple[float, float, float, float]
    tooltip: str
    link_name: str
    highlight: bool
    #: The data attributes that give the full-precision numbers to scripts and tests.
    data: str


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
    orientation: Orientation
    width: float
    height: float
    fonts: Fonts
    #: Units at full size, with their values inside and their biases and δ beside them.
    roomy: bool
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    targets: tuple[Target, ...]
    #: Whether every edge carries its number (False: the numbers did not fit).
    labelled: bool
    #: What the last step computed, in words (for the caption and screen readers).
    caption: str
    #: What the numbers drawn are: stale activations after an update, the sample a batch shows.
    notes: tuple[str, ...]


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


# --------------------------------------------------------------------------------------------
# Building the diagram
# --------------------------------------------------------------------------------------------


def build(
    session: Session, orientation: Orientation = "landscape", *, names: str = "", labels: bool = True
) -> Diagram:
    """The diagram of a session in its current phase, laid out for a wide or an upright screen.

    ``names="post"``: a 2-2-2 network's weights are named as in Matt Mazur's post (w1…w8).
    ``labels`` False: the edge labels are not placed (for a view that does not draw them).
    """
    layers = session.arch.layers
    geo = geometry(layers, orientation)
    focus = focus_of(session)
    numbers = Shown.of(session)
    named = names_of(layers, names == "post" and layers == (2, 2, 2))
    nodes = tuple(
        _node(session, numbers, geo, focus, l, j, named) for l in range(len(layers)) for j in range(layers[l])
    )
    targets = tuple(_target(session, geo, focus, j) for j in range(layers[-1]))
    drafts = [_edge_draft(numbers, wire, named) for wire in geo.wires]
    nodes, placed = _place(geo, nodes, targets, drafts) if labels else (nodes, None)
    edges = tuple(
        _edge(draft, placed[index] if placed else None, geo.canvas.fonts.number, focus)
        for index, draft in enumerate(drafts)
    )
    return Diagram(
        orientation=orientation,
        width=geo.canvas.width,
        height=geo.canvas.height,
        fonts=geo.canvas.fonts,
        roomy=geo.roomy,
        nodes=nodes,
        edges=edges,
        targets=targets,
        labelled=placed is not None,
        caption=focus.caption,
        notes=notes_of(session),
    )


def _node_tooltip(symbol: Symbol, values: UnitValues, stale: bool) -> str:
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
    if stale:
        lines.append("from the forward pass before the update")
    return "\n".join(lines)


def _bias_text(values: UnitValues, compact: bool) -> str:
    if values.bias is None:
        return ""
    if values.old_bias is not None and values.old_bias != values.bias:
        return f"b → {fmt(values.bias)}" if compact else f"b {fmt(values.old_bias)} → {fmt(values.bias)}"
    return f"b {fmt(values.bias)}"


def _node(
    session: Session, numbers: Shown, geo: Geometry, focus: Focus, l: int, j: int, named: Names
) -> Node:
    place = geo.units[l][j]
    symbol = named.units[(l, j)]
    values = numbers.unit(l, j)
    # The input is given, so it is shown before any forward pass.
    shown = session.input[j] if l == 0 else values.activation
    fill, text_fill = node_fill(shown)
    stale = session.phase == "updated" and l > 0 and values.activation is not None
    value_text = fmt(shown) if shown is not None else ""
    delta_text = f"δ {fmt(values.delta)}" if values.delta is not None else ""
    bias_text = _bias_text(values, compact=False)
    # Upright, a layer's captions sit side by side: an old → new bias too wide for the room
    # between neighbours keeps its new value only.
    upright = geo.canvas.orientation == "portrait" and geo.layers[l] > 1
    if upright and text_size([bias_text], geo.canvas.fonts.number)[0] > geo.spacing - geo.canvas.fonts.number:
        bias_text = _bias_text(values, compact=True)
    # The link's name starts with what it shows, in the words it shows them (WCAG 2.5.3).
    said = [f"{symbol.text} {value_text}" if value_text else f"{symbol.text}, not computed"]
    if delta_text:
        said[0] += f" {delta_text}"
    if stale:
        said.append("before the update")
    bias_name = named.biases.get((l, j), "")
    return Node(
        layer=l,
        unit=j,
        key=f"unit:{l},{j}",
        bias_key=f"bias:{l - 1},{j}" if l > 0 else "",
        x=place.x,
        y=place.y,
        r=geo.radius,
        circle=place.circle,
        symbol=symbol,
        activation=values.activation,
        pre_activation=values.pre_activation,
        delta=values.delta,
        bias=values.bias,
        old_bias=values.old_bias,
        fill=fill,
        text_fill=text_fill,
        name_y=place.name_y,
        value_y=place.value_y,
        bias_y=place.bias_y,
        delta_y=place.delta_y,
        value_text=value_text,
        delta_text=delta_text,
        bias_text=bias_text,
        tooltip=_node_tooltip(symbol, values, stale),
        link_name=", ".join(said) + ": show the working",
        # The link's name starts with what it shows (WCAG 2.5.3), then says whose bias it is.
        bias_link_name=f"{bias_text}, bias {bias_name}: show the working" if bias_text else "",
        highlight=l in focus.node_layers,
        stale=stale,
        data=_data(
            f'data-node data-layer="{l}" data-unit="{j}"',
            activation=values.activation,
            pre_activation=values.pre_activation,
            delta=values.delta,
            bias=values.bias,
        )
        + (" data-stale" if stale else ""),
    )


@dataclass(frozen=True)
class _EdgeDraft:
    """An edge before its label is placed."""

    layer: int
    source: int
    target: int
    segment: tuple[float, float, float, float]
    line: str
    symbol: Symbol
    article: Symbol
    route: str
    weight: float
    old_weight: float | None
    gradient: float | None
    #: Both lines (weight, then ∂ or →), and the phase's own quantity alone.
    lines: tuple[LabelLine, ...]
    compact: tuple[LabelLine, ...]


def _edge_draft(numbers: Shown, wire: WirePlace, named: Names) -> _EdgeDraft:
    l, i, j = wire.layer, wire.source, wire.target
    symbol, article, route = named.weights[(l, i, j)]
    weight = numbers.weights[l][i][j]
    old = numbers.old_weights[l][i][j] if numbers.old_weights is not None else None
    gradients = numbers.gradients[l]
    gradient = gradients[i][j] if gradients is not None else None
    prefix = symbol if symbol is not article else None
    first = LabelLine(fmt(old) if old is not None else fmt(weight), "value", prefix)
    lines = [first]
    compact = first
    if old is not None:
        lines.append(LabelLine(f"→ {fmt(weight)}", "new"))
        compact = LabelLine(f"→ {fmt(weight)}", "new", prefix)
    elif gradient is not None:
        lines.append(LabelLine(f"∂ {fmt(gradient)}", "gradient"))
        compact = LabelLine(f"∂ {fmt(gradient)}", "gradient", prefix)
    return _EdgeDraft(
        layer=l,
        source=i,
        target=j,
        segment=wire.segment,
        line=wire.line,
        symbol=symbol,
        article=article,
        route=route,
        weight=weight,
        old_weight=old,
        gradient=gradient,
        lines=tuple(lines),
        compact=(compact,),
    )


def _shape(
    geo: Geometry, nodes: tuple[Node, ...], targets: tuple[Target, ...], labels: list[tuple[LabelLine, ...]]
) -> Shape:
    return shape_of(
        [[(line.symbol.text if line.symbol else "", line.text) for line in lines] for lines in labels],
        biases=[n.bias_text for n in nodes if n.bias_text] if geo.roomy else [],
        deltas=[n.delta_text for n in nodes if n.delta_text] if geo.roomy else [],
        targets=[t.text for t in targets],
    )


def _place(
    geo: Geometry, nodes: tuple[Node, ...], targets: tuple[Target, ...], drafts: list[_EdgeDraft]
) -> tuple[tuple[Node, ...], list[tuple[Placement, tuple[LabelLine, ...]]] | None]:
    """Both lines on every edge if they fit, else the phase's quantity alone (and the bias's new
    value alone); None when neither fits. The nodes come back with the captions that fit."""
    full_labels = [d.lines for d in drafts]
    found = placements(geo.layers, geo.canvas.orientation, _shape(geo, nodes, targets, full_labels))
    if found is not None:
        return nodes, list(zip(found, full_labels, strict=True))
    compact_nodes = tuple(_compact_bias(n) for n in nodes)
    compact_labels = [d.compact for d in drafts]
    shape = _shape(geo, compact_nodes, targets, compact_labels)
    found = placements(geo.layers, geo.canvas.orientation, shape)
    if found is not None:
        return compact_nodes, list(zip(found, compact_labels, strict=True))
    return nodes, None


def _compact_bias(node: Node) -> Node:
    if node.old_bias is None or node.bias is None or node.old_bias == node.bias:
        return node
    return replace(node, bias_text=f"b → {fmt(node.bias)}")


def _edge(
    draft: _EdgeDraft,
    placed: tuple[Placement, tuple[LabelLine, ...]] | None,
    font: float,
    focus: Focus,
) -> Edge:
    name, article = draft.symbol.text, draft.article.text
    also = f" ({article} in the article's names)" if name != article else ""
    tooltip = [f"{name} = {full(draft.weight)}{also}"]
    said = [f"{name} = {fmt(draft.weight)}"]
    if draft.old_weight is not None:
        tooltip.append(f"before the update: {full(draft.old_weight)}")
        said = [f"{name} = {fmt(draft.old_weight)} → {fmt(draft.weight)}"]
    if draft.gradient is not None:
        tooltip.append(f"∂L/∂{name} = {full(draft.gradient)}")
        if draft.old_weight is None:
            said.append(f"∂L/∂{name} = {fmt(draft.gradient)}")
    x1, y1, x2, y2 = draft.segment
    lines = placed[1] if placed is not None else draft.lines
    place = placed[0] if placed is not None else None
    texts = [(line.symbol.text + " " if line.symbol else "") + line.text for line in lines]
    halo = label_box(place, texts, font) if place else None
    return Edge(
        layer=draft.layer,
        source=draft.source,
        target=draft.target,
        key=f"weight:{draft.layer},{draft.source},{draft.target}",
        x1=x1,
        y1=y1,
        x2=x2,
        y2=y2,
        line=draft.line,
        symbol=draft.symbol,
        route=draft.route,
        weight=draft.weight,
        old_weight=draft.old_weight,
        gradient=draft.gradient,
        sign="positive" if draft.weight >= 0 else "negative",
        stroke=edge_stroke(draft.weight),
        width=edge_width(draft.weight),
        lines=lines,
        labelled=place is not None,
        label_x=place.x if place else 0.0,
        label_y=round(place.baseline(font, len(lines)), 2) if place else 0.0,
        halo=halo,
        halo_rect=(halo.left, halo.top, round(halo.width, 2), round(halo.height, 2))
        if halo
        else (0, 0, 0, 0),
        tooltip="\n".join(tooltip),
        link_name=", ".join(said) + ": show the working",
        highlight=draft.layer in focus.edge_layers,
        data=_data(
            f'data-edge data-layer="{draft.layer}" data-from="{draft.source}" data-to="{draft.target}"',
            weight=draft.weight,
            gradient=draft.gradient,
            old_weight=draft.old_weight,
        ),
    )


def _data(head: str, **numbers: float | None) -> str:
    """Data attributes: ``head``, then ``data-<name>="<full precision>"`` for each number given
    (numbers only, so nothing in them needs escaping)."""
    given = (
        f' data-{name.replace("_", "-")}="{full(value)}"'
        for name, value in numbers.items()
        if value is not None
    )
    return head + "".join(given)


def _target(session: Session, geo: Geometry, focus: Focus, j: int) -> Target:
    x, y, anchor = geo.target_baseline(j)
    return Target(
        unit=j,
        x=x,
        y=y,
        anchor=anchor,
        symbol=Symbol("t", str(j + 1)),
        value=session.target[j],
        text=fmt(session.target[j]),
        highlight=focus.targets,
    )
