"""Decision maps: what a 2-input network outputs over the input plane, as SVG geometry.

One map per output unit. The plane around the data is cut into a grid of square cells; every cell
is coloured by the network's output at its centre, computed with the session's current parameters
in one batched :func:`app.engine.predict` call. The data points are drawn on top, coloured by their
target through the same scale, so a point that sits in a region of its own colour is classified
right. Positions are SVG user units of a fixed viewBox; the template only places what it is given.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from app import engine
from app.engine import Array
from app.errors import InvalidInputError
from app.notation import fmt
from app.palette import NEGATIVE, POSITIVE, mix
from app.session import Session

#: Side of the square plot area and the room left around it for the axis labels (user units).
SIZE = 360.0
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 64.0, 16.0, 40.0, 60.0
FONT_SIZE = 18.0
POINT_RADIUS = 9.0
#: Fraction of the data's span added on each side, and the least half-width of an axis.
PADDING = 0.1
MIN_HALF_WIDTH = 0.5
DEFAULT_RESOLUTION = 24
MIN_RESOLUTION, MAX_RESOLUTION = 2, 100
#: How far the colour goes toward blue or orange at the ends of the scale (1 would be the full colour).
MAX_TINT = 0.85
MIDDLE = "#ffffff"


@dataclass(frozen=True)
class Bounds:
    """The part of the input plane a map shows."""

    #: The range of the first input, x1 (horizontal axis).
    x1_min: float
    x1_max: float
    #: The range of the second input, x2 (vertical axis, growing upwards).
    x2_min: float
    x2_max: float

    def contains(self, x1: float, x2: float) -> bool:
        return self.x1_min <= x1 <= self.x1_max and self.x2_min <= x2 <= self.x2_max


@dataclass(frozen=True)
class Axis:
    """An axis title and the numbers written at its two ends."""

    #: The input it measures: "x1" or "x2".
    label: str
    #: The value at the start (left or bottom) and end (right or top) of the axis.
    minimum: float
    maximum: float
    #: Those values as shown (about 4 significant digits).
    min_text: str
    max_text: str


@dataclass(frozen=True)
class Cell:
    """One square of the grid."""

    #: Grid position: row 0 is the top (largest x2), column 0 the left (smallest x1).
    row: int
    column: int
    #: Top-left corner in user units (the side is the map's ``cell_size``).
    x: float
    y: float
    #: The input at the cell's centre, where the output was computed.
    x1: float
    x2: float
    #: The network's output there (the map's output unit), full precision.
    value: float
    #: The colour of ``value`` on the map's scale.
    fill: str


@dataclass(frozen=True)
class Point:
    """One sample of the dataset, drawn over the grid."""

    #: Row of the dataset.
    index: int
    #: The sample's input.
    x1: float
    x2: float
    #: Its position in user units.
    x: float
    y: float
    #: Its target for the map's output unit.
    target: float
    #: The colour of ``target`` on the map's scale.
    fill: str
    #: True for the session's current sample (``session.sample_index``).
    current: bool
    #: Shown on hover: input, target.
    tooltip: str


@dataclass(frozen=True)
class DecisionMap:
    """The output of one output unit over the input plane."""

    #: Which output unit (0-based); its name is ``title``.
    output: int
    #: The unit's name, "y1", and a one-line caption.
    title: str
    caption: str
    #: The viewBox size.
    width: float
    height: float
    #: The plot area: left and top edge, and its side (it is square).
    left: float
    top: float
    size: float
    font_size: float
    #: Cells per side; ``cells`` holds resolution² cells, row by row from the top.
    resolution: int
    cell_size: float
    bounds: Bounds
    x_axis: Axis
    y_axis: Axis
    cells: tuple[Cell, ...]
    points: tuple[Point, ...]
    point_radius: float
    #: The values at the two ends of the colour scale: (0, 1) for sigmoid outputs, otherwise the
    #: smallest and largest of the cell values and targets.
    value_min: float
    value_max: float
    #: The colours at the two ends and in the middle, for a legend.
    colour_min: str
    colour_mid: str
    colour_max: str


def colour(value: float, low: float, high: float) -> str:
    """Diverging: orange at ``low``, white half-way, blue at ``high`` (safe for red-green blindness)."""
    position = 0.5 if high == low else (value - low) / (high - low)
    position = min(max(position, 0.0), 1.0)
    if position >= 0.5:
        return mix(POSITIVE, (position - 0.5) * 2 * MAX_TINT)
    return mix(NEGATIVE, (0.5 - position) * 2 * MAX_TINT)


def _axis_range(values: Array) -> tuple[float, float]:
    low, high = float(values.min()), float(values.max())
    pad = (high - low) * PADDING
    low, high = low - pad, high + pad
    centre, half = (low + high) / 2, (high - low) / 2
    if half < MIN_HALF_WIDTH:
        low, high = centre - MIN_HALF_WIDTH, centre + MIN_HALF_WIDTH
    return low, high


def bounds_of(inputs: Array) -> Bounds:
    """The data's range on each axis, padded by 10% of its span and at least ±0.5 around its middle."""
    x1_min, x1_max = _axis_range(inputs[:, 0])
    x2_min, x2_max = _axis_range(inputs[:, 1])
    return Bounds(x1_min, x1_max, x2_min, x2_max)


