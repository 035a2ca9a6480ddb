"""What the sheet pages show, as plain data: the figure's geometry, the formulas in MathML, the
names of the blanks. Computed here so the templates only place what they are given; no FastAPI.

The figure is the network diagram of the sheet's starting point: every given number (inputs,
targets, weights, biases) where the visualizer shows it, and a numbered box wherever a blank's
number would appear (inside a unit for its activation, under it for its δ, beside a weight's or
bias's value for its gradient or new value, under the targets for the loss). Nothing on it depends
on an answer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from xml.sax.saxutils import escape

from app.diagram_layout import CHAR_WIDTH, Fonts, Layout, Line, place_labels, preferred_position
from app.diagram_layout import Box as Area
from app.engine import Architecture
from app.notation import Symbol, bias_symbol, fmt, unit_symbol, weight_symbol
from app.sheets import Blank, Sheet

MATHML_NAMESPACE = "http://www.w3.org/1998/Math/MathML"
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

    def __init__(self, sheet: Sheet, numbers: dict[Blank, int]) -> None:
        self.sheet, self.numbers = sheet, numbers
        self.layers = sheet.arch.layers
        self.count = len(self.layers)
        self.layout = Layout.landscape(self.layers)
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


def figure(sheet: Sheet, numbers: dict[Blank, int]) -> Figure:
    """The sheet's diagram with ``numbers[blank]`` in the box of each blank."""
    drawing = _Drawing(sheet, numbers)
    for layer in range(drawing.count):
        for j in range(drawing.layers[layer]):
            drawing.unit(layer, j)
    drawing.targets_and_loss()
    height = drawing.layout.height + 2 * TOP_ROOM
    wires = drawing.wires(height)
    return Figure(
        drawing.layout.width,
        height,
        drawing.fonts,
        tuple(drawing.units),
        tuple(wires),
        tuple(drawing.texts),
        tuple(drawing.boxes),
    )


# --------------------------------------------------------------------------------------------
# MathML: names and formulas in the article's notation
# --------------------------------------------------------------------------------------------


def _mi(text: str) -> str:
    return f"<mi>{escape(text)}</mi>"


def _mn(text: str) -> str:
    return f"<mn>{escape(text)}</mn>"


def _mo(text: str) -> str:
    return f"<mo>{escape(text)}</mo>"


def _row_ml(*parts: str) -> str:
    return "<mrow>" + "".join(parts) + "</mrow>"


def _index(text: str) -> str:
    return (
        "".join(_mn(c) if c.isdigit() else _mi(c) for c in text)
        if len(text) > 1
        else (_mn(text) if text.isdigit() else _mi(text))
    )


def _name(base: str, sub: str = "", sup: str = "") -> str:
    """base with subscript indices and a layer superscript "(l)"."""
    b = _mi(base)
    sup_ml = _row_ml(_mo("("), _mn(sup), _mo(")")) if sup else ""
    sub_ml = _row_ml(_index(sub)) if sub else ""
    if sub and sup:
        return f"<msubsup>{b}{sub_ml}{sup_ml}</msubsup>"
    if sub:
        return f"<msub>{b}{sub_ml}</msub>"
    if sup:
        return f"<msup>{b}{sup_ml}</msup>"
    return b


def _of(symbol: Symbol, sub: str | None = None) -> str:
    return _name(symbol.base, symbol.sub if sub is None else sub, symbol.sup)


def _partial(of: str) -> str:
    return _frac(_row_ml(_mo("∂"), _mi("L")), _row_ml(_mo("∂"), of))


def _sum(under: str) -> str:
    return f"<munder>{_mo('∑')}{_mi(under)}</munder>"


def _math(*parts: str) -> str:
    return f'<math xmlns="{MATHML_NAMESPACE}" display="block">{_row_ml(*parts)}</math>'


def _inline(*parts: str) -> str:
    return f'<math xmlns="{MATHML_NAMESPACE}">{_row_ml(*parts)}</math>'


def _paren(*parts: str) -> str:
    return _row_ml(_mo("("), *parts, _mo(")"))


