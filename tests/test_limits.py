"""The bounds: an Interval holds what it says and writes itself as the messages do."""

from __future__ import annotations

import math

import pytest

from app import limits
from app.limits import LEARNING_RATE, VALUE, Interval


@pytest.mark.parametrize(
    ("value", "inside"),
    [(0.0, False), (1e-300, True), (0.5, True), (100.0, True), (100.0000001, False), (-1.0, False)],
)
def test_the_learning_rate_lies_in_a_half_open_range(value: float, inside: bool) -> None:
    assert (value in LEARNING_RATE) is inside


def test_nan_and_infinities_lie_in_no_range() -> None:
    for value in (math.nan, math.inf, -math.inf):
        assert value not in VALUE
        assert value not in LEARNING_RATE


def test_closed_ranges_hold_their_ends() -> None:
    assert -1e6 in VALUE and 1e6 in VALUE
    assert math.nextafter(1e6, math.inf) not in VALUE


def test_ranges_are_written_as_the_messages_write_them() -> None:
    assert str(LEARNING_RATE) == "(0, 100]"
    assert str(VALUE) == "[-1e+06, 1e+06]"
    assert str(Interval(-2.5, 3.0)) == "[-2.5, 3]"


def test_the_bounds_the_readme_promises() -> None:
    """README: 2 to 6 layers of 1 to 8 units, |values| ≤ 1e6, η in (0, 100], seeds 0..2³²−1,
    up to 100,000 epochs, 1,000 kept states, 256 samples."""
    assert (limits.MIN_LAYERS, limits.MAX_LAYERS, limits.MIN_UNITS, limits.MAX_UNITS) == (2, 6, 1, 8)
    assert (limits.MAX_ABS_VALUE, limits.MAX_LEARNING_RATE, limits.MAX_SEED) == (1e6, 100.0, 4294967295)
    assert (limits.MAX_TRAIN_EPOCHS, limits.MAX_HISTORY, limits.MAX_SAMPLES) == (100_000, 1000, 256)
