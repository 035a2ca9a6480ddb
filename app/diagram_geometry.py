"""Where the page's diagram goes: the canvas of each orientation, the units, the edges, the text
around the units, and each edge's label (placed by :mod:`app.labels`).

Nothing here depends on the numbers a session holds, only on the architecture, the orientation
and the *shape* of the labels (how many lines, how many characters at most), so every answer is
computed once and cached (label placement costs 0.01–0.5 s; a page step must not pay it). The
diagram (:mod:`app.diagram`) sizes each shape for the longest text it will write, so a label is
never wider than the room kept for it.

Sizes are SVG user units. The landscape canvas is made for a projector: 1100×520 is drawn at
about one pixel per unit in presentation mode at 1280×720 and at 0.92 at 1024×768, so 18-unit
numbers render at ≥ 18 px and ≥ 16 px there, and 27-unit unit names at ≥ 24 px. At 18 units the
old 960×600 canvas left no room for the labels of most networks; this one is wider (edges are
longer between the layers) and its circles smaller (radius 40, not 42, with the captions a third
of an em closer). The portrait canvas is for phones held upright.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Literal

from app.labels import (
    BASELINE,
    Box,
    Circle,
    Clearance,
    EdgeLabel,
    Obstacle,
    Placement,
    place_labels,
    text_box,
)
from app.labels import text_size as _text_size

Orientation = Literal["landscape", "portrait"]
ORIENTATIONS: tuple[Orientation, ...] = ("landscape", "portrait")


@dataclass(frozen=True)
class Fonts:
    """Font sizes in user units."""

    #: Unit names inside the circles (x₁, h₂, y₁).
    name: float
    #: The activation inside the circle, the edge labels, the bias above a unit and δ below it.
    number: float
    #: t₁ = … beside (or under) an output.
    target: float


@dataclass(frozen=True)
class Canvas:
    """One orientation's drawing: its size, its margins and the largest its units may be."""

    orientation: Orientation
    width: float
    height: float
    #: Room before the first layer and after the last (left and right in landscape, top and
    #: bottom in portrait): the last leaves room for the targets.
    before: float
    after: float
    #: Room at the sides of the layers (top and bottom in landscape).
    side: float
    #: The circles' radius, the least a unit with its value and captions may have (its name
    #: and value must fit inside), and the most room between neighbouring units of a layer.
    radius: float
    least_radius: float
    spacing: float
    fonts: Fonts

    @property
    def caption_band(self) -> float:
        """Room a unit needs above and below its circle for its bias and its δ."""
        return 2 * (CAPTION_GAP + self.fonts.number * 1.2) + 2

    def roomy_radius(self, spacing: float) -> float:
        """The radius that leaves room for the captions between neighbouring units; below
        ``least_radius`` the units are drawn without them."""
        return min(self.radius, (spacing - self.caption_band) / 2)


#: Gap between a circle and the text above or below it.
CAPTION_GAP = 6.0
#: How far a name's subscript reaches below its baseline, and a digit above its baseline, in em
#: (DejaVu Sans, as Chromium draws baseline-shift="sub" at 62 %).
SUBSCRIPT_DEPTH, ASCENT = 0.52, 0.928
#: Gap between an output's circle and its target.
TARGET_GAP = 16.0

LANDSCAPE = Canvas(
    orientation="landscape",
    width=1100.0,
    height=520.0,
    before=50.0,
    after=194.0,
    side=68.0,
    radius=40.0,
    least_radius=34.0,
    spacing=200.0,
    fonts=Fonts(name=27.0, number=18.0, target=20.0),
)
PORTRAIT = Canvas(
    orientation="portrait",
    width=440.0,
    height=900.0,
    before=64.0,
    after=120.0,
    side=46.0,
    radius=34.0,
    least_radius=30.0,
    spacing=150.0,
    fonts=Fonts(name=24.0, number=16.0, target=18.0),
)
CANVASES: dict[Orientation, Canvas] = {"landscape": LANDSCAPE, "portrait": PORTRAIT}


@dataclass(frozen=True)
class UnitPlace:
    """Where one unit and its texts go (baselines), and its circle as SVG attributes."""

    x: float
    y: float
    name_y: float
    value_y: float
    bias_y: float
    delta_y: float
    #: 'cx="…" cy="…" r="…"': numbers only, written once per architecture, not per step.
    circle: str


@dataclass(frozen=True)
class WirePlace:
    """Where one edge goes: its segment, and the segment as SVG line attributes."""

    layer: int
    source: int
    target: int
    segment: tuple[float, float, float, float]
    #: 'x1="…" y1="…" x2="…" y2="…"'.
    line: str


