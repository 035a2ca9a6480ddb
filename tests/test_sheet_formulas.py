"""The names of a sheet's blanks and its formulas (app/sheet_formulas.py), in the article's notation."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from app import sheet_formulas, sheets
from app.sheets import Blank, SheetSpec

MATHML = "{http://www.w3.org/1998/Math/MathML}"


@pytest.mark.parametrize(
    ("blank", "text", "words"),
    [
        (Blank("unit", (1, 0), "forward"), "h1", "activation of hidden unit h1"),
        (Blank("unit", (2, 1), "forward"), "y2", "activation of output y2"),
        (Blank("unit", (2, 1), "backward"), "δ(2)2", "δ = ∂L/∂a of output y2"),
        (Blank("weight", (1, 2, 0), "backward"), "∂L/∂u31", "gradient of weight u31"),
        (Blank("weight", (0, 0, 1), "update"), "new w12", "weight w12 after the update"),
        (Blank("bias", (0, 2), "backward"), "∂L/∂b(1)3", "gradient of bias b(1)3"),
        (Blank("bias", (1, 0), "update"), "new b(2)1", "bias b(2)1 after the update"),
        (Blank("loss", (), "forward"), "L", "the loss of the sample"),
    ],
)
def test_blank_names_follow_the_article(blank: Blank, text: str, words: str) -> None:
    arch = sheets.build(SheetSpec("article", 1, 1)).arch
    name = sheet_formulas.blank_name(arch, blank)
    assert (name.text, name.words) == (text, words)
    assert ET.fromstring(name.mathml).tag == f"{MATHML}math"


def test_formulas_for_the_phases_asked() -> None:
    forward = sheet_formulas.formulas(sheets.build(SheetSpec("article", 1, 3, ("forward",))))
    assert {f.section for f in forward} == {"Forward"}
    every = sheet_formulas.formulas(sheets.build(SheetSpec("article", 1, 3)))
    assert [f.section for f in every] == ["Forward"] * 6 + ["Backward"] * 5 + ["Update"] * 3
    for formula in every:
        root = ET.fromstring(formula.mathml)
        assert root.tag == f"{MATHML}math" and root.get("display") == "block"
    text = "".join(every[k].mathml for k in range(len(every)))
    assert "<mi>u</mi>" in text and "<mi>w</mi>" in text and "<mi>η</mi>" in text
    untrained = sheet_formulas.formulas(sheets.build(SheetSpec("mazur", 1, 3, ("update",))))
    assert "(the biases are not trained)" in untrained[-1].mathml
    # The update needs the gradients: their formulas come too.
    assert {f.section for f in untrained} == {"Forward", "Backward", "Update"}
