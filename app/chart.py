"""The loss curve's geometry, computed here so the SVG template only draws.

Positions are SVG user units of a fixed viewBox (``WIDTH`` × ``HEIGHT``); the browser scales the
drawing. Fonts are sized for a projector at the back of a classroom.

Downsampling. A session may hold up to two million losses, and an SVG polyline with a vertex per
update would be megabytes of text that the browser redraws on every swap. The curve is reduced on
the server with a **min-max envelope** (app/history.py keeps one up to date for every session, so
the chart never reads every loss): the updates are cut into at most ``(max_points − 2) / 2``
buckets of a power-of-two number of updates, and each bucket keeps its smallest and its largest
loss, in the order they happened, plus the very first and last points. Each bucket is at most a few
pixels wide, so the envelope draws the vertical extent a full polyline would:
the vertical extent a full polyline would: a divergence spike or a sudden drop survives, and the
global minimum and maximum are always kept. LTTB (largest-triangle-three-buckets) was the other
candidate; it looks slightly smoother on gentle curves, but it keeps one point per bucket chosen by
triangle area, so it may drop an extreme, and each bucket depends on the previous bucket's choice,
so it cannot be vectorised in numpy: the envelope is an ``argmin``/``argmax`` over a reshaped view.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from app.envelope import Envelope, envelope_of
from app.notation import MINUS, fmt

WIDTH = 720.0
HEIGHT = 400.0
#: Room around the plot area: tick labels and the rotated axis title on the left, tick labels
#: and the axis title below. Whole numbers, so rounded coordinates never leave the plot area.
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 104.0, 32.0, 28.0, 76.0
#: Font size of tick labels and titles in user units (the viewBox is usually drawn at about
#: its own size, so 18 units read like 18 px type).
FONT_SIZE = 18.0
#: Most intervals between ticks on an axis (so at most one more labelled tick).
MAX_INTERVALS = 6
#: Auto log scale when the largest loss is more than this many times the smallest (2 decades).
LOG_SCALE_RATIO = 100.0
#: Two tick labels on the x axis closer than this (user units) would overlap.
MIN_TICK_GAP = 40.0
EMPTY_MESSAGE = "No updates yet: step or train, and the loss of each update is drawn here."

FloatArray = NDArray[np.float64]
IndexArray = NDArray[np.intp]


@dataclass(frozen=True)
class Plot:
    """The rectangle the curve is drawn in, in user units."""

    #: x of the left edge (the y axis).
    left: float
    #: y of the top edge.
    top: float
    #: x of the right edge.
    right: float
    #: y of the bottom edge (the x axis).
    bottom: float

    @property
    def width(self) -> float:
        return self.right - self.left

    @property
    def height(self) -> float:
        return self.bottom - self.top


@dataclass(frozen=True)
class Tick:
    """One labelled tick on an axis."""

    #: The value it marks: a loss (y axis) or an update count (x axis).
    value: float
    #: Its position along the axis: x for the x axis, y for the y axis (user units).
    position: float
    #: The label as shown: ``0.05``, ``1e-4``, ``10k``.
    label: str


@dataclass(frozen=True)
class Marker:
    """The latest loss: a dot at the end of the curve and its value written beside it."""

    #: Which update it belongs to (1-based: the loss of the n-th update).
    update: int
    #: The loss itself, full precision.
    value: float
    #: Where the dot goes.
    x: float
    y: float
    #: The value as shown (about 4 significant digits).
    label: str
    #: Where the label goes, and its SVG text-anchor ("end": left of the dot).
    label_x: float
    label_y: float
    anchor: str


@dataclass(frozen=True)
class Chart:
    """Everything the loss chart's SVG template places."""

    #: The viewBox size.
    width: float
    height: float
    #: Font size of tick labels, axis titles and the marker's label.
    font_size: float
    #: Where the curve is drawn; ticks sit on its left and bottom edges.
    plot: Plot
    #: True when the y axis is logarithmic (base 10).
    log_scale: bool
    #: How many losses the curve stands for (updates so far).
    count: int
    #: The SVG polyline ``points``: "x,y x,y …", rounded to 0.1 user units; "" when empty.
    points: str
    #: How many vertices ``points`` holds (at most max_points).
    point_count: int
    #: The x axis domain in updates (the first and last update sit on the plot's edges).
    x_min: float
    x_max: float
    #: The y axis domain in loss units (a whole number of tick steps or decades).
    y_min: float
    y_max: float
    #: Ticks along the bottom edge, in update counts.
    x_ticks: tuple[Tick, ...]
    #: Ticks along the left edge, in loss units.
    y_ticks: tuple[Tick, ...]
    #: Axis titles.
    x_title: str
    y_title: str
    #: The latest loss, or None when there is none.
    last: Marker | None
    #: Shown in place of the curve when there are no losses; "" otherwise.
    message: str

    @property
    def empty(self) -> bool:
        return self.count == 0


