"""The sheet's figure, as plain data: its geometry, computed here so the templates only place what
they are given (the formulas and the names of the blanks are app/sheet_formulas.py).

The figure is the network diagram of the sheet's starting point: every given number (inputs,
targets, weights, biases) where the visualizer shows it, and a numbered box wherever a blank's
number would appear (inside a unit for its activation, under it for its δ, beside a weight's or
bias's value for its gradient or new value, under the targets for the loss). Nothing on it depends
on an answer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from app.diagram_layout import CHAR_WIDTH, Fonts, Layout, Line, place_labels, preferred_position
from app.diagram_layout import Box as Area
from app.notation import Symbol, bias_symbol, fmt, unit_symbol, weight_symbol
from app.sheets import Blank, Sheet

#: A blank's box in the figure, in SVG units (the number written inside it).
BOX_WIDTH, BOX_HEIGHT = 46.0, 26.0
#: Extra room above the network for the bias lines of the top units.
TOP_ROOM = 34.0
#: What stands before a box, by phase: the gradient (∂) or the new value (→); nothing for h.
MARKS = {"forward": "", "backward": "∂", "update": "→"}

# --------------------------------------------------------------------------------------------
# The figure
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Text:
    """A piece of text, anchored at its start."""

    x: float
    y: float
    text: str
    #: "bias", "target" or "mark" (∂, →, δ, L =): how it is styled.
    kind: str
    #: A name written before the text with its indices set low and high (b(1)1, t1), if any.
    symbol: Symbol | None = None


@dataclass(frozen=True)
class BlankBox:
    """A blank's box: top-left corner and size; its number goes in the middle."""

    number: int
    x: float
    y: float
    width: float
    height: float

    @property
    def centre_x(self) -> float:
        return round(self.x + self.width / 2, 2)

    @property
    def baseline(self) -> float:
        return round(self.y + self.height * 0.72, 2)


@dataclass(frozen=True)
class Unit:
    layer: int
    unit: int
    x: float
    y: float
    r: float
    symbol: Symbol
    #: The input's value (inputs only), else "".
    value: str


@dataclass(frozen=True)
class Wire:
    layer: int
    source: int
    target: int
    x1: float
    y1: float
    x2: float
    y2: float
    symbol: Symbol
    #: The weight as given, e.g. "−0.97".
    value: str
    #: Where its label goes: centred on label_x, baseline label_y.
    label_x: float
    label_y: float


@dataclass(frozen=True)
class Figure:
    width: float
    height: float
    fonts: Fonts
    units: tuple[Unit, ...]
    wires: tuple[Wire, ...]
    #: Texts other than the units' names and the weight labels: biases, targets, marks (∂, →, δ).
    texts: tuple[Text, ...]
    boxes: tuple[BlankBox, ...]


@dataclass(frozen=True)
class _Row:
    """Words and boxes laid side by side, and the space they take."""

    texts: list[Text]
    boxes: list[BlankBox]
    extent: Area


def _row(
    items: list[str | int], centre: float, baseline: float, font: float, name: Symbol | None = None
) -> _Row:
    """Words and boxes (a blank's number) side by side, centred on ``centre``; with ``name``, the
    first item is that name and a value (a bias)."""
    gap = font * 0.3

    def width(item: str | int) -> float:
        if isinstance(item, int):
            return BOX_WIDTH
        if name is not None and item.startswith(name.text):  # indices are set at 62 % (see the template)
            indices = len(name.sub) + (len(name.sup) + 2 if name.sup else 0)
            chars = len(name.base) + 0.62 * indices + len(item) - len(name.text)
            return chars * font * CHAR_WIDTH
        return len(item) * font * CHAR_WIDTH

    total = sum(width(item) for item in items) + gap * (len(items) - 1)
    x = left = centre - total / 2
    texts: list[Text] = []
    boxes: list[BlankBox] = []
    for item in items:
        if isinstance(item, int):
            top = baseline - BOX_HEIGHT * 0.75
            boxes.append(BlankBox(item, round(x, 2), round(top, 2), BOX_WIDTH, BOX_HEIGHT))
        elif item:
            if name is not None and not texts:
                value = item.removeprefix(name.text).strip()
                texts.append(Text(round(x, 2), round(baseline, 2), value, "bias", name))
            else:
                texts.append(Text(round(x, 2), round(baseline, 2), item, "mark"))
        x += width(item) + gap
    top = baseline - max(font, BOX_HEIGHT * 0.75)
    return _Row(texts, boxes, Area(left - 4, top - 2, left + total + 4, baseline + BOX_HEIGHT * 0.25 + 2))


