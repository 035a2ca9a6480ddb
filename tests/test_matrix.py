"""The weight-matrix view: exact geometry, text that fits and never overlaps, colours, keys."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from app import matrix
from app.labels import CHAR_WIDTH, Box, text_box
from app.matrix import NEGATIVE, POSITIVE, MatrixView, Numbers, build, heat, quantity_of
from app.session import Phase


@dataclass(frozen=True)
class Sym:
    """A name in the article's notation, as app/diagram.py's Symbol."""

    base: str
    sub: str
    sup: str = ""

    @property
    def text(self) -> str:
        return f"{self.base}{f'({self.sup})' if self.sup else ''}{self.sub}"


def namer(layer_count: int) -> tuple[Callable[[int, int], Sym], Callable[[int, int, int], Sym]]:
    """x, h (h(l) when deeper), y; w and u in the article's network, w(l) in deeper ones."""

    def unit(l: int, j: int) -> Sym:
        if l == 0:
            return Sym("x", str(j + 1))
        if l == layer_count - 1:
            return Sym("y", str(j + 1))
        return Sym("h", str(j + 1), "" if layer_count == 3 else str(l))

    def weight(l: int, i: int, j: int) -> Sym:
        if layer_count == 3:
            return Sym("w" if l == 0 else "u", f"{i + 1}{j + 1}")
        return Sym("w", f"{i + 1}{j + 1}", str(l + 1))

    return unit, weight


def fmt(value: float) -> str:
    """Four significant digits and a true minus (the rule of app/diagram.py's fmt)."""
    if value == 0:
        return "0"
    magnitude = abs(value)
    text = f"{magnitude:.4g}" if 1e-4 <= magnitude < 1e5 else f"{magnitude:.3e}"
    return ("−" if value < 0 else "") + text


def filled(rows: int, columns: int, value: float) -> list[list[float]]:
    return [[value] * columns for _ in range(rows)]


def view(
    layers: list[Numbers], layer: int, quantity: matrix.Quantity, count: int | None = None
) -> MatrixView:
    unit, weight = namer(count or len(layers) + 1)
    return build(layers, layer, quantity, unit, weight, fmt)


def default_network() -> list[Numbers]:
    """2-3-2 with the weights of a worked example, and a backward pass and an update on top."""
    w = [[0.1, -0.2, 0.3], [-0.4, 0.5, -0.6]]
    u = [[0.7, -0.8], [0.9, -1.0], [0.25, 0.0]]
    return [Numbers(w), Numbers(u)]


# --------------------------------------------------------------------------------------------
# Geometry
# --------------------------------------------------------------------------------------------


def test_a_2x3_layer_exactly() -> None:
    v = view(default_network(), 0, "weight")
    assert (v.width, v.height, v.layer, v.quantity) == (1100.0, 520.0, 0, "weight")
    # 3 columns of at most 150 units, 2 rows of at most 64; the 546-unit block (names + cells) is
    # centred: names from 277, cells from 373; cells start under the 38-unit header row at 42
    assert [(c.row, c.column, c.x, c.y, c.width, c.height) for c in v.cells] == [
        (0, 0, 373.0, 80.0, 150.0, 64.0),
        (0, 1, 523.0, 80.0, 150.0, 64.0),
        (0, 2, 673.0, 80.0, 150.0, 64.0),
        (1, 0, 373.0, 144.0, 150.0, 64.0),
        (1, 1, 523.0, 144.0, 150.0, 64.0),
        (1, 2, 673.0, 144.0, 150.0, 64.0),
    ]
    # "−0.2" is 4 characters: 22 units fit; the baseline centres the 1.2 em line box in the cell
    # (it sits 0.946 em below the line box's top): 80 + 32 − 13.2 + 20.812
    assert v.number_font == 22.0
    first = v.cells[0]
    assert (first.text_x, first.text_y) == (448.0, 119.61)
    assert [c.text for c in v.cells] == ["0.1", "−0.2", "0.3", "−0.4", "0.5", "−0.6"]
    # names at 27 units: 42 + 19 − 16.2 + 25.542
    assert [(h.unit, h.symbol.text, h.x, h.y) for h in v.columns] == [
        (0, "h1", 448.0, 70.34),
        (1, "h2", 598.0, 70.34),
        (2, "h3", 748.0, 70.34),
    ]
    assert [(h.unit, h.symbol.text, h.x, h.y) for h in v.rows] == [
        (0, "x1", 325.0, 121.34),
        (1, "x2", 325.0, 185.34),
    ]
    assert v.title == "w — rows: x, columns: h"


