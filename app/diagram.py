"""The network diagram's geometry and content, computed here so the SVG template only draws.

Positions are in SVG user units of a fixed viewBox; the browser scales the whole drawing to the
space it has. Everything shown (names in the article's notation, rounded numbers, colours, which
parts a sub-step just computed) is decided here from the session's traces.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from app.notation import Symbol, fmt, full, unit_symbol, weight_symbol
from app.palette import NEGATIVE, POSITIVE, mix
from app.session import PHASE_TABLE, Session

WIDTH = 960.0
HEIGHT = 600.0
#: Room kept free around the network: left for the inputs, right for the targets.
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_Y = 62.0, 185.0, 72.0
#: The portrait drawing, for phones: layers top to bottom, targets under the outputs.
PORTRAIT_WIDTH, PORTRAIT_HEIGHT = 440.0, 900.0
PORTRAIT_MARGIN_X, PORTRAIT_MARGIN_TOP, PORTRAIT_MARGIN_BOTTOM = 60.0, 70.0, 120.0
CHAR_WIDTH = 0.64  # of the font size: bold digits in DejaVu Sans / system-ui, an upper bound
#: Above this many edges the labels would pile up: numbers stay in tooltips and data attributes.
MAX_LABELLED_EDGES = 24


@dataclass(frozen=True)
class Line:
    """One line of a label: an optional name, the text, and a class that colours it."""

    text: str
    kind: str
    symbol: Symbol | None = None

    @property
    def length(self) -> int:
        """Characters on the line, for sizing its box."""
        return len(self.text) + (len(self.symbol.text) + 1 if self.symbol is not None else 0)


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


# --------------------------------------------------------------------------------------------
# Layout
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fonts:
    """Font sizes in user units; text boxes (for keeping labels apart) are sized from them."""

    name: float = 26.0
    value: float = 20.0
    label: float = 18.0
    delta: float = 20.0
    bias: float = 16.0
    target: float = 23.0


LANDSCAPE_FONTS = Fonts()
PORTRAIT_FONTS = Fonts(name=24.0, value=18.0, label=16.0, delta=17.0, bias=14.0, target=21.0)


@dataclass(frozen=True)
class Layout:
    """Where layers and units go. Landscape (layers left to right) is for screens and projectors;
    portrait (layers top to bottom) is for phones held upright."""

    orientation: str
    width: float
    height: float
    layers: tuple[int, ...]

    @classmethod
    def landscape(cls, layers: tuple[int, ...]) -> Layout:
        return cls("landscape", WIDTH, HEIGHT, layers)

    @classmethod
    def portrait(cls, layers: tuple[int, ...]) -> Layout:
        return cls("portrait", PORTRAIT_WIDTH, PORTRAIT_HEIGHT, layers)

    @property
    def fonts(self) -> Fonts:
        return PORTRAIT_FONTS if self.orientation == "portrait" else LANDSCAPE_FONTS

    @property
    def spacing(self) -> float:
        """Distance between neighbouring units of a layer."""
        most = max(max(self.layers) - 1, 1)
        if self.orientation == "portrait":
            return min(150.0, (self.width - 2 * PORTRAIT_MARGIN_X) / most)
        return min(190.0, (self.height - 2 * MARGIN_Y) / most)

    @property
    def radius(self) -> float:
        return min(42.0 if self.orientation == "landscape" else 36.0, self.spacing * 0.42)

    def position(self, layer: int, unit: int) -> tuple[float, float]:
        count = len(self.layers)
        across = (unit - (self.layers[layer] - 1) / 2) * self.spacing
        if self.orientation == "portrait":
            span = self.height - PORTRAIT_MARGIN_TOP - PORTRAIT_MARGIN_BOTTOM
            return self.width / 2 + across, PORTRAIT_MARGIN_TOP + span * layer / (count - 1)
        span = self.width - MARGIN_LEFT - MARGIN_RIGHT
        return MARGIN_LEFT + span * layer / (count - 1), self.height / 2 + across

    def target_position(self, unit: int) -> tuple[float, float, str]:
        """Where target t_j is written: right of y_j (landscape) or under its δ (portrait)."""
        x, y = self.position(len(self.layers) - 1, unit)
        if self.orientation == "portrait":
            return x, y + self.radius + 52, "middle"
        return x + self.radius + 24, y + 7, "start"


@dataclass(frozen=True)
class Box:
    """An axis-aligned box, for keeping labels off each other and off the nodes."""

    left: float
    top: float
    right: float
    bottom: float

    def overlap(self, other: Box) -> float:
        dx = min(self.right, other.right) - max(self.left, other.left)
        dy = min(self.bottom, other.bottom) - max(self.top, other.top)
        return dx * dy if dx > 0 and dy > 0 else 0.0


def text_box(x: float, baseline: float, text: str, font: float) -> Box:
    """The box of a centred single line of text at a baseline."""
    half = len(text) * font * CHAR_WIDTH / 2 + 10
    return Box(x - half, baseline - font, x + half, baseline + font * 0.3)


def node_boxes(node: Node, fonts: Fonts) -> list[Box]:
    """What a node covers: its circle, its bias text above and its δ text below (see the template)."""
    boxes = [Box(node.x - node.r - 6, node.y - node.r - 6, node.x + node.r + 6, node.y + node.r + 6)]
    if node.bias_text:
        boxes.append(text_box(node.x, node.y - node.r - 10, node.bias_text, fonts.bias))
    if node.delta_text:
        boxes.append(text_box(node.x, node.y + node.r + 24, node.delta_text, fonts.delta))
    return boxes


def label_box(x: float, y: float, lines: tuple[Line, ...], font: float = LANDSCAPE_FONTS.label) -> Box:
    """The box a label centred at (x, y) covers (its white halo included)."""
    width = max((line.length for line in lines), default=0) * font * CHAR_WIDTH + 10
    height = len(lines) * font * 1.2 + 6
    return Box(x - width / 2, y - height / 2, x + width / 2, y + height / 2)


#: Where along an edge a label may sit, as fractions from source to target.
LABEL_POSITIONS = tuple(round(0.16 + 0.04 * k, 2) for k in range(18))


def preferred_position(source: int, sources: int) -> float:
    """Labels of edges leaving different sources are staggered along the gap: 0.3 … 0.7."""
    return 0.5 if sources == 1 else 0.3 + 0.4 * source / (sources - 1)


def place_labels(
    segments: list[tuple[float, float, float, float]],
    contents: list[tuple[Line, ...]],
    preferred: list[float],
    obstacles: list[Box],
    bounds: tuple[float, float] = (WIDTH, HEIGHT),
    font: float = LANDSCAPE_FONTS.label,
) -> list[tuple[float, float]]:
    """Put each label on its edge where it overlaps least with what is placed already.

    Greedy, in edge order; among positions with equal overlap the one nearest the preferred
    (staggered) position wins.
    """
    placed: list[Box] = list(obstacles)
    positions: list[tuple[float, float]] = []
    for (x1, y1, x2, y2), lines, want in zip(segments, contents, preferred, strict=True):
        best: tuple[float, float, Box] | None = None
        best_cost = math.inf
        for t in LABEL_POSITIONS:
            x, y = x1 + (x2 - x1) * t, y1 + (y2 - y1) * t
            box = label_box(x, y, lines, font)
            outside = max(0.0, -box.left) + max(0.0, box.right - bounds[0]) + max(0.0, -box.top)
            outside += max(0.0, box.bottom - bounds[1])
            cost = sum(box.overlap(other) for other in placed) + 100 * outside + abs(t - want)
            if cost < best_cost:
                best, best_cost = (x, y, box), cost
        assert best is not None
        placed.append(best[2])
        positions.append((round(best[0], 2), round(best[1], 2)))
    return positions


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
    arch = session.arch
    layers = arch.layers
    count = len(layers)
    layout = Layout.portrait(layers) if orientation == "portrait" else Layout.landscape(layers)
    r = layout.radius
    row = session.display_row
    fwd, bwd = session.forward, session.backward
    updated = session.phase == "updated" and session.previous is not None
    focus = focus_of(session)
    position = {(l, j): layout.position(l, j) for l in range(count) for j in range(layers[l])}

    nodes: list[Node] = []
    for l in range(count):
        for j in range(layers[l]):
            x, y = position[(l, j)]
            symbol = unit_symbol(l, j, count)
            h = fwd.activations[l] if fwd is not None else None
            activation = float(h[row, j]) if h is not None else None
            # The input is given, so it is shown before any forward pass.
            shown = session.input[j] if l == 0 else activation
            pre = fwd.pre_activations[l - 1] if fwd is not None and l > 0 else None
            pre_activation = float(pre[row, j]) if pre is not None else None
            d = bwd.deltas[l - 1] if bwd is not None and l > 0 else None
            delta = float(d[row, j]) if d is not None else None
            bias = float(session.params.biases[l - 1][j]) if l > 0 else None
            old_bias = (
                float(session.previous.biases[l - 1][j])
                if l > 0 and updated and session.previous is not None
                else None
            )
            fill, text_fill = node_fill(shown)
            tooltip = [
                f"{symbol.text} = {full(activation)}"
                if activation is not None
                else f"{symbol.text}: not computed"
            ]
            if pre_activation is not None:
                tooltip.append(f"a = {full(pre_activation)}")
            if delta is not None:
                tooltip.append(f"δ = ∂L/∂a = {full(delta)}")
            if bias is not None:
                tooltip.append(
                    f"b = {full(bias)}" + (f" (was {full(old_bias)})" if old_bias is not None else "")
                )
            bias_text = ""
            if bias is not None:
                bias_text = (
                    f"b {fmt(old_bias)} → {fmt(bias)}"
                    if old_bias is not None and old_bias != bias
                    else f"b {fmt(bias)}"
                )
            nodes.append(
                Node(
                    layer=l,
                    unit=j,
                    key=f"unit:{l},{j}",
                    bias_key=f"bias:{l - 1},{j}" if l > 0 else "",
                    x=round(x, 2),
                    y=round(y, 2),
                    r=round(r, 2),
                    symbol=symbol,
                    activation=activation,
                    pre_activation=pre_activation,
                    delta=delta,
                    bias=bias,
                    old_bias=old_bias,
                    fill=fill,
                    text_fill=text_fill,
                    value_text=fmt(shown) if shown is not None else "",
                    delta_text=f"δ {fmt(delta)}" if delta is not None else "",
                    bias_text=bias_text,
                    tooltip="\n".join(tooltip),
                    highlight=l in focus.node_layers,
                )
            )

    edge_count = sum(layers[l] * layers[l + 1] for l in range(count - 1))
    labelled = edge_count <= MAX_LABELLED_EDGES
    segments: list[tuple[float, float, float, float]] = []
    contents: list[tuple[Line, ...]] = []
    preferred: list[float] = []
    raw: list[tuple[int, int, int, Symbol, float, float | None, float | None]] = []
    for l in range(count - 1):
        for i in range(layers[l]):
            for j in range(layers[l + 1]):
                (sx, sy), (tx, ty) = position[(l, i)], position[(l + 1, j)]
                length = math.hypot(tx - sx, ty - sy)
                ux, uy = (tx - sx) / length, (ty - sy) / length
                segments.append((sx + ux * r, sy + uy * r, tx - ux * r, ty - uy * r))
                preferred.append(preferred_position(i, layers[l]))
                symbol = weight_symbol(l, i, j, count)
                weight = float(session.params.weights[l][i, j])
                old = (
                    float(session.previous.weights[l][i, j])
                    if updated and session.previous is not None
                    else None
                )
                g = bwd.weight_gradients[l] if bwd is not None else None
                gradient = float(g[i, j]) if g is not None else None
                lines = [Line(fmt(old) if old is not None else fmt(weight), "value", symbol)]
                if gradient is not None and old is None:
                    lines.append(Line(f"∂ {fmt(gradient)}", "gradient"))
                if old is not None:
                    lines.append(Line(f"→ {fmt(weight)}", "new"))
                contents.append(tuple(lines))
                raw.append((l, i, j, symbol, weight, old, gradient))

    obstacles = [box for n in nodes for box in node_boxes(n, layout.fonts)]
    places = (
        place_labels(
            segments, contents, preferred, obstacles, (layout.width, layout.height), layout.fonts.label
        )
        if labelled
        else [(0.0, 0.0)] * len(segments)
    )
    edges: list[Edge] = []
    for (x1, y1, x2, y2), label, (lx, ly), (l, i, j, symbol, weight, old, gradient) in zip(
        segments, contents, places, raw, strict=True
    ):
        tooltip = [f"{symbol.text} = {full(weight)}"]
        if old is not None:
            tooltip.append(f"before the update: {full(old)}")
        if gradient is not None:
            tooltip.append(f"∂L/∂{symbol.text} = {full(gradient)}")
        edges.append(
            Edge(
                layer=l,
                source=i,
                target=j,
                key=f"weight:{l},{i},{j}",
                x1=round(x1, 2),
                y1=round(y1, 2),
                x2=round(x2, 2),
                y2=round(y2, 2),
                symbol=symbol,
                weight=weight,
                old_weight=old,
                gradient=gradient,
                stroke=edge_stroke(weight),
                width=edge_width(weight),
                label_x=lx,
                label_y=ly,
                lines=label,
                labelled=labelled,
                tooltip="\n".join(tooltip),
                highlight=l in focus.edge_layers,
            )
        )

    targets = tuple(
        Target(
            unit=j,
            x=round(layout.target_position(j)[0], 2),
            y=round(layout.target_position(j)[1], 2),
            anchor=layout.target_position(j)[2],
            symbol=Symbol("t", str(j + 1)),
            value=session.target[j],
            text=fmt(session.target[j]),
            highlight=focus.targets,
        )
        for j in range(layers[-1])
    )
    return Diagram(
        orientation=layout.orientation,
        width=layout.width,
        height=layout.height,
        fonts=layout.fonts,
        nodes=tuple(nodes),
        edges=tuple(edges),
        targets=targets,
        caption=focus.caption,
    )