@dataclass(frozen=True)
class Geometry:
    """Where the units and edges of one architecture go on one canvas."""

    canvas: Canvas
    layers: tuple[int, ...]
    radius: float
    #: Distance between neighbouring units of the largest layer.
    spacing: float
    #: Unit centres, by layer then unit.
    centres: tuple[tuple[tuple[float, float], ...], ...]

    #: Whether the units have room for their values inside and their biases and δ beside them
    #: (otherwise only the names are drawn, and the numbers are in the tooltips and the table).
    roomy: bool

    def position(self, layer: int, unit: int) -> tuple[float, float]:
        return self.centres[layer][unit]

    @cached_property
    def units(self) -> tuple[tuple[UnitPlace, ...], ...]:
        """Every unit's place, by layer then unit (computed once per cached geometry)."""
        return tuple(
            tuple(
                UnitPlace(
                    x,
                    y,
                    self.name_baseline(l, j)[1],
                    self.value_baseline(l, j)[1],
                    self.bias_baseline(l, j)[1],
                    self.delta_baseline(l, j)[1],
                    f'cx="{x:g}" cy="{y:g}" r="{self.radius:g}"',
                )
                for j, (x, y) in enumerate(row)
            )
            for l, row in enumerate(self.centres)
        )

    @cached_property
    def wires(self) -> tuple[WirePlace, ...]:
        """Every edge's place, in the order of :attr:`edges`."""
        found = []
        for l, i, j in self.edges:
            segment = self.segment(l, i, j)
            x1, y1, x2, y2 = segment
            found.append(WirePlace(l, i, j, segment, f'x1="{x1:g}" y1="{y1:g}" x2="{x2:g}" y2="{y2:g}"'))
        return tuple(found)

    def segment(self, layer: int, source: int, target: int) -> tuple[float, float, float, float]:
        """The visible part of an edge: from the source's circle to the target's."""
        (sx, sy), (tx, ty) = self.centres[layer][source], self.centres[layer + 1][target]
        length = ((tx - sx) ** 2 + (ty - sy) ** 2) ** 0.5
        ux, uy = (tx - sx) / length, (ty - sy) / length
        r = self.radius
        return (
            round(sx + ux * r, 2),
            round(sy + uy * r, 2),
            round(tx - ux * r, 2),
            round(ty - uy * r, 2),
        )

    @property
    def edges(self) -> tuple[tuple[int, int, int], ...]:
        """Every edge as (layer, source, target), in the order weights[l][i][j] is read."""
        layers = self.layers
        return tuple(
            (l, i, j) for l in range(len(layers) - 1) for i in range(layers[l]) for j in range(layers[l + 1])
        )

    def bias_baseline(self, layer: int, unit: int) -> tuple[float, float]:
        """Where a unit's bias is written: centred above the circle."""
        x, y = self.centres[layer][unit]
        descent = (1.2 - BASELINE) * self.canvas.fonts.number
        return x, round(y - self.radius - CAPTION_GAP - descent, 2)

    def delta_baseline(self, layer: int, unit: int) -> tuple[float, float]:
        """Where a unit's δ is written: centred under the circle."""
        x, y = self.centres[layer][unit]
        return x, round(y + self.radius + CAPTION_GAP + BASELINE * self.canvas.fonts.number, 2)

    def name_baseline(self, layer: int, unit: int) -> tuple[float, float]:
        """The unit's name inside its circle: above the middle when the value is written under it,
        else in the middle."""
        x, y = self.centres[layer][unit]
        font = self.canvas.fonts.name
        return x, round(y + (-0.3 if self.roomy else 0.35) * font, 2)

    def value_baseline(self, layer: int, unit: int) -> tuple[float, float]:
        """The value under the name, its glyphs 3 units below the name's subscript (which reaches
        0.52 em below the name's baseline)."""
        x, name = self.name_baseline(layer, unit)
        fonts = self.canvas.fonts
        return x, round(name + SUBSCRIPT_DEPTH * fonts.name + 3 + ASCENT * fonts.number, 2)

    def target_baseline(self, unit: int) -> tuple[float, float, str]:
        """Where target t_j is written and its text-anchor: right of y_j (landscape), or under
        y_j's δ (portrait)."""
        x, y = self.centres[-1][unit]
        font = self.canvas.fonts.target
        if self.canvas.orientation == "portrait":
            below = self.delta_baseline(len(self.layers) - 1, unit)[1] + 1.2 * font
            return x, round(below, 2), "middle"
        return round(x + self.radius + TARGET_GAP, 2), round(y + (BASELINE - 0.6) * font, 2), "start"


@lru_cache(maxsize=512)
def geometry(layers: tuple[int, ...], orientation: Orientation) -> Geometry:
    """Layers evenly apart along the canvas (left to right, or top to bottom), each layer's units
    centred across it, as far apart as the largest layer allows (up to the canvas's spacing)."""
    canvas = CANVASES[orientation]
    across_room = (canvas.width if orientation == "portrait" else canvas.height) - 2 * canvas.side
    along_room = (canvas.height if orientation == "portrait" else canvas.width) - canvas.before - canvas.after
    spacing = min(canvas.spacing, across_room / max(max(layers) - 1, 1))
    radius = canvas.roomy_radius(spacing) if max(layers) > 1 else canvas.radius
    roomy = radius >= canvas.least_radius
    if not roomy:
        radius = min(canvas.radius, spacing * 0.42)
    middle = (canvas.width if orientation == "portrait" else canvas.height) / 2
    centres = []
    for layer, units in enumerate(layers):
        along = canvas.before + along_room * layer / (len(layers) - 1)
        row = []
        for unit in range(units):
            across = middle + (unit - (units - 1) / 2) * spacing
            point = (across, along) if orientation == "portrait" else (along, across)
            row.append((round(point[0], 2), round(point[1], 2)))
        centres.append(tuple(row))
    return Geometry(canvas, layers, round(radius, 2), round(spacing, 2), tuple(centres), roomy)


