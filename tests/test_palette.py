"""The shared colours and their blends with white."""

from __future__ import annotations

from app.palette import NEGATIVE, POSITIVE, mix


def test_mix_goes_from_white_to_the_colour() -> None:
    assert mix(POSITIVE, 0.0) == "#ffffff"
    assert mix(POSITIVE, 1.0) == POSITIVE
    assert mix(NEGATIVE, 1.0) == NEGATIVE
    # half-way: each channel half-way from 255, rounded (0x1c=28 -> 141.5 -> 142 = 0x8e)
    assert mix("#1c5fb8", 0.5) == "#8eafdc"


def test_mix_clamps_the_amount() -> None:
    assert mix(NEGATIVE, -3.0) == "#ffffff"
    assert mix(NEGATIVE, 7.0) == NEGATIVE