class _Drawing:
    """The figure as it is drawn: units and their biases first, then the targets and the loss, then
    the weights, whose labels are placed around everything drawn before them."""

    def __init__(self, sheet: Sheet, numbers: dict[Blank, int], width: float) -> None:
        self.sheet, self.numbers = sheet, numbers
        self.layers = sheet.arch.layers
        self.count = len(self.layers)
        self.layout = replace(Layout.landscape(self.layers), width=width)
        self.fonts, self.r = self.layout.fonts, self.layout.radius
        self.texts: list[Text] = []
        self.boxes: list[BlankBox] = []
        self.obstacles: list[Area] = []
        self.units: list[Unit] = []

    def at(self, layer: int, j: int) -> tuple[float, float]:
        x, y = self.layout.position(layer, j)
        return x, y + TOP_ROOM

    def blanks_of(self, kind: str, index: tuple[int, ...]) -> list[Blank]:
        return [b for b in self.sheet.blanks if b.kind == kind and b.index == index]

    def put(self, row: _Row) -> None:
        self.texts.extend(row.texts)
        self.boxes.extend(row.boxes)
        self.obstacles.append(row.extent)

    def unit(self, layer: int, j: int) -> None:
        start, r = self.sheet.start, self.r
        x, y = self.at(layer, j)
        value = fmt(start.input[j]) if layer == 0 else ""
        symbol = unit_symbol(layer, j, self.count)
        self.units.append(Unit(layer, j, round(x, 2), round(y, 2), round(r, 2), symbol, value))
        self.obstacles.append(Area(x - r - 6, y - r - 6, x + r + 6, y + r + 6))
        for blank in self.blanks_of("unit", (layer, j)):
            if blank.phase == "forward":  # h, where the visualizer writes it: inside the unit
                left, top = round(x - BOX_WIDTH / 2, 2), round(y + 5, 2)
                self.boxes.append(BlankBox(self.numbers[blank], left, top, BOX_WIDTH, BOX_HEIGHT))
            else:  # δ, under the unit
                self.put(_row(["δ", self.numbers[blank]], x, y + r + 26, self.fonts.delta))
        if layer > 0:
            bias = float(start.params.biases[layer - 1][j])
            name = bias_symbol(layer, j)
            items: list[str | int] = [f"{name.text} {fmt(bias)}"]
            for blank in self.blanks_of("bias", (layer - 1, j)):
                items += [MARKS[blank.phase], self.numbers[blank]]
            self.put(_row(items, x, y - r - 10, self.fonts.bias, name))

    def targets_and_loss(self) -> None:
        for j in range(self.layers[-1]):
            tx, ty, _ = self.layout.target_position(j)
            target = f"= {fmt(self.sheet.start.target[j])}"
            self.texts.append(
                Text(round(tx, 2), round(ty + TOP_ROOM, 2), target, "target", Symbol("t", str(j + 1)))
            )
        for blank in self.blanks_of("loss", ()):
            tx, ty, _ = self.layout.target_position(self.layers[-1] - 1)
            self.put(_row(["L =", self.numbers[blank]], tx + 60, ty + TOP_ROOM + 48, self.fonts.target))

    def edge(self, l: int, i: int, j: int) -> tuple[tuple[float, float, float, float], _EdgeSpec]:
        r, label = self.r, self.fonts.label
        (sx, sy), (tx, ty) = self.at(l, i), self.at(l + 1, j)
        length = math.hypot(tx - sx, ty - sy)
        ux, uy = (tx - sx) / length, (ty - sy) / length
        symbol = weight_symbol(l, i, j, self.count)
        weight = float(self.sheet.start.params.weights[l][i, j])
        marks: list[str | int] = []
        for blank in self.blanks_of("weight", (l, i, j)):
            marks += [MARKS[blank.phase], self.numbers[blank]]
        lines = [Line(fmt(weight), "value", symbol)]
        if marks:  # a line as wide as the row of boxes, so the label is placed with room for it
            width = sum(BOX_WIDTH if isinstance(m, int) else len(m) * label * CHAR_WIDTH for m in marks)
            lines.append(Line("x" * math.ceil(width / (label * CHAR_WIDTH)), "boxes"))
        segment = (sx + ux * r, sy + uy * r, tx - ux * r, ty - uy * r)
        spec = _EdgeSpec(l, i, j, symbol, weight, marks, tuple(lines), preferred_position(i, self.layers[l]))
        return segment, spec

    def wires(self, height: float) -> list[Wire]:
        drafts = [
            self.edge(l, i, j)
            for l in range(self.count - 1)
            for i in range(self.layers[l])
            for j in range(self.layers[l + 1])
        ]
        segments = [segment for segment, _ in drafts]
        specs = [spec for _, spec in drafts]
        places = place_labels(
            segments,
            [spec.lines for spec in specs],
            [spec.preferred for spec in specs],
            self.obstacles,
            (self.layout.width, height),
            self.fonts.label,
        )
        return [
            self.wire(segment, place, spec)
            for segment, place, spec in zip(segments, places, specs, strict=True)
        ]

    def wire(
        self, segment: tuple[float, float, float, float], place: tuple[float, float], spec: _EdgeSpec
    ) -> Wire:
        (x1, y1, x2, y2), (lx, ly), label = segment, place, self.fonts.label
        # The value's baseline, and under it the row of boxes, both within the box placed for them.
        label_y = ly - label * 0.55 if spec.marks else ly + label * 0.35
        if spec.marks:
            row = _row(spec.marks, lx, label_y + label * 1.6, label)
            self.texts.extend(row.texts)
            self.boxes.extend(row.boxes)
        return Wire(
            spec.l,
            spec.i,
            spec.j,
            round(x1, 2),
            round(y1, 2),
            round(x2, 2),
            round(y2, 2),
            spec.symbol,
            fmt(spec.weight),
            lx,
            round(label_y, 2),
        )