def _frac(numerator: str, denominator: str) -> str:
    return f"<mfrac>{numerator}{denominator}</mfrac>"


def _power(base: str, exponent: str) -> str:
    return f"<msup>{base}{exponent}</msup>"


_SPACE = '<mspace width="1.5em"/>'


def _words(text: str) -> str:
    """Words inside a formula, with a space either side."""
    return f"<mtext>\u00a0{escape(text)}\u00a0</mtext>"


@dataclass(frozen=True)
class BlankName:
    """How a blank is named on the sheet."""

    #: Plain text, as the visualizer's working names it: "h1", "δ(2)1", "∂L/∂u21", "new u21", "L".
    text: str
    #: The same as inline MathML.
    mathml: str
    #: What it is, in words: "activation of hidden unit h1".
    words: str


def blank_name(arch: Architecture, blank: Blank) -> BlankName:
    count = len(arch.layers)
    if blank.kind == "loss":
        return BlankName("L", _inline(_mi("L")), "the loss of the sample")
    if blank.kind == "unit":
        layer, j = blank.index
        symbol = unit_symbol(layer, j, count)
        role = "output" if layer == count - 1 else "hidden unit"
        if blank.phase == "forward":
            return BlankName(symbol.text, _inline(_of(symbol)), f"activation of {role} {symbol.text}")
        delta = Symbol("δ", str(j + 1), str(layer))
        return BlankName(delta.text, _inline(_of(delta)), f"δ = ∂L/∂a of {role} {symbol.text}")
    if blank.kind == "weight":
        l, i, j = blank.index
        symbol = weight_symbol(l, i, j, count)
        what = "weight"
    else:
        l, j = blank.index
        symbol = bias_symbol(l + 1, j)
        what = "bias"
    if blank.phase == "backward":
        return BlankName(
            f"∂L/∂{symbol.text}", _inline(_partial(_of(symbol))), f"gradient of {what} {symbol.text}"
        )
    return BlankName(f"new {symbol.text}", _inline(_of(symbol)), f"{what} {symbol.text} after the update")


def _derivative(activation: str, unit: str) -> list[str]:
    """f'(a) in terms of the unit's value, as the article writes σ': o(1 − o)."""
    if activation == "sigmoid":
        return [unit, _paren(_mn("1"), _mo("−"), unit)]
    if activation == "tanh":
        return [_paren(_mn("1"), _mo("−"), _power(unit, _mn("2")))]
    if activation == "linear":
        return [_mn("1")]
    return [_row_ml(_mi("relu"), _mo("′"), _paren(_mi("a")))]


ACTIVATION_DEFINITIONS = {
    "sigmoid": _math(
        _mi("σ"),
        _paren(_mi("a")),
        _mo("="),
        _frac(_mn("1"), _row_ml(_mn("1"), _mo("+"), _power(_mi("e"), _row_ml(_mo("−"), _mi("a"))))),
    ),
    "tanh": _math(
        _mi("tanh"),
        _mo("′"),
        _paren(_mi("a")),
        _mo("="),
        _mn("1"),
        _mo("−"),
        _power(_mi("tanh"), _mn("2")),
        _paren(_mi("a")),
    ),
    "relu": _math(
        _mi("relu"),
        _paren(_mi("a")),
        _mo("="),
        _mi("max"),
        _paren(_mn("0"), _mo(","), _mi("a")),
        _mo(","),
        _SPACE,
        _mi("relu"),
        _mo("′"),
        _paren(_mi("a")),
        _mo("="),
        _mn("1"),
        _words("if"),
        _mi("a"),
        _mo(">"),
        _mn("0"),
        _mo(","),
        _words("else"),
        _mn("0"),
    ),
    "linear": _math(_mi("f"), _paren(_mi("a")), _mo("="), _mi("a")),
}


@dataclass(frozen=True)
class Formula:
    """One formula of the sheet: a heading it belongs to and its MathML."""

    section: str
    mathml: str


