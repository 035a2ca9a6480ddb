"""The weight-matrix view: one layer's weights as a heat-mapped table, for networks too big to
label on their edges (more than 24 edges, or when app/labels.py finds no room).

Rows are the from-units i, columns the to-units j, as in ``weights[l][i][j]`` (MATH.md). Each cell
shows the quantity of the phase: the weight, its gradient ∂L/∂w after the backward pass, or the new
value after an update (the old one in the cell's title, shown on hover). The other layers are small
heat maps underneath, a picker between layers. Geometry in SVG user units of a fixed viewBox the
size of the diagram's, so the view takes the diagram's place; the template only places it.

Sizes: the matrix gets the viewBox's width less a column of unit names, so 8 columns (the most a
layer has) are 122.5 units wide each: room for the longest number the formatter writes
("−1.235e-05", 10 characters) at 18 units, and for "−0.1234" at 22. The font is the largest of 22,
20, 18 at which every number of the matrix fits its cell with a margin, so where the page draws
the canvas at one pixel per unit (presentation mode at 1280×720) no number is below 18 px, at
1024×768 (0.92) none below 16 px, and none overlaps its neighbour.

Colour says the sign and the size: blue for positive, orange for negative (the diagram's colours),
white at zero, full strength at the largest magnitude of the quantity over all layers, so a cell
and a thumbnail mean the same. The sign is also always written (a true minus), never colour alone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from app.labels import BASELINE, CHAR_WIDTH, LINE_HEIGHT
from app.limits import MAX_UNITS
from app.session import Phase

#: The diagram's landscape canvas (app/diagram_geometry.py), so the matrix takes its place.
WIDTH, HEIGHT = 1100.0, 520.0
MARGIN = 12.0
#: The title line above the matrix.
TITLE_FONT, TITLE_BASELINE = 20.0, 30.0
#: Unit names: the column headers over the cells, the row headers left of them (at the
#: diagram's name size, ≥ 24 px at 1024×768).
NAME_FONT = 27.0
COLUMN_HEADER_TOP, COLUMN_HEADER_HEIGHT = 42.0, 38.0
ROW_HEADER_WIDTH = 96.0
#: The cells fill the box between the headers and the thumbnails, up to this size each.
CELLS_TOP = COLUMN_HEADER_TOP + COLUMN_HEADER_HEIGHT
CELLS_BOTTOM = 394.0
CELL_MAX_WIDTH, CELL_MAX_HEIGHT = 150.0, 64.0
#: Room kept free inside a cell on each side of its number.
CELL_PADDING = 2.0
#: Fonts tried for the numbers, largest first; the last is the floor: 18 units, which the page
#: draws at ≥ 18 px at 1280×720 and ≥ 16 px at 1024×768.
NUMBER_FONTS = (22.0, 20.0, 18.0)
#: The strip of thumbnails (one per layer) under the matrix, and their captions.
THUMB_TOP, THUMB_WIDTH, THUMB_HEIGHT, THUMB_SPACING = 406.0, 110.0, 60.0, 160.0
THUMB_FONT = 18.0
THUMB_CAPTION_GAP = 24.0

POSITIVE = "#1c5fb8"  # the diagram's blue
NEGATIVE = "#c2410c"  # the diagram's orange (safe for red-green blindness)
NOT_COMPUTED = "#f4f4f5"
#: The numbers are always this dark ink (the page's), so they read alike in every cell.
TEXT = "#18181b"
#: The strongest a cell is coloured, as a blend of the colour with white: up to 0.78 the ink keeps
#: WCAG's 4.5:1 on both blue and orange, so no cell needs white text (which would dip to 4.2:1
#: where the two inks cross over).
MAX_AMOUNT = 0.75

#: What a cell shows: the weight, ∂L/∂w, or the weight after the update.
Quantity = Literal["weight", "gradient", "new"]


def quantity_of(phase: Phase) -> Quantity:
    """Before the backward pass the weights; after it their gradients; after an update the new
    weights (the old ones on hover)."""
    if phase in ("backwarding", "backward"):
        return "gradient"
    if phase == "updated":
        return "new"
    return "weight"


class Named(Protocol):
    """A name in the article's notation, as app/diagram.py's Symbol: ``base``, subscript ``sub``,
    superscript ``sup``; ``text`` is it in plain letters (``h(1)2``)."""

    @property
    def base(self) -> str: ...

    @property
    def sub(self) -> str: ...

    @property
    def sup(self) -> str: ...

    @property
    def text(self) -> str: ...


@dataclass(frozen=True)
class Numbers:
    """One layer's numbers, indexed [i][j] (from-unit i, to-unit j)."""

    weights: Sequence[Sequence[float]]
    #: ∂L/∂w, once the backward pass has reached this layer.
    gradients: Sequence[Sequence[float]] | None = None
    #: The weights before the last update (after an update).
    old_weights: Sequence[Sequence[float]] | None = None

    def shown(self, quantity: Quantity, i: int, j: int) -> float | None:
        """The value a cell shows; None when it is not computed yet."""
        if quantity == "gradient":
            return None if self.gradients is None else float(self.gradients[i][j])
        return float(self.weights[i][j])


