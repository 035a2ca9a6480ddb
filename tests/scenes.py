"""Drawings to place labels on: the unit positions of app/diagram.py's two layouts, rebuilt here.

The label and matrix tests need realistic scenes but not a Session, and app/diagram.py is being
split; so the layout rules (margins, spacing, radius) are restated from it. A scene holds the
trimmed edge segments, the node circles and the text around the nodes (bias above, δ below,
targets beside the outputs) as obstacles, all at one font size for every number.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass
from html import escape

from app.labels import LINE_HEIGHT, Box, Circle, EdgeLabel, Obstacle, Placement, text_box, text_size

LANDSCAPE = (960.0, 600.0)
PORTRAIT = (440.0, 900.0)
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_Y = 62.0, 185.0, 72.0
PORTRAIT_MARGIN_X, PORTRAIT_MARGIN_TOP, PORTRAIT_MARGIN_BOTTOM = 60.0, 70.0, 120.0


def positions(
    layers: tuple[int, ...], orientation: str
) -> tuple[dict[tuple[int, int], tuple[float, float]], float]:
    """Unit centres and the radius, as app/diagram.py's Layout computes them."""
    width, height = PORTRAIT if orientation == "portrait" else LANDSCAPE
    most = max(max(layers) - 1, 1)
    if orientation == "portrait":
        spacing = min(150.0, (width - 2 * PORTRAIT_MARGIN_X) / most)
        radius = min(36.0, spacing * 0.42)
    else:
        spacing = min(190.0, (height - 2 * MARGIN_Y) / most)
        radius = min(42.0, spacing * 0.42)
    count = len(layers)
    centres = {}
    for layer, units in enumerate(layers):
        for unit in range(units):
            across = (unit - (units - 1) / 2) * spacing
            if orientation == "portrait":
                span = height - PORTRAIT_MARGIN_TOP - PORTRAIT_MARGIN_BOTTOM
                centres[(layer, unit)] = (
                    width / 2 + across,
                    PORTRAIT_MARGIN_TOP + span * layer / (count - 1),
                )
            else:
                span = width - MARGIN_LEFT - MARGIN_RIGHT
                centres[(layer, unit)] = (MARGIN_LEFT + span * layer / (count - 1), height / 2 + across)
    return centres, radius


@dataclass(frozen=True)
class Scene:
    layers: tuple[int, ...]
    orientation: str
    bounds: tuple[float, float]
    font: float
    labels: tuple[EdgeLabel, ...]
    #: The label's lines, by edge id.
    texts: dict[str, tuple[str, ...]]
    circles: tuple[Circle, ...]
    #: The text around the nodes, with what it says: (box, text, baseline x, baseline y).
    captions: tuple[tuple[Box, str, float, float], ...]

    @property
    def obstacles(self) -> list[Obstacle]:
        return [*self.circles, *(box for box, *_ in self.captions)]


def scene(
    layers: tuple[int, ...],
    orientation: str = "landscape",
    font: float = 18.0,
    lines: tuple[str, ...] = ("0.1234",),
    bias: str = "b 0.1234",
    delta: str = "",
) -> Scene:
    """Every edge labelled with ``lines``; each non-input unit has a bias caption above it (and a δ
    caption below when given); targets beside (landscape) or under (portrait) the outputs."""
    centres, r = positions(layers, orientation)
    bounds = PORTRAIT if orientation == "portrait" else LANDSCAPE
    width, height = text_size(lines, font)
    labels = []
    texts = {}
    for l in range(len(layers) - 1):
        for i in range(layers[l]):
            for j in range(layers[l + 1]):
                (sx, sy), (tx, ty) = centres[(l, i)], centres[(l + 1, j)]
                length = math.hypot(tx - sx, ty - sy)
                ux, uy = (tx - sx) / length, (ty - sy) / length
                key = f"weight:{l},{i},{j}"
                labels.append(
                    EdgeLabel(key, sx + ux * r, sy + uy * r, tx - ux * r, ty - uy * r, width, height)
                )
                texts[key] = lines
    circles = tuple(Circle(x, y, r) for x, y in centres.values())
    captions = []
    for (l, _j), (x, y) in centres.items():
        if l == 0:
            continue
        captions.append((text_box(x, y - r - 10, bias, font), bias, x, y - r - 10))
        if delta:
            captions.append((text_box(x, y + r + font * 1.3, delta, font), delta, x, y + r + font * 1.3))
    last = len(layers) - 1
    for j in range(layers[-1]):
        x, y = centres[(last, j)]
        target = f"t{j + 1} = 0.01"
        if orientation == "portrait":
            bx, by = x, y + r + (2.6 if delta else 1.3) * font
        else:
            bx, by = x + r + 24 + text_size([target], font)[0] / 2, y + 7
        captions.append((text_box(bx, by, target, font), target, bx, by))
    return Scene(layers, orientation, bounds, font, tuple(labels), texts, circles, tuple(captions))


def architectures(max_edges: int = 24, max_units: int = 8, max_layers: int = 6) -> Iterator[tuple[int, ...]]:
    """Every architecture of 2..max_layers layers of 1..max_units units with at most max_edges edges."""
    for count in range(2, max_layers + 1):
        for layers in itertools.product(range(1, max_units + 1), repeat=count):
            if sum(a * b for a, b in itertools.pairwise(layers)) <= max_edges:
                yield layers


def svg(drawing: Scene, placements: list[Placement]) -> str:
    """A minimal SVG of the scene with its labels placed: lines, circles, captions, and each label
    as a haloed ``<text>`` (class "number") centred at its placement, as the diagram template would
    draw it. Text is DejaVu Sans Bold, the font the character-width model was measured on."""
    width, height = drawing.bounds
    font = drawing.font
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:g} {height:g}" '
        f"style=\"font-family: 'DejaVu Sans'; font-weight: bold; width: 100%; height: 100%\">"
    ]
    for label in drawing.labels:
        parts.append(
            f'<line x1="{label.x1:.2f}" y1="{label.y1:.2f}" x2="{label.x2:.2f}" y2="{label.y2:.2f}" '
            'stroke="#1c5fb8" stroke-width="3"/>'
        )
    for circle in drawing.circles:
        parts.append(
            f'<circle cx="{circle.x:.2f}" cy="{circle.y:.2f}" r="{circle.r:.2f}" '
            'fill="#f4f4f5" stroke="#18181b"/>'
        )
    for _box, text, x, y in drawing.captions:
        parts.append(
            f'<text class="caption" x="{x:.2f}" y="{y:.2f}" font-size="{font:g}" text-anchor="middle">'
            f"{escape(text)}</text>"
        )
    next_line = f' dy="{LINE_HEIGHT:g}em"'
    for place in placements:
        lines = drawing.texts[place.id]
        halo = place.halo
        parts.append(
            f'<rect class="halo" x="{halo.left:.2f}" y="{halo.top:.2f}" width="{halo.width:.2f}" '
            f'height="{halo.height:.2f}" rx="{font / 4:g}" fill="#ffffff" fill-opacity="0.92"/>'
        )
        spans = "".join(
            f'<tspan x="{place.x:.2f}"{"" if k == 0 else next_line}>{escape(line)}</tspan>'
            for k, line in enumerate(lines)
        )
        parts.append(
            f'<text class="number" data-label-for="{place.id}" x="{place.x:.2f}" '
            f'y="{place.baseline(font, len(lines)):.2f}" font-size="{font:g}" text-anchor="middle">'
            f"{spans}</text>"
        )
    parts.append("</svg>")
    return "\n".join(parts)