def formulas(sheet: Sheet) -> tuple[Formula, ...]:
    """The formulas needed for the phases the sheet asks about, in the article's notation."""
    arch, phases = sheet.arch, sheet.spec.phases
    count, depth = len(arch.layers), arch.depth
    found: list[Formula] = []

    def unit(layer: int, letter: str) -> str:
        return _of(unit_symbol(layer, 0, count), letter)

    def weight(l: int, letters: str) -> str:
        return _of(weight_symbol(l, 0, 0, count), letters)

    for layer in range(1, depth + 1):
        l = layer - 1
        a = _name("a", "j", str(layer))
        f = arch.activation_of(layer).name
        found.append(
            Formula(
                "Forward",
                _math(
                    a,
                    _mo("="),
                    _sum("i"),
                    unit(l, "i"),
                    weight(l, "ij"),
                    _mo("+"),
                    _name("b", "j", str(layer)),
                ),
            )
        )
        applied = _row_ml(_mi("σ" if f == "sigmoid" else f), _paren(a)) if f != "linear" else a
        found.append(Formula("Forward", _math(unit(layer, "j"), _mo("="), applied)))
    for name in dict.fromkeys(arch.activation_of(layer).name for layer in range(1, depth + 1)):
        found.append(Formula("Forward", ACTIVATION_DEFINITIONS[name]))
    y, t = unit(depth, "j"), _name("t", "j")
    if arch.loss == "l2":
        half = _frac(_mn("1"), _mn("2"))
        found.append(
            Formula(
                "Forward",
                _math(_mi("L"), _mo("="), half, _sum("j"), _power(_paren(y, _mo("−"), t), _mn("2"))),
            )
        )
    else:
        ln = _mi("ln")
        found.append(
            Formula(
                "Forward",
                _math(
                    _mi("L"),
                    _mo("="),
                    _mo("−"),
                    _sum("j"),
                    _row_ml(
                        _mo("["),
                        t,
                        ln,
                        y,
                        _mo("+"),
                        _paren(_mn("1"), _mo("−"), t),
                        ln,
                        _paren(_mn("1"), _mo("−"), y),
                        _mo("]"),
                    ),
                ),
            )
        )
    if "backward" in phases or "update" in phases:
        out = _name("δ", "j", str(depth))
        if arch.loss_function.requires_output == "sigmoid":
            found.append(Formula("Backward", _math(out, _mo("="), y, _mo("−"), t)))
        else:
            found.append(
                Formula(
                    "Backward",
                    _math(
                        out,
                        _mo("="),
                        _paren(y, _mo("−"), t),
                        _mo("·"),
                        *_derivative(arch.activation_of(depth).name, y),
                    ),
                )
            )
        for layer in range(depth - 1, 0, -1):
            h = unit(layer, "j")
            found.append(
                Formula(
                    "Backward",
                    _math(
                        _partial(h), _mo("="), _sum("k"), _name("δ", "k", str(layer + 1)), weight(layer, "jk")
                    ),
                )
            )
            found.append(
                Formula(
                    "Backward",
                    _math(
                        _name("δ", "j", str(layer)),
                        _mo("="),
                        _partial(h),
                        _mo("·"),
                        *_derivative(arch.activation_of(layer).name, h),
                    ),
                )
            )
        for layer in range(depth, 0, -1):
            l = layer - 1
            found.append(
                Formula(
                    "Backward",
                    _math(
                        _partial(weight(l, "ij")),
                        _mo("="),
                        _name("δ", "j", str(layer)),
                        _mo("·"),
                        unit(l, "i"),
                        _SPACE,
                        _partial(_name("b", "j", str(layer))),
                        _mo("="),
                        _name("δ", "j", str(layer)),
                    ),
                )
            )
    if "update" in phases:
        eta = _mi("η")
        for l in range(depth):
            w = weight(l, "ij")
            found.append(Formula("Update", _math(w, _mo("←"), w, _mo("−"), eta, _partial(w))))
        b = _name("b", "j")
        if sheet.start.config.train_biases:
            found.append(Formula("Update", _math(b, _mo("←"), b, _mo("−"), eta, _partial(b))))
        else:
            found.append(
                Formula(
                    "Update",
                    _math(b, _mo("←"), b, _SPACE, _words("(the biases are not trained)")),
                )
            )
    return tuple(found)