@dataclass(frozen=True)
class Cell:
    row: int
    column: int
    #: The cell's rectangle.
    x: float
    y: float
    width: float
    height: float
    #: Where its number is written: centred at text_x on the baseline text_y.
    text_x: float
    text_y: float
    #: The value shown (None: not computed yet) and the same formatted; "" when not computed.
    value: float | None
    text: str
    fill: str
    #: "positive", "negative", "zero" or "none": for CSS and for tests, beside the written sign.
    sign: str
    #: The weight's name, and what the panel calls it: "weight:l,i,j".
    symbol: Named
    key: str
    #: The hover text: the name and the full-precision value (and the old value after an update).
    title: str


@dataclass(frozen=True)
class Header:
    """A unit name over a column or left of a row, centred at x on baseline y."""

    unit: int
    symbol: Named
    x: float
    y: float


@dataclass(frozen=True)
class ThumbCell:
    x: float
    y: float
    width: float
    height: float
    fill: str


@dataclass(frozen=True)
class Thumbnail:
    """A small heat map of one layer's matrix, which picks that layer."""

    layer: int
    #: The frame around it.
    x: float
    y: float
    width: float
    height: float
    cells: tuple[ThumbCell, ...]
    #: "w(2) 8×8", centred at caption_x on baseline caption_y.
    caption: str
    caption_x: float
    caption_y: float
    selected: bool


@dataclass(frozen=True)
class MatrixView:
    width: float
    height: float
    layer: int
    quantity: Quantity
    #: What the table shows, in words, on the title line (starting at MARGIN, TITLE_BASELINE).
    title: str
    title_font: float
    #: The font of the numbers (≥ 16 units), of the unit names and of the thumbnail captions.
    number_font: float
    name_font: float
    thumb_font: float
    #: The largest magnitude of the quantity over all layers: the value coloured at full strength.
    scale: float
    cells: tuple[Cell, ...]
    rows: tuple[Header, ...]
    columns: tuple[Header, ...]
    thumbnails: tuple[Thumbnail, ...]


def _mix(colour: str, amount: float) -> str:
    """``colour`` blended with white: amount 0 is white, 1 the colour itself."""
    amount = min(max(amount, 0.0), 1.0)
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    mixed = (round(255 + (c - 255) * amount) for c in (r, g, b))
    return "#" + "".join(f"{c:02x}" for c in mixed)


def heat(value: float | None, scale: float) -> str:
    """A cell's fill: white at 0, blue (positive) or orange (negative) growing with |value| / scale;
    grey when not computed."""
    if value is None:
        return NOT_COMPUTED
    amount = MAX_AMOUNT * min(abs(value) / scale, 1.0) if scale > 0 else 0.0
    return _mix(POSITIVE if value >= 0 else NEGATIVE, amount)


