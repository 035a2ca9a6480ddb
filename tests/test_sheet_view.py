"""What the sheet pages show (app/sheet_view.py): the figure's geometry, blank names, formulas."""

from __future__ import annotations

import itertools

import pytest

from app import sheet_view, sheets
from app.sheets import Blank, SheetSpec

MATHML = "{http://www.w3.org/1998/Math/MathML}"


def numbered(sheet: sheets.Sheet) -> dict[Blank, int]:
    return {blank: k + 1 for k, blank in enumerate(sheet.blanks)}


@pytest.mark.parametrize(
    ("preset", "seed"),
    [
        ("article", 42),  # crowded: the figure widens until its boxes are apart
        ("article", 34),
        ("article", 36),
        ("xor", 74),
        ("mazur", 3),
        ("xor", 5),
        ("article", 7),
    ],
)
def test_one_box_per_blank_inside_the_drawing_and_apart(preset: str, seed: int) -> None:
    sheet = sheets.build(SheetSpec(preset, seed, 20 if preset != "mazur" else 12))
    figure = sheet_view.figure(sheet, numbered(sheet))
    assert sorted(box.number for box in figure.boxes) == list(range(1, len(sheet.blanks) + 1))
    for box in figure.boxes:
        assert box.x >= 0 and box.x + box.width <= figure.width
        assert box.y >= 0 and box.y + box.height <= figure.height
    for a, b in itertools.combinations(figure.boxes, 2):
        apart = a.x + a.width <= b.x or b.x + b.width <= a.x or a.y + a.height <= b.y or b.y + b.height <= a.y
        assert apart, (a, b)


def test_each_box_sits_where_the_visualizer_shows_that_number() -> None:
    sheet = sheets.build(SheetSpec("article", 42, 20))
    numbers = numbered(sheet)
    figure = sheet_view.figure(sheet, numbers)
    boxes = {box.number: box for box in figure.boxes}
    units: dict[tuple[int, ...], sheet_view.Unit] = {(u.layer, u.unit): u for u in figure.units}
    wires: dict[tuple[int, ...], sheet_view.Wire] = {(w.layer, w.source, w.target): w for w in figure.wires}
    for blank, number in numbers.items():
        box = boxes[number]
        middle_x, middle_y = box.x + box.width / 2, box.y + box.height / 2
        if blank.kind == "unit":
            unit = units[blank.index]
            assert abs(middle_x - unit.x) < 30
            if blank.phase == "forward":  # inside the circle
                assert (middle_x - unit.x) ** 2 + (middle_y - unit.y) ** 2 < unit.r**2
            else:  # δ under it
                assert unit.y + unit.r < box.y < unit.y + unit.r + 30
        elif blank.kind == "weight":
            wire = wires[blank.index]
            assert abs(middle_y - wire.label_y) < 40 and abs(middle_x - wire.label_x) < 90
        elif blank.kind == "bias":
            l, j = blank.index
            unit = units[(l + 1, j)]
            assert box.y + box.height < unit.y - unit.r + 4 and abs(middle_x - unit.x) < 140


def test_the_figure_gives_every_number_of_the_sheet() -> None:
    sheet = sheets.build(SheetSpec("article", 1, 5))
    figure = sheet_view.figure(sheet, numbered(sheet))
    assert [u.value for u in figure.units if u.layer == 0] == ["0.23", "0.94"]
    assert {(w.symbol.text, w.value) for w in figure.wires} >= {("w11", "−0.33"), ("u32", "−0.72")}
    biases = {(t.symbol.text, t.text) for t in figure.texts if t.kind == "bias" and t.symbol is not None}
    assert ("b(1)1", "0.14") in biases and ("b(2)2", "−0.78") in biases
    targets = [(t.symbol.text, t.text) for t in figure.texts if t.kind == "target" and t.symbol is not None]
    assert targets == [("t1", "= 0.58"), ("t2", "= 0.59")]


def test_the_figure_depends_on_no_answer() -> None:
    """The same network with other blanks: every given number in the same words."""
    few = sheets.build(SheetSpec("article", 9, 2))
    many = sheets.build(SheetSpec("article", 9, 20))
    assert [(u.symbol, u.value) for u in sheet_view.figure(few, numbered(few)).units] == [
        (u.symbol, u.value) for u in sheet_view.figure(many, numbered(many)).units
    ]
