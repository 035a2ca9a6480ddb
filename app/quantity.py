"""Which quantity of a network a request names: a unit, a weight, a bias or the loss, by a
0-based index as in MATH.md, checked against the network with messages that name the valid ranges."""

from __future__ import annotations

import operator
import re
from collections.abc import Sequence
from typing import Literal, get_args

from app.engine import Architecture
from app.errors import InvalidInputError

Kind = Literal["unit", "weight", "bias", "loss"]
KINDS: tuple[Kind, ...] = get_args(Kind)
#: How many numbers name each kind of quantity (0-based, as in MATH.md).
ARITY: dict[Kind, int] = {"unit": 2, "weight": 3, "bias": 2, "loss": 0}


def check_index(arch: Architecture, kind: str, index: Sequence[int]) -> tuple[Kind, tuple[int, ...]]:
    """The kind and index, checked against the network; InvalidInputError names the valid ranges."""
    key = next((k for k in KINDS if k == kind), None)
    if key is None:
        raise InvalidInputError(f"kind: must be one of {', '.join(KINDS)}, got {kind!r}")
    try:
        if any(isinstance(v, bool) for v in index):
            raise TypeError
        values = tuple(operator.index(v) for v in index)
    except TypeError:
        raise InvalidInputError(f"{key}: the index must be whole numbers, got {list(index)!r}") from None
    layers, depth = arch.layers, arch.depth
    shape = {"unit": "l,j", "weight": "l,i,j", "bias": "l,j", "loss": "no index"}[key]
    if len(values) != ARITY[key]:
        raise InvalidInputError(
            f"{key}: expected {shape} ({ARITY[key]} numbers), got {len(values)}: {list(values)}"
        )
    if key == "unit":
        l, j = values
        if not 0 <= l < len(layers):
            raise InvalidInputError(
                f"unit: layer l must lie in 0..{len(layers) - 1} (0 is the input), got {l}"
            )
        if not 0 <= j < layers[l]:
            raise InvalidInputError(f"unit: layer {l} has units j = 0..{layers[l] - 1}, got {j}")
    elif key in ("weight", "bias"):
        l = values[0]
        if not 0 <= l < depth:
            what = "joins layer l to layer l+1" if key == "weight" else "belongs to layer l+1"
            raise InvalidInputError(f"{key}: l must lie in 0..{depth - 1} ({key}s[l] {what}), got {l}")
        if key == "weight":
            i, j = values[1:]
            if not (0 <= i < layers[l] and 0 <= j < layers[l + 1]):
                raise InvalidInputError(
                    f"weight: weights[{l}] is {layers[l]}×{layers[l + 1]}: i must lie in "
                    f"0..{layers[l] - 1} and j in 0..{layers[l + 1] - 1}, got i = {i}, j = {j}"
                )
        else:
            j = values[1]
            if not 0 <= j < layers[l + 1]:
                raise InvalidInputError(f"bias: biases[{l}] has j = 0..{layers[l + 1] - 1}, got {j}")
    return key, values


_INDEX = re.compile(r"[0-9]+(?:,[0-9]+)*", re.ASCII)
_EXAMPLES: dict[Kind, str] = {"unit": "1,0", "weight": "1,2,1", "bias": "1,0", "loss": ""}


def parse_index(text: str, kind: Kind) -> tuple[int, ...]:
    """ "1,2,1" → (1, 2, 1); anything but whole numbers ≥ 0 separated by commas is refused."""
    compact = text.replace(" ", "")
    if len(compact) > 40 or not _INDEX.fullmatch(compact):
        raise InvalidInputError(
            f"{kind}: expected whole numbers separated by commas, like {kind}={_EXAMPLES[kind]}, got {text!r}"
        )
    return tuple(int(part) for part in compact.split(","))


def select(
    *,
    unit: Sequence[int] | None = None,
    weight: Sequence[int] | None = None,
    bias: Sequence[int] | None = None,
    loss: bool = False,
) -> tuple[Kind, tuple[int, ...]]:
    """The one quantity a request names; InvalidInputError unless exactly one is given."""
    selectors: tuple[tuple[Kind, Sequence[int] | None], ...] = (
        ("unit", unit),
        ("weight", weight),
        ("bias", bias),
    )
    given = [(kind, tuple(index)) for kind, index in selectors if index is not None]
    if loss:
        given.append(("loss", ()))
    if len(given) != 1:
        named = f" (got {', '.join(kind for kind, _ in given)})" if given else ""
        raise InvalidInputError(f"give exactly one of unit=l,j, weight=l,i,j, bias=l,j or loss=true{named}")
    return given[0]
