"""The shared colours and their blends with white."""

from __future__ import annotations

import math
from pathlib import Path

from app.palette import GRADIENT, GRADIENT_DARK, NEGATIVE, NEW, NEW_DARK, POSITIVE, mix


def test_mix_goes_from_white_to_the_colour() -> None:
    assert mix(POSITIVE, 0.0) == "#ffffff"
    assert mix(POSITIVE, 1.0) == POSITIVE
    assert mix(NEGATIVE, 1.0) == NEGATIVE
    # half-way: each channel half-way from 255, rounded (0x1c=28 -> 141.5 -> 142 = 0x8e)
    assert mix("#1c5fb8", 0.5) == "#8eafdc"


def test_mix_clamps_the_amount() -> None:
    assert mix(NEGATIVE, -3.0) == "#ffffff"
    assert mix(NEGATIVE, 7.0) == NEGATIVE


# Machado, Oliveira and Fernandes (2009), deuteranopia at full severity, on linear RGB.
DEUTERANOPIA = (
    (0.367322, 0.860646, -0.227968),
    (0.280085, 0.672501, 0.047413),
    (-0.011820, 0.042940, 1.968881),
)


def linear(colour: str) -> list[float]:
    channels = [int(colour[k : k + 2], 16) / 255 for k in (1, 3, 5)]
    return [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]


def lab(rgb: list[float]) -> tuple[float, float, float]:
    """CIE L*a*b* (D65) of linear sRGB."""
    x = 0.4124 * rgb[0] + 0.3576 * rgb[1] + 0.1805 * rgb[2]
    y = 0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2]
    z = 0.0193 * rgb[0] + 0.1192 * rgb[1] + 0.9505 * rgb[2]

    def f(t: float) -> float:
        return t ** (1 / 3) if t > 216 / 24389 else (24389 / 27 * t + 16) / 116

    fx, fy, fz = f(x / 0.95047), f(y), f(z / 1.08883)
    return 116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)


def seen_with_deuteranopia(colour: str) -> tuple[float, float, float]:
    rgb = linear(colour)
    return lab(
        [min(max(sum(m * c for m, c in zip(row, rgb, strict=True)), 0.0), 1.0) for row in DEUTERANOPIA]
    )


def difference(a: str, b: str) -> float:
    """ΔE*76 between two colours as a deuteranope sees them (about 2.3 is just noticeable)."""
    return math.dist(seen_with_deuteranopia(a), seen_with_deuteranopia(b))


def contrast(a: str, b: str) -> float:
    def luminance(colour: str) -> float:
        r, g, b = linear(colour)
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_the_oracle_sees_red_and_green_alike() -> None:
    # the simulation itself: red and an olive of its lightness, 96 apart for most people, collapse;
    # blue and yellow stay apart
    assert difference("#ff0000", "#a0a000") < 5
    assert difference("#1c5fb8", "#b8a01c") > 60


def test_gradients_and_new_values_are_told_apart_under_deuteranopia() -> None:
    assert difference(GRADIENT, NEW) > 40
    assert difference(GRADIENT_DARK, NEW_DARK) > 40
    # on the light page δ is apart from the positive weights' blue too (the old purple was 4.6)
    assert difference(GRADIENT, POSITIVE) > 30
    assert difference("#7e22ce", POSITIVE) < 5


def test_the_colours_read_on_their_background() -> None:
    for colour in (GRADIENT, NEW):
        assert contrast(colour, "#ffffff") >= 4.5
    for colour in (GRADIENT_DARK, NEW_DARK):
        assert contrast(colour, "#16161a") >= 4.5


def test_the_stylesheet_uses_these_colours() -> None:
    css = (Path(__file__).resolve().parent.parent / "static" / "app.css").read_text(encoding="utf-8")
    assert f"--gradient: {GRADIENT};" in css and f"--new: {NEW};" in css
    # the dark theme twice: the system's preference and the page's toggle
    assert css.count(f"--gradient: {GRADIENT_DARK};") == 2 and css.count(f"--new: {NEW_DARK};") == 2
