"""Which quantity a request names: indices checked against the network, parsed, selected."""

from __future__ import annotations

import pytest

from app import session
from app.errors import InvalidInputError
from app.quantity import check_index, parse_index, select


@pytest.mark.parametrize(
    ("kind", "index", "message"),
    [
        ("unit", (3, 0), "unit: layer l must lie in 0..2 (0 is the input), got 3"),
        ("unit", (1, 3), "unit: layer 1 has units j = 0..2, got 3"),
        ("unit", (0,), "unit: expected l,j (2 numbers), got 1"),
        ("weight", (2, 0, 0), "weight: l must lie in 0..1"),
        (
            "weight",
            (0, 2, 0),
            "weight: weights[0] is 2×3: i must lie in 0..1 and j in 0..2, got i = 2, j = 0",
        ),
        ("weight", (1, 0, 2), "j in 0..1"),
        ("weight", (0, 0), "weight: expected l,i,j (3 numbers)"),
        ("bias", (0, 3), "bias: biases[0] has j = 0..2, got 3"),
        ("bias", (-1, 0), "bias: l must lie in 0..1"),
        ("loss", (0,), "loss: expected no index"),
        ("node", (0, 0), "kind: must be one of unit, weight, bias, loss"),
        ("unit", (True, 0), "the index must be whole numbers"),
    ],
)
def test_out_of_range_names_the_valid_ranges(kind: str, index: tuple[int, ...], message: str) -> None:
    arch = session.create("q").arch
    with pytest.raises(InvalidInputError) as error:
        check_index(arch, kind, index)
    assert message in str(error.value)


@pytest.mark.parametrize(
    ("text", "parsed"), [("1,2,1", (1, 2, 1)), ("0", (0,)), ("1, 0", (1, 0)), ("10,0", (10, 0))]
)
def test_parse_index(text: str, parsed: tuple[int, ...]) -> None:
    assert parse_index(text, "weight") == parsed


@pytest.mark.parametrize("text", ["", "a", "1,", ",1", "1,,2", "-1,0", "1.5,0", "1;2", "١,٢", "1" * 50])
def test_parse_index_refuses_garbage(text: str) -> None:
    with pytest.raises(InvalidInputError, match="expected whole numbers separated by commas"):
        parse_index(text, "unit")


def test_select_needs_exactly_one() -> None:
    assert select(weight=[1, 2, 1]) == ("weight", (1, 2, 1))
    assert select(loss=True) == ("loss", ())
    with pytest.raises(InvalidInputError, match=r"give exactly one .* \(got unit, loss\)"):
        select(unit=[0, 0], loss=True)
    with pytest.raises(InvalidInputError, match="give exactly one"):
        select()