def _sign(value: float | None) -> str:
    if value is None:
        return "none"
    return "positive" if value > 0 else "negative" if value < 0 else "zero"


def matrix_name(symbol: Named) -> str:
    """The matrix a weight belongs to (``w``, ``u``, ``w(2)``), or the layer a unit is in (``h(1)``)."""
    return symbol.base + (f"({symbol.sup})" if symbol.sup else "")


def cell_size(rows: int, columns: int) -> tuple[float, float]:
    """Every cell of a rows×columns matrix is this wide and high."""
    width = min(CELL_MAX_WIDTH, (WIDTH - 2 * MARGIN - ROW_HEADER_WIDTH) / columns)
    height = min(CELL_MAX_HEIGHT, (CELLS_BOTTOM - CELLS_TOP) / rows)
    return width, height


def number_font(texts: Sequence[str], width: float, height: float) -> float:
    """The largest of NUMBER_FONTS at which every text fits a width×height cell; the smallest
    when none does (it always does for the formatter's ≤ 10 characters and ≤ 8 columns)."""
    longest = max((len(text) for text in texts), default=0)
    for font in NUMBER_FONTS:
        if longest * font * CHAR_WIDTH + 2 * CELL_PADDING <= width and font * LINE_HEIGHT <= height:
            return font
    return NUMBER_FONTS[-1]


def build(
    layers: Sequence[Numbers],
    layer: int,
    quantity: Quantity,
    unit_symbol: Callable[[int, int], Named],
    weight_symbol: Callable[[int, int, int], Named],
    fmt: Callable[[float], str],
) -> MatrixView:
    """The view of matrix ``layer`` (0-based: ``weights[layer]``) showing ``quantity``.

    ``unit_symbol(l, j)`` and ``weight_symbol(l, i, j)`` name units and weights as the diagram does;
    ``fmt`` writes a number for the screen (4 significant digits, true minus).
    """
    if not 0 <= layer < len(layers):
        raise ValueError(f"layer {layer}: the network has weight matrices 0 to {len(layers) - 1}")
    if quantity == "new" and any(numbers.old_weights is None for numbers in layers):
        raise ValueError("the new values need the old weights of every layer")
    values = [
        [
            [numbers.shown(quantity, i, j) for j in range(len(numbers.weights[0]))]
            for i in range(len(numbers.weights))
        ]
        for numbers in layers
    ]
    scale = max((abs(v) for matrix in values for row in matrix for v in row if v is not None), default=0.0)

    current = values[layer]
    row_count, column_count = len(current), len(current[0])
    if column_count > MAX_UNITS or row_count > MAX_UNITS:
        raise ValueError(f"a layer has at most {MAX_UNITS} units")
    width, height = cell_size(row_count, column_count)
    texts = [[fmt(v) if v is not None else "" for v in row] for row in current]
    font = number_font([text for row in texts for text in row], width, height)
    left = max(MARGIN, (WIDTH - ROW_HEADER_WIDTH - column_count * width) / 2) + ROW_HEADER_WIDTH
    # A line of text centred in a box: its line box (1.2 em) is centred, the baseline sits in it.
    centring = BASELINE - LINE_HEIGHT / 2

    cells = []
    for i, row in enumerate(current):
        for j, value in enumerate(row):
            x, y = left + j * width, CELLS_TOP + i * height
            symbol = weight_symbol(layer, i, j)
            cells.append(
                Cell(
                    row=i,
                    column=j,
                    x=round(x, 2),
                    y=round(y, 2),
                    width=round(width, 2),
                    height=round(height, 2),
                    text_x=round(x + width / 2, 2),
                    text_y=round(y + height / 2 + centring * font, 2),
                    value=value,
                    text=texts[i][j],
                    fill=heat(value, scale),
                    sign=_sign(value),
                    symbol=symbol,
                    key=f"weight:{layer},{i},{j}",
                    title=_title(layers[layer], quantity, symbol, i, j),
                )
            )
    name_centring = centring * NAME_FONT
    columns = tuple(
        Header(
            j,
            unit_symbol(layer + 1, j),
            round(left + (j + 0.5) * width, 2),
            round(COLUMN_HEADER_TOP + COLUMN_HEADER_HEIGHT / 2 + name_centring, 2),
        )
        for j in range(column_count)
    )
    rows = tuple(
        Header(
            i,
            unit_symbol(layer, i),
            round(left - ROW_HEADER_WIDTH / 2, 2),
            round(CELLS_TOP + (i + 0.5) * height + name_centring, 2),
        )
        for i in range(row_count)
    )
    name = matrix_name(weight_symbol(layer, 0, 0))
    what = {"weight": name, "gradient": f"∂L/∂{name}", "new": f"{name} after the update (old on hover)"}
    source, target = matrix_name(unit_symbol(layer, 0)), matrix_name(unit_symbol(layer + 1, 0))
    title = f"{what[quantity]} — rows: {source}, columns: {target}"
    return MatrixView(
        width=WIDTH,
        height=HEIGHT,
        layer=layer,
        quantity=quantity,
        title=title,
        title_font=TITLE_FONT,
        number_font=font,
        name_font=NAME_FONT,
        thumb_font=THUMB_FONT,
        scale=scale,
        cells=tuple(cells),
        rows=rows,
        columns=columns,
        thumbnails=_thumbnails(values, layer, scale, weight_symbol),
    )


