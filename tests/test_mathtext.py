"""Formulas written out as plain text and as MathML."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from app.mathtext import HALF, Line, Name, Op, Pow, Sum, mathml_table, named, named_values, plain


def test_small_and_negative_numbers_read_well() -> None:
    assert plain((named(Name("w", "11"), -0.25),), True) == "−0.25"
    root = ET.fromstring(mathml_table([Line((Name("g"),), (), 1.5e-7)]))
    assert "".join(root.itertext()) == "g=1.500×10−7"


def test_the_symbolic_form_writes_names_as_math_md_does() -> None:
    loss = (HALF, Sum("j"), Pow((Op("("), Name("y", "j"), Op("−"), Name("t", "j"), Op(")")), "2"))
    assert plain(loss, False) == "½ Σ_j (y_j − t_j)²"


def test_the_numeric_form_substitutes_and_brackets_a_negative_factor() -> None:
    parts = (named(Name("h", "1"), 0.25), Op("·"), named(Name("u", "21"), -0.5))
    assert plain(parts, False) == "h1 · u21"
    assert plain(parts, True) == "0.25 · (−0.5)"
    assert plain(parts[2:], True) == "−0.5"  # alone, a negative needs no brackets
    nested = (*parts, Op("+"), Pow((named(Name("h", "2"), 2.0),), "2"))
    assert [v.name for v in named_values(nested)] == ["h1", "u21", "h2"]
