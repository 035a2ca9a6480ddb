"""The article's notation: names of units, weights and biases, and numbers as the screen shows them.

Every module that writes a number or a name for people (the diagram, the derivations, the charts,
the page) takes it from here, so "w21", "h(2)3" and "−0.1235" look the same everywhere (MATH.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

#: The true minus sign the screen writes (and a person may type back).
MINUS = "−"


def fmt(value: float) -> str:
    """About 4 significant digits, with a true minus sign, for the screen."""
    if value == 0:
        return "0"
    magnitude = abs(value)
    text = f"{magnitude:.4g}" if 1e-4 <= magnitude < 1e5 else f"{magnitude:.3e}"
    return (MINUS if value < 0 else "") + text


def full(value: float) -> str:
    """Full precision (shortest repr that round-trips), for tooltips and data attributes."""
    return repr(float(value))


def read_number(text: str) -> float | None:
    """A number as a person types it (spaces around it, a true minus sign allowed); None if it is
    not one. It may be infinite or NaN: the caller decides whether that is allowed."""
    try:
        return float(text.strip().replace(MINUS, "-"))
    except ValueError:
        return None


def plural(count: int, word: str) -> str:
    """``count`` and the noun: "1 input", "2 inputs"."""
    return f"{count} {word}{'s' if count != 1 else ''}"


@dataclass(frozen=True)
class Symbol:
    """A name in the article's notation: base, optional superscript (layer), subscript (indices)."""

    base: str
    sub: str
    sup: str = ""

    @property
    def text(self) -> str:
        """Plain text: ``w21``, ``h(2)3``."""
        return f"{self.base}{f'({self.sup})' if self.sup else ''}{self.sub}"


def unit_symbol(layer: int, unit: int, layer_count: int) -> Symbol:
    """x_i for inputs, y_j for outputs, h_j for the hidden layer (h(l)_j when there are several)."""
    index = str(unit + 1)
    if layer == 0:
        return Symbol("x", index)
    if layer == layer_count - 1:
        return Symbol("y", index)
    return Symbol("h", index, "" if layer_count == 3 else str(layer))


def weight_symbol(layer: int, source: int, target: int, layer_count: int) -> Symbol:
    """w_ij and u_ij in the article's 2-layer network; w(l)_ij in deeper ones."""
    indices = f"{source + 1}{target + 1}"
    if layer_count == 3:
        return Symbol("w" if layer == 0 else "u", indices)
    return Symbol("w", indices, str(layer + 1))


def bias_symbol(layer: int, unit: int) -> Symbol:
    """b(l)_j: the bias of unit j of layer l (1-based layer of units, as in the article)."""
    return Symbol("b", str(unit + 1), str(layer))


def post_weight_symbol(layer: int, source: int, target: int) -> Symbol:
    """Matt Mazur's name for a weight of his 2-2-2 example: w1…w8, numbered by the unit reached
    (h1's two weights, then h2's, o1's, o2's) and within that by the unit left, so w1 joins i1 to
    h1, w2 i2 to h1, w3 i1 to h2 and w5 h1 to o1 (see app/presets.py)."""
    return Symbol("w", str(4 * layer + 2 * target + source + 1))


@dataclass(frozen=True)
class Names:
    """The names of one architecture's units, biases and weights (the post's or the article's)."""

    units: dict[tuple[int, int], Symbol]
    biases: dict[tuple[int, int], str]
    weights: dict[tuple[int, int, int], tuple[Symbol, Symbol, str]]


@lru_cache(maxsize=256)
def names_of(layers: tuple[int, ...], post: bool) -> Names:
    """Computed once per architecture: a unit's symbol, a bias's name, and each weight's symbol as
    shown, its article name and the units it joins."""
    count = len(layers)
    units = {(l, j): unit_symbol(l, j, count) for l in range(count) for j in range(layers[l])}
    biases = {
        (l, j): f"b{l}" if post else bias_symbol(l, j).text for l in range(1, count) for j in range(layers[l])
    }
    weights = {}
    for l in range(count - 1):
        for i in range(layers[l]):
            for j in range(layers[l + 1]):
                article = weight_symbol(l, i, j, count)
                shown = post_weight_symbol(l, i, j) if post else article
                weights[(l, i, j)] = (shown, article, f"{units[(l, i)].text} → {units[(l + 1, j)].text}")
    return Names(units, biases, weights)
