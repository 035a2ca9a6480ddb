"""The article's notation: names, numbers for the screen, numbers as a person types them."""

from __future__ import annotations

import math

import pytest

from app.notation import (
    Symbol,
    bias_symbol,
    fmt,
    full,
    plural,
    post_weight_symbol,
    read_number,
    unit_symbol,
    weight_symbol,
)
from app.presets import MAZUR


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.0, "0"),
        (0.5932699921, "0.5933"),
        (-0.0006351, "−0.0006351"),
        (12345.678, "1.235e+04"),
        (123456.0, "1.235e+05"),
        (0.00001234, "1.234e-05"),
        (1.0, "1"),
    ],
)
def test_fmt_rounds_to_four_significant_digits_with_a_true_minus(value: float, text: str) -> None:
    assert fmt(value) == text


def test_full_round_trips() -> None:
    value = 0.1 + 0.2
    assert float(full(value)) == value


def test_names_follow_the_article() -> None:
    assert unit_symbol(0, 0, 3).text == "x1"
    assert unit_symbol(1, 2, 3).text == "h3"
    assert unit_symbol(2, 1, 3).text == "y2"
    assert weight_symbol(0, 1, 0, 3).text == "w21"
    assert weight_symbol(1, 2, 1, 3).text == "u32"
    # deeper networks: the layer is written as a superscript, w(l) and h(l)
    assert unit_symbol(2, 0, 4) == Symbol("h", "1", "2")
    assert weight_symbol(2, 0, 1, 4).text == "w(3)12"
    assert bias_symbol(1, 2).text == "b(1)3"


@pytest.mark.parametrize(
    ("typed", "value"),
    [("0.5", 0.5), (" −0.25 ", -0.25), ("-1e-3", -0.001), ("1e6", 1e6), ("2", 2.0)],
)
def test_read_number_reads_what_a_person_types(typed: str, value: float) -> None:
    assert read_number(typed) == value


def test_read_number_reads_back_what_fmt_writes() -> None:
    for value in (-0.0006351, -12345.678, 0.5932699921):
        again = read_number(fmt(value))
        assert again is not None and math.isclose(again, value, rel_tol=5e-4)


@pytest.mark.parametrize("typed", ["", "twelve", "1,5", "0x10", "--1"])
def test_read_number_refuses_what_is_not_a_number(typed: str) -> None:
    assert read_number(typed) is None


def test_read_number_leaves_infinities_to_the_caller() -> None:
    infinite, missing = read_number("inf"), read_number("nan")
    assert infinite == math.inf and missing is not None and math.isnan(missing)


def test_plural() -> None:
    assert [plural(n, "input") for n in (0, 1, 2)] == ["0 inputs", "1 input", "2 inputs"]


def test_the_posts_weight_names_follow_the_mazur_preset() -> None:
    """The preset's weights are the post's w1 = 0.15, w2 = 0.20, …, w8 = 0.55 (its figure)."""
    posted = {"w1": 0.15, "w2": 0.20, "w3": 0.25, "w4": 0.30, "w5": 0.40, "w6": 0.45, "w7": 0.50, "w8": 0.55}
    weights = MAZUR.body()["weights"]
    named = {
        post_weight_symbol(l, i, j).text: weights[l][i][j]
        for l in range(2)
        for i in range(2)
        for j in range(2)
    }
    assert named == posted