@dataclass(frozen=True)
class _EdgeSpec:
    """One weight of the figure before its label is placed."""

    l: int
    i: int
    j: int
    symbol: Symbol
    weight: float
    marks: list[str | int]
    lines: tuple[Line, ...]
    preferred: float


#: Widths the figure is tried at, in turn, until no two boxes touch (the drawing is scaled to the
#: page, so a wider one only has smaller type): a crowded network leaves the weights' labels no
#: room at the first width.
WIDTHS = tuple(Layout.landscape((2, 2)).width * factor for factor in (1.0, 1.15, 1.3, 1.5, 1.75, 2.0))


def _apart(boxes: list[BlankBox]) -> bool:
    return not any(
        a.x < b.x + b.width and b.x < a.x + a.width and a.y < b.y + b.height and b.y < a.y + a.height
        for k, a in enumerate(boxes)
        for b in boxes[k + 1 :]
    )


def figure(sheet: Sheet, numbers: dict[Blank, int]) -> Figure:
    """The sheet's diagram with ``numbers[blank]`` in the box of each blank, at the narrowest of
    :data:`WIDTHS` where no two boxes overlap."""
    for width in WIDTHS:
        drawing = _Drawing(sheet, numbers, width)
        for layer in range(drawing.count):
            for j in range(drawing.layers[layer]):
                drawing.unit(layer, j)
        drawing.targets_and_loss()
        height = drawing.layout.height + 2 * TOP_ROOM
        wires = drawing.wires(height)
        if _apart(drawing.boxes):
            break
    return Figure(
        drawing.layout.width,
        height,
        drawing.fonts,
        tuple(drawing.units),
        tuple(wires),
        tuple(drawing.texts),
        tuple(drawing.boxes),
    )