def test_the_largest_matrix_keeps_every_number_at_18_or_more() -> None:
    # 8 columns share 980 units: 122.5 each, room for 10 characters at 18 (115.2 + 4)
    assert matrix.cell_size(8, 8) == (122.5, 39.25)
    assert matrix.number_font(["−1.235e-05"], 122.5, 39.25) == 18.0
    assert matrix.number_font(["−0.1234"], 122.5, 39.25) == 22.0
    assert matrix.number_font(["−0.1234"], 60.0, 47.5) == 18.0  # the floor, even when it is tight


def text_boxes(v: MatrixView) -> list[tuple[str, Box]]:
    """Every text of the view as a box, by the character-width model (names at their full length,
    an upper bound: sub- and superscripts are drawn at 62 %)."""
    boxes = [("title", Box(matrix.MARGIN, 0, matrix.MARGIN + len(v.title) * v.title_font * CHAR_WIDTH, 40))]
    boxes += [
        (f"cell {c.row},{c.column}", text_box(c.text_x, c.text_y, c.text, v.number_font))
        for c in v.cells
        if c.text
    ]
    boxes += [(f"column {h.unit}", text_box(h.x, h.y, h.symbol.text, v.name_font)) for h in v.columns]
    boxes += [(f"row {h.unit}", text_box(h.x, h.y, h.symbol.text, v.name_font)) for h in v.rows]
    boxes += [
        (f"thumb {t.layer}", text_box(t.caption_x, t.caption_y, t.caption, v.thumb_font))
        for t in v.thumbnails
    ]
    return boxes


@pytest.mark.parametrize("value", [-0.1234, -1.235e-05, -12345.6, 0.5])
@pytest.mark.parametrize("quantity", ["weight", "gradient", "new"])
def test_an_8x8_matrix_has_no_overlapping_text(value: float, quantity: matrix.Quantity) -> None:
    grid = filled(8, 8, value)
    layers = [Numbers(grid, grid, grid) for _ in range(5)]  # 8-8-8-8-8-8
    for layer in range(5):
        v = view(layers, layer, quantity)
        assert v.number_font >= 18.0
        boxes = text_boxes(v)
        frame = Box(0, 0, v.width, v.height)
        for name, box in boxes:
            assert frame.contains(box), name
        for (a, box_a), (b, box_b) in itertools.combinations(boxes, 2):
            assert not box_a.intersects(box_b), (a, b)
        for c in v.cells:  # each number inside its own cell, with its padding
            box = text_box(c.text_x, c.text_y, c.text, v.number_font)
            cell = Box(c.x, c.y, c.x + c.width, c.y + c.height)
            assert cell.contains(Box(box.left - 2, box.top, box.right + 2, box.bottom)), c.text
        for left, right in itertools.pairwise(v.thumbnails):  # the picker's heat maps, apart
            assert left.x + left.width < right.x


def test_every_layer_count_fits_its_thumbnails() -> None:
    for count in range(1, 6):
        layers = [Numbers(filled(8, 8, 0.5)) for _ in range(count)]
        v = view(layers, count - 1, "weight")
        assert len(v.thumbnails) == count
        assert [t.selected for t in v.thumbnails] == [k == count - 1 for k in range(count)]
        for t in v.thumbnails:
            assert t.x >= 0 and t.x + t.width <= matrix.WIDTH and t.y >= matrix.CELLS_BOTTOM
            assert len(t.cells) == 64 and all(c.width == c.height for c in t.cells)


# --------------------------------------------------------------------------------------------
# What the cells say
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("phase", "quantity"),
    [
        ("idle", "weight"),
        ("forwarding", "weight"),
        ("forward", "weight"),
        ("backwarding", "gradient"),
        ("backward", "gradient"),
        ("updated", "new"),
    ],
)
def test_each_phase_shows_its_quantity(phase: Phase, quantity: str) -> None:
    assert quantity_of(phase) == quantity


def test_keys_open_each_weights_working() -> None:
    v = view(default_network(), 1, "weight")
    assert [c.key for c in v.cells] == [f"weight:1,{i},{j}" for i in range(3) for j in range(2)]
    assert [c.symbol.text for c in v.cells] == ["u11", "u12", "u21", "u22", "u31", "u32"]
    assert v.cells[1].title == "u12 = -0.8"
    assert [h.symbol.text for h in v.rows] == ["h1", "h2", "h3"]
    assert [h.symbol.text for h in v.columns] == ["y1", "y2"]
    deep = view([Numbers(filled(2, 2, 0.1)) for _ in range(3)], 1, "weight")
    assert deep.cells[1].symbol.text == "w(2)12" and deep.cells[1].key == "weight:1,0,1"
    assert deep.title == "w(2) — rows: h(1), columns: h(2)"
    assert [t.caption for t in deep.thumbnails] == ["w(1) 2×2", "w(2) 2×2", "w(3) 2×2"]