# --------------------------------------------------------------------------------------------
# Label shapes and their placement
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Shape:
    """The room every label and caption of one drawing may need, in characters (the
    character-width model of :mod:`app.labels`); 0 where there is no such text."""

    #: Lines per edge label (1 or 2) and the characters of its longest line.
    lines: int
    label: int
    #: The bias above each unit of layers 1…, and δ below it.
    bias: int
    delta: int
    #: t_j = … beside each output.
    target: int


#: Numbers of at most this many characters ("−0.1234") share a size of room; longer ones (up to
#: the formatter's 10, "−1.235e-05") take the next. Two sizes, so labels seldom move.
SHORT, LONG = 7, 10
#: The words of labels and captions that are not numbers.
WORDS = ("b", "δ", "∂", "→")


def number_width(numbers: Sequence[str]) -> int:
    """The room for the longest of these numbers: SHORT or LONG characters."""
    return SHORT if max((len(n) for n in numbers), default=0) <= SHORT else LONG


def _room(text: str, width: int) -> int:
    """Characters of a label or caption ("∂ 0.01", "b 0.35 → 0.3412") with every number in it
    as wide as ``width``."""
    words = text.split(" ")
    return len(words) - 1 + sum(len(w) if w in WORDS else width for w in words)


def shape_of(
    labels: Sequence[Sequence[tuple[str, str]]],
    *,
    biases: Sequence[str],
    deltas: Sequence[str],
    targets: Sequence[str],
) -> Shape:
    """The room to keep for these texts: ``labels`` as (name, text) lines per edge ("" when the
    line carries no name), the captions ("b 0.35", "δ 0.01"; none when the units have no room for
    them) and the targets' numbers. Each kind's numbers are rounded up to one of two widths, so
    that every step that writes such numbers shares one cached placement."""

    def numbers(texts: Sequence[str]) -> list[str]:
        return [w for text in texts for w in text.split(" ") if w not in WORDS]

    label_width = number_width(numbers([text for lines in labels for _, text in lines]))
    bias_width = number_width(numbers(biases))
    return Shape(
        lines=max((len(lines) for lines in labels), default=1),
        label=max(
            (len(name) + bool(name) + _room(text, label_width) for lines in labels for name, text in lines),
            default=0,
        ),
        bias=max((_room(text, bias_width) for text in biases), default=0),
        delta=_room(deltas[0], number_width(numbers(deltas))) if deltas else 0,
        target=len("t1 = ") + number_width(targets),
    )


def obstacles(geo: Geometry, shape: Shape) -> list[Obstacle]:
    """What labels keep off: the circles, and the captions at their widest."""
    font = geo.canvas.fonts.number
    found: list[Obstacle] = []
    for layer, row in enumerate(geo.centres):
        for unit, (x, y) in enumerate(row):
            found.append(Circle(x, y, geo.radius))
            if layer == 0:
                continue
            if shape.bias:
                found.append(text_box(*geo.bias_baseline(layer, unit), "0" * shape.bias, font))
            if shape.delta:
                found.append(text_box(*geo.delta_baseline(layer, unit), "0" * shape.delta, font))
    if shape.target:
        target_font = geo.canvas.fonts.target
        width = _text_size(["0" * shape.target], target_font)[0]
        for unit in range(geo.layers[-1]):
            x, y, anchor = geo.target_baseline(unit)
            centre = x + width / 2 if anchor == "start" else x
            found.append(text_box(centre, y, "0" * shape.target, target_font))
    return found


@lru_cache(maxsize=1024)
def placements(
    layers: tuple[int, ...], orientation: Orientation, shape: Shape
) -> tuple[Placement, ...] | None:
    """Every edge's label placed on its edge for labels and captions of ``shape``, in the order
    of :attr:`Geometry.edges`; None when they do not all fit (cached, failures too)."""
    geo = geometry(layers, orientation)
    font = geo.canvas.fonts.number
    width, height = _text_size(["0" * shape.label] * shape.lines, font)
    labels = [EdgeLabel(f"{l},{i},{j}", *geo.segment(l, i, j), width, height) for l, i, j in geo.edges]
    canvas = geo.canvas
    found = place_labels(
        labels, obstacles(geo, shape), (canvas.width, canvas.height), Clearance.for_font(font)
    )
    return None if found is None else tuple(found)


def label_box(place: Placement, lines: list[str], font: float) -> Box:
    """The halo of an actual label (no wider than the room kept for it) centred where it was
    placed: the box the template draws under the digits."""
    width, height = _text_size(lines, font)
    halo = Clearance.for_font(font).halo
    return Box(
        round(place.x - width / 2 - halo, 2),
        round(place.y - height / 2 - halo, 2),
        round(place.x + width / 2 + halo, 2),
        round(place.y + height / 2 + halo, 2),
    )