def cell_centres(bounds: Bounds, resolution: int) -> tuple[Array, Array]:
    """The x1 of each column's centre (left to right) and the x2 of each row's centre (top down)."""
    steps = (np.arange(resolution, dtype=np.float64) + 0.5) / resolution
    x1 = bounds.x1_min + steps * (bounds.x1_max - bounds.x1_min)
    x2 = bounds.x2_max - steps * (bounds.x2_max - bounds.x2_min)
    return x1, x2


def build(session: Session, *, resolution: int = DEFAULT_RESOLUTION) -> tuple[DecisionMap, ...]:
    """One map per output unit, or () unless the network has exactly 2 inputs."""
    arch = session.arch
    if arch.layers[0] != 2:
        return ()
    if not MIN_RESOLUTION <= resolution <= MAX_RESOLUTION:
        raise InvalidInputError(
            f"resolution: must lie in {MIN_RESOLUTION}..{MAX_RESOLUTION}, got {resolution}"
        )
    data = session.data
    bounds = bounds_of(data.inputs)
    x1, x2 = cell_centres(bounds, resolution)
    # Row-major over (row, column): row r, column c is centre (x1[c], x2[r]).
    grid = np.column_stack([np.tile(x1, resolution), np.repeat(x2, resolution)])
    outputs = engine.predict(arch, session.params, grid)
    cell_size = SIZE / resolution
    left, top = MARGIN_LEFT, MARGIN_TOP

    def to_x(value: float) -> float:
        return left + (value - bounds.x1_min) / (bounds.x1_max - bounds.x1_min) * SIZE

    def to_y(value: float) -> float:
        return top + (bounds.x2_max - value) / (bounds.x2_max - bounds.x2_min) * SIZE

    x_axis = Axis("x1", bounds.x1_min, bounds.x1_max, fmt(bounds.x1_min), fmt(bounds.x1_max))
    y_axis = Axis("x2", bounds.x2_min, bounds.x2_max, fmt(bounds.x2_min), fmt(bounds.x2_max))
    maps: list[DecisionMap] = []
    for unit in range(arch.layers[-1]):
        values = outputs[:, unit]
        targets = data.targets[:, unit]
        if arch.output_activation == "sigmoid":
            low, high = 0.0, 1.0
        else:
            low = min(float(values.min()), float(targets.min()))
            high = max(float(values.max()), float(targets.max()))
        cells = tuple(
            Cell(
                row=index // resolution,
                column=index % resolution,
                x=round(left + (index % resolution) * cell_size, 2),
                y=round(top + (index // resolution) * cell_size, 2),
                x1=float(grid[index, 0]),
                x2=float(grid[index, 1]),
                value=value,
                fill=colour(value, low, high),
            )
            for index, value in enumerate(values.tolist())
        )
        points = tuple(
            Point(
                index=i,
                x1=float(row[0]),
                x2=float(row[1]),
                x=round(to_x(float(row[0])), 2),
                y=round(to_y(float(row[1])), 2),
                target=float(targets[i]),
                fill=colour(float(targets[i]), low, high),
                current=i == session.sample_index,
                tooltip=(
                    f"x = ({fmt(float(row[0]))}, {fmt(float(row[1]))}), "
                    f"t{unit + 1} = {fmt(float(targets[i]))}"
                ),
            )
            for i, row in enumerate(data.inputs)
        )
        name = f"y{unit + 1}"
        maps.append(
            DecisionMap(
                output=unit,
                title=name,
                caption=f"{name} over the input plane (x1 across, x2 up) after {session.step} updates",
                width=MARGIN_LEFT + SIZE + MARGIN_RIGHT,
                height=MARGIN_TOP + SIZE + MARGIN_BOTTOM,
                left=left,
                top=top,
                size=SIZE,
                font_size=FONT_SIZE,
                resolution=resolution,
                cell_size=cell_size,
                bounds=bounds,
                x_axis=x_axis,
                y_axis=y_axis,
                cells=cells,
                points=points,
                point_radius=POINT_RADIUS,
                value_min=low,
                value_max=high,
                colour_min=colour(low, low, high),
                colour_mid=MIDDLE,
                colour_max=colour(high, low, high),
            )
        )
    return tuple(maps)