def test_gradients_and_not_yet_computed_layers() -> None:
    w, u = default_network()
    g = [[0.01, -0.02], [0.0, 0.03], [-1.5e-05, 0.04]]
    # mid-way through the backward pass: the output layer's gradients are known, not the first's
    layers = [w, Numbers(u.weights, gradients=g)]
    v = view(layers, 1, "gradient")
    assert [c.text for c in v.cells] == ["0.01", "−0.02", "0", "0.03", "−1.500e-05", "0.04"]
    assert v.cells[1].title == "∂L/∂u12 = -0.02\nu12 = -0.8"
    assert v.title == "∂L/∂u — rows: h, columns: y"
    assert v.scale == 0.04
    early = view(layers, 0, "gradient")
    assert all(c.text == "" and c.value is None and c.sign == "none" for c in early.cells)
    assert early.cells[0].fill == matrix.NOT_COMPUTED
    assert early.cells[0].title == "∂L/∂w11: not computed yet"


def test_new_values_with_the_old_on_hover() -> None:
    old_w, old_u = default_network()
    new_w = [[v + 0.01 for v in row] for row in old_w.weights]
    new_u = [[v - 0.01 for v in row] for row in old_u.weights]
    layers = [Numbers(new_w, old_weights=old_w.weights), Numbers(new_u, old_weights=old_u.weights)]
    v = view(layers, 0, "new")
    assert v.cells[0].value == 0.11 and v.cells[0].text == "0.11"
    assert v.cells[0].title == "w11 = 0.11\nbefore the update: 0.1"
    assert v.title == "w after the update (old on hover) — rows: x, columns: h"
    with pytest.raises(ValueError, match="old weights"):
        view(default_network(), 0, "new")
    with pytest.raises(ValueError, match="matrices 0 to 1"):
        view(default_network(), 2, "weight")


# --------------------------------------------------------------------------------------------
# Colours
# --------------------------------------------------------------------------------------------


def luminance(colour: str) -> float:
    """WCAG relative luminance of #rrggbb."""
    channels = [int(colour[k : k + 2], 16) / 255 for k in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_colour_says_sign_and_size() -> None:
    assert heat(0.0, 1.0) == "#ffffff"  # white at zero
    assert heat(1e-9, 1.0) == "#ffffff"  # and near it
    assert heat(None, 1.0) == matrix.NOT_COMPUTED
    assert heat(0.0, 0.0) == "#ffffff"  # an all-zero quantity does not divide by 0
    # full strength at the scale: 75 % of the colour blended with white
    assert heat(2.0, 2.0) == "#5587ca"
    assert heat(-2.0, 2.0) == "#d17049"
    assert heat(5.0, 2.0) == heat(2.0, 2.0)
    for colour, value in ((POSITIVE, 2.0), (NEGATIVE, -2.0)):
        channels = (int(colour[k : k + 2], 16) for k in (1, 3, 5))
        assert heat(value, 2.0) == "#" + "".join(f"{round(255 + (c - 255) * 0.75):02x}" for c in channels)
    # more magnitude, darker; half the scale, half the blend
    assert luminance(heat(0.2, 1.0)) > luminance(heat(0.6, 1.0)) > luminance(heat(1.0, 1.0))
    assert heat(-1.0, 2.0) == heat(-0.5, 1.0)


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_numbers_stay_readable_on_every_shade(sign: float) -> None:
    """WCAG AA for normal text (4.5:1) at every strength; the sign is written as well."""
    worst = min(contrast(heat(sign * k / 100, 1.0), matrix.TEXT) for k in range(101))
    assert worst >= 4.5, worst


def test_the_sign_is_written_not_only_coloured() -> None:
    v = view(default_network(), 1, "weight")
    assert [(c.text, c.sign) for c in v.cells] == [
        ("0.7", "positive"),
        ("−0.8", "negative"),
        ("0.9", "positive"),
        ("−1", "negative"),
        ("0.25", "positive"),
        ("0", "zero"),
    ]
    # the colour scale is common to all layers: |u| = 1 is the largest of both matrices
    assert v.scale == 1.0
    assert v.cells[3].fill == heat(-1.0, 1.0)
    assert v.thumbnails[0].cells[5].fill == heat(-0.6, 1.0)