# --------------------------------------------------------------------------------------------
# Downsampling
# --------------------------------------------------------------------------------------------


def downsample(values: FloatArray, max_points: int) -> IndexArray:
    """Indices of the points to draw, ascending: a min-max envelope (see the module docstring).

    Every index when there are at most ``max_points`` values; otherwise the first and last index and
    each bucket's first minimum and first maximum, at most ``max_points`` in all.
    """
    if max_points < 4:
        raise ValueError(f"max_points: at least 4, got {max_points}")
    n = int(values.shape[0])
    if n <= max_points:
        return np.arange(n, dtype=np.intp)
    indices, _ = _curve(envelope_of(values), max_points)
    return np.unique(np.concatenate([np.array([0, n - 1], dtype=np.intp), indices.astype(np.intp)]))


def _curve(envelope: Envelope, max_points: int) -> tuple[IndexArray, FloatArray]:
    """The envelope's points, with at most max_points − 2 of them (room for the two ends)."""
    if envelope.width == 1 and envelope.count <= max_points:
        indices, values = envelope.points()
    else:
        indices, values = envelope.grouped((max_points - 2) // 2).points()
    return indices.astype(np.intp), values


# --------------------------------------------------------------------------------------------
# Nice numbers
# --------------------------------------------------------------------------------------------


def _decimal(mantissa: int, exponent: int) -> float:
    """mantissa × 10^exponent as the double nearest the decimal number (0.3, not 0.30000000000000004)."""
    return float(f"{mantissa}e{exponent}")


def nice_step(span: float, max_intervals: int = MAX_INTERVALS) -> tuple[int, int]:
    """The smallest step m × 10^e with m in 1, 2, 5 that cuts ``span`` into at most ``max_intervals``."""
    if not span > 0:
        raise ValueError(f"span: must be positive, got {span}")
    raw = span / max_intervals
    exponent = math.floor(math.log10(raw))
    for mantissa in (1, 2, 5, 10):
        if _decimal(mantissa, exponent) >= raw * (1 - 1e-9):
            break
    if mantissa == 10:
        return 1, exponent + 1
    return mantissa, exponent


def _larger_step(mantissa: int, exponent: int) -> tuple[int, int]:
    return {1: (2, exponent), 2: (5, exponent), 5: (1, exponent + 1)}[mantissa]


def linear_ticks(low: float, high: float, max_intervals: int = MAX_INTERVALS) -> tuple[float, ...]:
    """Tick values on a 1-2-5 step; the first and last enclose [low, high] and are the axis bounds."""
    if not low < high:
        raise ValueError(f"linear_ticks: need low < high, got {low}, {high}")
    mantissa, exponent = nice_step(high - low, max_intervals)
    while True:
        step = _decimal(mantissa, exponent)
        first = math.floor(low / step + 1e-9)
        last = math.ceil(high / step - 1e-9)
        if last - first <= max_intervals:
            return tuple(_decimal(k * mantissa, exponent) for k in range(first, last + 1))
        mantissa, exponent = _larger_step(mantissa, exponent)


def log_ticks(low: float, high: float, max_intervals: int = MAX_INTERVALS) -> tuple[float, ...]:
    """Tick values for a log axis: whole decades enclosing [low, high] (the first and last are the
    bounds); 1, 2, 5 within each decade when the axis spans at most two decades; every second (or
    fifth …) decade when there would be more than ``max_intervals``."""
    if not 0 < low <= high:
        raise ValueError(f"log_ticks: need 0 < low <= high, got {low}, {high}")
    first = math.floor(math.log10(low))
    last = math.ceil(math.log10(high))
    if last == first:
        last += 1
    decades = last - first
    if decades <= 2:
        values = [_decimal(m, e) for e in range(first, last) for m in (1, 2, 5)]
        return (*values, _decimal(1, last))
    stride = next(s for s in (1, 2, 3, 5, 10, 20, 50, 100, 200) if math.ceil(decades / s) <= max_intervals)
    first = math.floor(first / stride) * stride
    last = math.ceil(last / stride) * stride
    return tuple(_decimal(1, e) for e in range(first, last + 1, stride))


def _strip(text: str) -> str:
    return text.rstrip("0").rstrip(".") if "." in text else text


def _scientific(value: float) -> str:
    mantissa, exponent = f"{abs(value):.6e}".split("e")
    return f"{MINUS if value < 0 else ''}{_strip(mantissa)}e{int(exponent)}"


def linear_label(value: float, step: float) -> str:
    """A tick label with as many decimals as the step needs: ``0.05``, ``0.1``, ``2``, ``2e-4``."""
    if value == 0:
        return "0"
    if step < 1e-3 or abs(value) >= 1e6:
        return _scientific(value)
    decimals = max(0, -math.floor(math.log10(step) + 1e-9))
    return (MINUS if value < 0 else "") + _strip(f"{abs(value):.{decimals}f}")


def log_label(value: float) -> str:
    """``0.001`` … ``1000`` written out; beyond that ``1e-4``, ``5e-6``, ``1e5``."""
    exponent = math.floor(math.log10(value) + 1e-9)
    if -3 <= exponent <= 3:
        return _strip(f"{value:.{max(0, -exponent)}f}")
    return _scientific(value)


def count_label(value: float) -> str:
    """An update count: ``1``, ``500``, ``2.5k``, ``10k``, ``1M``."""
    if value < 1000:
        return f"{value:g}"
    if value < 1_000_000:
        return f"{value / 1000:g}k"
    return f"{value / 1_000_000:g}M"


# --------------------------------------------------------------------------------------------
# The chart
# --------------------------------------------------------------------------------------------


def _as_losses(losses: Sequence[float] | FloatArray) -> FloatArray:
    if isinstance(losses, np.ndarray):
        values = np.asarray(losses, dtype=np.float64)
    else:  # a tuple of floats (loss_history): fromiter is about a fifth faster than asarray
        values = np.fromiter(losses, dtype=np.float64, count=len(losses))
    if values.ndim != 1:
        raise ValueError(f"losses: expected a flat sequence, got shape {values.shape}")
    if values.size and not np.isfinite(values).all():
        raise ValueError("losses: every value must be finite")
    return values


def _x_ticks(count: int, x_min: float, x_max: float, to_x: float, plot: Plot) -> tuple[Tick, ...]:
    """Update 1 and multiples of a 1-2-5 step (at least 1) up to the last update."""
    mantissa, exponent = nice_step(float(max(count, 1)))
    if exponent < 0:
        mantissa, exponent = 1, 0
    step = _decimal(mantissa, exponent)
    values = [1.0] + [k * step for k in range(1, int(count // step) + 1) if k * step > 1]
    ticks: list[Tick] = []
    for value in values:
        position = round(plot.left + (value - x_min) * to_x, 1)
        if ticks and position - ticks[0].position < MIN_TICK_GAP:
            continue  # its label would run into the label "1"
        ticks.append(Tick(value, position, count_label(value)))
    return tuple(ticks)


def build(
    losses: Sequence[float] | FloatArray | Envelope,
    *,
    ends: tuple[float, float] | None = None,
    width: float = WIDTH,
    height: float = HEIGHT,
    max_points: int = 600,
    log_scale: bool | None = None,
) -> Chart:
    """The loss chart: ``losses[k]`` is the loss of update k+1, given as the losses themselves or
    as their envelope (a session's ``history.envelope(step)``) with ``ends``, the first and the
    last loss.

    ``log_scale`` None chooses a log axis when every loss is positive and they span more than two
    decades; True asks for one (ignored, falling back to linear, unless every loss is positive;
    to be exact, within 1e-300 .. 1e300).
    """
    if max_points < 4:
        raise ValueError(f"max_points: at least 4, got {max_points}")
    if isinstance(losses, Envelope):
        envelope = losses
        if envelope.count and ends is None:
            raise ValueError("ends: the first and the last loss go with an envelope")
    else:
        values = _as_losses(losses)
        envelope = envelope_of(values)
        ends = (float(values[0]), float(values[-1])) if values.size else None
    plot = Plot(MARGIN_LEFT, MARGIN_TOP, width - MARGIN_RIGHT, height - MARGIN_BOTTOM)
    if plot.width <= 0 or plot.height <= 0:
        raise ValueError(f"a {width}×{height} chart leaves no room for the plot area")
    count = envelope.count
    if count == 0:
        return Chart(
            width=width,
            height=height,
            font_size=FONT_SIZE,
            plot=plot,
            log_scale=False,
            count=0,
            points="",
            point_count=0,
            x_min=0.0,
            x_max=1.0,
            y_min=0.0,
            y_max=1.0,
            x_ticks=(),
            y_ticks=(),
            x_title="updates",
            y_title="loss",
            last=None,
            message=EMPTY_MESSAGE,
        )
    assert ends is not None
    first, final = ends
    low, high = float(envelope.low.min()), float(envelope.high.max())
    positive = low >= 1e-300 and high <= 1e300  # whole decades of ticks stay normal doubles
    use_log = positive and (high / low > LOG_SCALE_RATIO if log_scale is None else log_scale)

    if use_log:
        y_values = log_ticks(low, high)
        labels = [log_label(v) for v in y_values]
    else:
        if high - low <= 1e-9 * max(abs(low), abs(high)):
            # One value, or a curve flat to 9 digits: put it in the middle of a 0-based axis.
            low, high = (0.0, 2 * low) if low > 0 else (2 * low, 0.0) if low < 0 else (0.0, 1.0)
        y_values = linear_ticks(low, high)
        step = y_values[1] - y_values[0]
        labels = [linear_label(v, step) for v in y_values]
    y_min, y_max = y_values[0], y_values[-1]

    def scale_y(v: FloatArray) -> FloatArray:
        if use_log:
            fraction = (np.log10(v) - math.log10(y_min)) / (math.log10(y_max) - math.log10(y_min))
        else:
            fraction = (v - y_min) / (y_max - y_min)
        result: FloatArray = plot.bottom - fraction * plot.height
        return result

    x_min, x_max = (1.0, float(count)) if count > 1 else (0.0, 2.0)
    to_x = plot.width / (x_max - x_min)
    kept, kept_values = _curve(envelope, max_points)
    kept = np.concatenate([np.array([0], dtype=np.intp), kept, np.array([count - 1], dtype=np.intp)])
    kept_values = np.concatenate([[first], kept_values, [final]])
    kept, unique_at = np.unique(kept, return_index=True)
    kept_values = kept_values[unique_at]
    xs = np.round(plot.left + (kept + 1 - x_min) * to_x, 1)
    ys = np.round(scale_y(kept_values), 1)
    points = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs.tolist(), ys.tolist(), strict=True))

    y_positions = np.round(scale_y(np.array(y_values)), 1).tolist()
    y_ticks = tuple(Tick(v, p, label) for v, p, label in zip(y_values, y_positions, labels, strict=True))
    last_x, last_y = float(xs[-1]), float(ys[-1])
    # The value is written left of the dot, above it unless the dot is near the top edge.
    above = last_y - plot.top > FONT_SIZE * 1.6
    last = Marker(
        update=count,
        value=final,
        x=last_x,
        y=last_y,
        label=fmt(final),
        label_x=round(last_x - 8.0, 1),
        label_y=round(last_y - 10.0 if above else last_y + FONT_SIZE + 8.0, 1),
        anchor="end",
    )
    return Chart(
        width=width,
        height=height,
        font_size=FONT_SIZE,
        plot=plot,
        log_scale=use_log,
        count=count,
        points=points,
        point_count=int(kept.size),
        x_min=x_min,
        x_max=x_max,
        y_min=y_min,
        y_max=y_max,
        x_ticks=_x_ticks(count, x_min, x_max, to_x, plot),
        y_ticks=y_ticks,
        x_title="updates",
        y_title="loss (log scale)" if use_log else "loss",
        last=last,
        message="",
    )