def _title(numbers: Numbers, quantity: Quantity, symbol: Named, i: int, j: int) -> str:
    name = symbol.text
    weight = float(numbers.weights[i][j])
    if quantity == "gradient":
        if numbers.gradients is None:
            return f"∂L/∂{name}: not computed yet"
        return f"∂L/∂{name} = {float(numbers.gradients[i][j])!r}\n{name} = {weight!r}"
    if quantity == "new" and numbers.old_weights is not None:
        return f"{name} = {weight!r}\nbefore the update: {float(numbers.old_weights[i][j])!r}"
    return f"{name} = {weight!r}"


def _thumbnails(
    values: list[list[list[float | None]]],
    selected: int,
    scale: float,
    weight_symbol: Callable[[int, int, int], Named],
) -> tuple[Thumbnail, ...]:
    """One small heat map per layer, left to right under the matrix, cells square."""
    count = len(values)
    start = max(MARGIN, (WIDTH - count * THUMB_SPACING) / 2)
    thumbnails = []
    for layer, matrix in enumerate(values):
        rows, columns = len(matrix), len(matrix[0])
        side = min(THUMB_WIDTH / columns, THUMB_HEIGHT / rows)
        width, height = side * columns, side * rows
        centre = start + (layer + 0.5) * THUMB_SPACING
        left, top = centre - width / 2, THUMB_TOP + (THUMB_HEIGHT - height) / 2
        cells = tuple(
            ThumbCell(
                round(left + j * side, 2),
                round(top + i * side, 2),
                round(side, 2),
                round(side, 2),
                heat(v, scale),
            )
            for i, row in enumerate(matrix)
            for j, v in enumerate(row)
        )
        thumbnails.append(
            Thumbnail(
                layer=layer,
                x=round(left, 2),
                y=round(top, 2),
                width=round(width, 2),
                height=round(height, 2),
                cells=cells,
                caption=f"{matrix_name(weight_symbol(layer, 0, 0))} {rows}×{columns}",
                caption_x=round(centre, 2),
                caption_y=THUMB_TOP + THUMB_HEIGHT + THUMB_CAPTION_GAP,
                selected=layer == selected,
            )
        )
    return tuple(thumbnails)
