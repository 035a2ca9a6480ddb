"""Where the exercise sheet's figure goes (app/sheet_view.py): the layers and units in landscape or
portrait, font sizes, and labels placed along their edges so they keep off each other and off the
nodes. The page's diagram has its own canvas and label placement (app/diagram_geometry.py).

Positions are in SVG user units of a fixed viewBox; the browser scales the whole drawing to the
space it has.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from app.notation import Symbol

WIDTH = 960.0
HEIGHT = 600.0
#: Room kept free around the network: left for the inputs, right for the targets.
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_Y = 62.0, 185.0, 72.0
#: The portrait drawing, for phones: layers top to bottom, targets under the outputs.
PORTRAIT_WIDTH, PORTRAIT_HEIGHT = 440.0, 900.0
PORTRAIT_MARGIN_X, PORTRAIT_MARGIN_TOP, PORTRAIT_MARGIN_BOTTOM = 60.0, 70.0, 120.0
CHAR_WIDTH = 0.64  # of the font size: bold digits in DejaVu Sans / system-ui, an upper bound


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
