"""Check my answer: 4 significant digits pass at any size, more off fails, and the working comes
with the verdict."""

from __future__ import annotations

import math

import pytest

from app import answers, explain
from app.errors import InvalidInputError, NothingComputedError
from tests.test_explain import CONFIGS, backward, make, quantities


def four_digits(value: float) -> float:
    return float(f"{value:.4g}")


@pytest.mark.parametrize("config", CONFIGS)
def test_four_significant_digits_pass_and_one_percent_off_fails(config: str) -> None:
    s = backward(make(**CONFIGS[config]))
    for kind, index in quantities(s.arch):
        want = explain.explain(s, kind, index).result
        result = answers.check(s, kind, index, four_digits(want))
        assert result.correct, (kind, index, want)
        assert result.expected == want
        assert result.tolerance == max(5e-4 * abs(want), 1e-9)
        assert result.explanation == explain.explain(s, kind, index)
        if abs(want) > 1e-4:
            assert not answers.check(s, kind, index, want * 1.01).correct, (kind, index)


def test_check_near_zero_uses_the_absolute_floor() -> None:
    weights = [[[-1.0, 0.5, 0.5], [-1.0, 0.5, 0.5]], [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]]
    s = backward(make(activation="relu", weights=weights, biases=[[0.0, 0.0, 0.0], [0.0, 0.0]]))
    result = answers.check(s, "weight", (0, 0, 0), 5e-10)  # h1 is off: its gradient is exactly 0
    assert result.expected == 0.0 and result.tolerance == 1e-9 and result.correct
    assert not answers.check(s, "weight", (0, 0, 0), 2e-9).correct


@pytest.mark.parametrize(
    ("expected", "answer", "correct"),
    [
        (-1.59e-6, -1.590e-6, True),
        (-1.59e-6, -7e-7, False),  # accepted by the old absolute floor of 1e-6
        (0.08216704, 0.08217, True),  # 4 significant digits
        (0.08216704, 0.0821, False),  # cut, not rounded, to 3
        (1.0005, 1.000, True),  # the largest rounding error 4 digits allow (half a unit, at 1.000…)
        (123.456, 123.5, True),
        (123.456, 123.6, False),
    ],
)
def test_four_significant_digits_of_any_size(expected: float, answer: float, correct: bool) -> None:
    assert (abs(answer - expected) <= answers.tolerance_for(expected)) is correct


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_check_refuses_non_finite_values(value: float) -> None:
    with pytest.raises(InvalidInputError, match="finite"):
        answers.check(backward(make()), "weight", (0, 0, 0), value)


def test_check_in_idle_is_nothing_computed() -> None:
    with pytest.raises(NothingComputedError):
        answers.check(make(), "unit", (1, 0), 0.5)
