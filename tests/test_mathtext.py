"""Formulas written out as plain text and as MathML."""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET

from app.mathtext import (
    HALF,
    MATHML_NAMESPACE,
    Line,
    Name,
    Op,
    Part,
    Pow,
    Sum,
    Word,
    broken,
    mathml_table,
    named,
    named_values,
    plain,
)


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


def long_sum(n: int) -> tuple[Part, ...]:
    """δ1 u11 + δ2 u12 + … with negative numbers: Σ_k δ_k u_1k written out."""
    parts: list[Part] = []
    for k in range(1, n + 1):
        if parts:
            parts.append(Op("+"))
        parts += [named(Name("δ", str(k), "2"), -0.05148 * k), Op("·"), named(Name("u", f"1{k}"), 0.3647)]
    return tuple(parts)


def test_a_long_form_breaks_before_an_operator_outside_brackets() -> None:
    product = (
        named(Name("g"), 0.01597),
        Op("·"),
        named(Name("h", "1"), 0.523),
        Op("("),
        Word("1"),
        Op("−"),
        named(Name("h", "1"), 0.523),
        Op(")"),
        Op("·"),
        named(Name("x", "1"), 0.05),
    )
    assert plain(product, True) == "0.01597 · 0.523(1 − 0.523) · 0.05"  # 34 characters
    rows = broken(product, True)
    # (a row that starts with an operator writes it as a sign: no space after it)
    assert [plain(product[a:b], True) for a, b in rows] == ["0.01597 · 0.523(1 − 0.523)", "·0.05"]
    assert broken(product, False) == [(0, len(product))]  # the symbols fit on one row


def test_rows_hold_at_most_the_width_and_lose_nothing() -> None:
    parts = long_sum(8)
    for numeric in (True, False):
        rows = broken(parts, numeric, width=26)
        assert rows[0][0] == 0 and rows[-1][1] == len(parts)
        assert all(a[1] == b[0] for a, b in itertools.pairwise(rows))  # contiguous
        texts = [plain(parts[a:b], numeric) for a, b in rows]
        assert all(len(text) <= 26 - 1 for text in texts[1:]) and len(texts[0]) <= 26, texts
        assert all(text.startswith("+") for text in texts[1:])  # each goes on from a "+"
        assert "".join(texts).replace(" ", "") == plain(parts, numeric).replace(" ", "")


def test_the_working_continues_a_long_form_in_the_next_row_set_in() -> None:
    table = mathml_table([Line((Name("a", "1", "1"),), long_sum(3), 0.25)])
    root = ET.fromstring(table)
    cells = [["".join(cell.itertext()) for cell in row] for row in root.iter(f"{{{MATHML_NAMESPACE}}}mtr")]
    assert cells[0][0] == "a1(1)" and cells[0][1].startswith("=")
    continued = [row for row in cells if row[1].startswith("+")]
    assert continued and all(row[0] == "" for row in continued)
    assert '<mspace width="1em"/>' in table


def test_a_sum_in_brackets_breaks_between_its_terms_when_nothing_outside_can() -> None:
    def square(y: float, t: float, j: str) -> Pow:
        return Pow((Op("("), named(Name("y", j), y), Op("−"), named(Name("t", j), t), Op(")")), "2")

    loss = (HALF, Op("["), square(0.3252, 0.01, "1"), Op("+"), square(0.7293, 0.99, "2"), Op("]"))
    assert plain(loss, True) == "½[(0.3252 − 0.01)² + (0.7293 − 0.99)²]"
    assert [plain(loss[a:b], True) for a, b in broken(loss, True)] == [
        "½[(0.3252 − 0.01)²",
        "+(0.7293 − 0.99)²]",
    ]
