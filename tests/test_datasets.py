"""Training data (app/datasets.py): the article's sample, the built-ins and user tables."""

from __future__ import annotations

import numpy as np
import pytest

from app import datasets
from app.datasets import (
    BUILTIN,
    DEFAULT_INPUT,
    DEFAULT_TARGET,
    DESCRIPTIONS,
    Dataset,
    builtin,
    make_dataset,
    single,
)
from app.errors import InvalidInputError
from app.limits import MAX_SAMPLES, MAX_TABLE_CHARS

LOGIC_INPUTS = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])


def test_the_default_sample_is_the_article_s() -> None:
    assert DEFAULT_INPUT == (0.05, 0.10)
    assert DEFAULT_TARGET == (0.01, 0.99)
    data = single(DEFAULT_INPUT, DEFAULT_TARGET)
    assert data.name is None
    assert len(data) == 1
    assert data.is_single
    assert np.array_equal(data.inputs, np.array([[0.05, 0.10]]))
    assert np.array_equal(data.targets, np.array([[0.01, 0.99]]))
    assert data.inputs.dtype == np.float64
    assert data.targets.dtype == np.float64


def test_the_builtin_names() -> None:
    assert set(BUILTIN) == {"xor", "and", "or", "blobs", "circle"}
    assert set(DESCRIPTIONS) == set(BUILTIN)
    assert all(DESCRIPTIONS[name] for name in BUILTIN)
    for name, data in BUILTIN.items():
        assert data.name == name
        assert builtin(name) is data
        assert not data.is_single
        assert data.inputs.dtype == np.float64
        assert data.targets.dtype == np.float64


@pytest.mark.parametrize(
    ("name", "targets"),
    [("xor", [0.0, 1.0, 1.0, 0.0]), ("and", [0.0, 0.0, 0.0, 1.0]), ("or", [0.0, 1.0, 1.0, 1.0])],
)
def test_logic_datasets(name: str, targets: list[float]) -> None:
    data = builtin(name)
    assert data.inputs.shape == (4, 2)
    assert data.targets.shape == (4, 1)
    assert np.array_equal(data.inputs, LOGIC_INPUTS)
    assert np.array_equal(data.targets, np.array(targets).reshape(4, 1))


def test_blobs() -> None:
    data = builtin("blobs")
    assert data.inputs.shape == (24, 2)
    assert data.targets.shape == (24, 1)
    assert np.array_equal(data.targets[:, 0], np.array([0.0] * 12 + [1.0] * 12))
    # Rounded to 3 decimals.
    assert np.array_equal(data.inputs, np.round(data.inputs, 3))
    # Two clusters around (−1, −1) and (1, 1), σ = 0.45: each mean lies within 0.5 of its centre.
    np.testing.assert_allclose(data.inputs[:12].mean(axis=0), [-1.0, -1.0], rtol=0, atol=0.5)
    np.testing.assert_allclose(data.inputs[12:].mean(axis=0), [1.0, 1.0], rtol=0, atol=0.5)
    # Fixed by the seed: the same points every time they are built.
    again = datasets._blobs()
    assert np.array_equal(again.inputs, data.inputs)
    assert np.array_equal(again.targets, data.targets)


def test_circle() -> None:
    data = builtin("circle")
    assert data.inputs.shape == (24, 2)
    assert data.targets.shape == (24, 1)
    assert np.array_equal(data.targets[:, 0], np.array([1.0] * 12 + [0.0] * 12))
    radii = np.hypot(data.inputs[:, 0], data.inputs[:, 1])
    # Coordinates are rounded to 3 decimals, so the radius is within 1e-3 of the ring's.
    np.testing.assert_allclose(radii[:12], 0.5, rtol=0, atol=1e-3)
    np.testing.assert_allclose(radii[12:], 1.5, rtol=0, atol=1e-3)
    assert np.array_equal(data.inputs[0], np.array([0.5, 0.0]))
    assert np.array_equal(data.inputs, datasets._circle().inputs)


def test_unknown_builtin() -> None:
    with pytest.raises(
        InvalidInputError, match="unknown built-in dataset 'spiral'; choose one of xor, and, or"
    ):
        builtin("spiral")


def test_make_dataset_keeps_the_table() -> None:
    data = make_dataset([[1, 2], [3, 4], [5, 6]], [[0], [1], [0.5]], name="mine")
    assert data.name == "mine"
    assert len(data) == 3
    assert data.inputs.dtype == np.float64
    assert np.array_equal(data.inputs, np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]))
    assert np.array_equal(data.targets, np.array([[0.0], [1.0], [0.5]]))
    assert not data.is_single
    assert data.to_json() == {
        "name": "mine",
        "inputs": [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]],
        "targets": [[0.0], [1.0], [0.5]],
    }
    assert make_dataset([[1.0]], [[2.0]]).is_single


def test_to_json_round_trips() -> None:
    for data in BUILTIN.values():
        document = data.to_json()
        back = make_dataset(document["inputs"], document["targets"], name=data.name)  # type: ignore[arg-type]
        assert back.name == data.name
        assert np.array_equal(back.inputs, data.inputs)
        assert np.array_equal(back.targets, data.targets)


def test_make_dataset_row_count_cap() -> None:
    rows = [[0.0, 1.0]] * MAX_SAMPLES
    assert MAX_SAMPLES == 256
    assert len(make_dataset(rows, [[1.0]] * MAX_SAMPLES)) == 256
    with pytest.raises(InvalidInputError, match="dataset: at most 256 samples, got 257"):
        make_dataset([*rows, [0.0, 1.0]], [[1.0]] * (MAX_SAMPLES + 1))


@pytest.mark.parametrize(
    ("inputs", "targets", "message"),
    [
        ([], [], "needs at least one sample"),
        ([[0.0, 1.0], [1.0, 0.0]], [[1.0]], "2 input rows but 1 target rows"),
        ([[0.0, 1.0]], [[1.0], [0.0]], "1 input rows but 2 target rows"),
        ([[0.0, 1.0], [1.0]], [[1.0], [0.0]], r"dataset\.inputs: every row must have the same"),
        ([[0.0], [1.0]], [[1.0, 0.0], [0.0]], r"dataset\.targets: every row must have the same"),
        ([[]], [[1.0]], r"dataset\.inputs: every row must have the same, non-zero"),
        ([[1.0]], [[]], r"dataset\.targets: every row must have the same, non-zero"),
        ([[float("nan"), 1.0]], [[1.0]], r"dataset\.inputs: every value must be a finite number"),
        ([[1.0, float("inf")]], [[1.0]], r"dataset\.inputs: every value must be a finite"),
        ([[1.0, 0.0]], [[float("-inf")]], r"dataset\.targets: every value must be a finite"),
        ([[2e6, 0.0]], [[1.0]], r"dataset\.inputs: values must lie within ±1e\+06"),
        ([[1.0, 0.0]], [[-1e7]], r"dataset\.targets: values must lie within"),
    ],
)
def test_make_dataset_refuses(inputs: list[list[float]], targets: list[list[float]], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        make_dataset(inputs, targets)


def test_dataset_is_a_plain_value() -> None:
    data = Dataset("x", np.zeros((2, 1)), np.ones((2, 1)))
    assert len(data) == 2
    assert not data.is_single


# --------------------------------------------------------------------------------------------
# The table format
# --------------------------------------------------------------------------------------------


def test_parse_table_reads_inputs_then_targets() -> None:
    data = datasets.parse_table("0 0 ; 0\n0,1;1\n\n# a comment\n 1 −0.5 ; 1e-1 \n")
    assert data.name is None
    assert data.inputs.tolist() == [[0.0, 0.0], [0.0, 1.0], [1.0, -0.5]]
    assert data.targets.tolist() == [[0.0], [1.0], [0.1]]


def test_table_text_round_trips() -> None:
    xor = builtin("xor")
    assert datasets.table_text(xor) == "0 0 ; 0\n0 1 ; 1\n1 0 ; 1\n1 1 ; 0"
    odd = datasets.parse_table("0.1 -2.5e-07 ; 3")
    again = datasets.parse_table(datasets.table_text(odd))
    assert np.array_equal(again.inputs, odd.inputs) and np.array_equal(again.targets, odd.targets)


BAD_TABLES = [
    ("", "Table: enter at least one sample, one per line, e.g. 0 1 ; 1"),
    ("# only a comment\n\n", "Table: enter at least one sample, one per line, e.g. 0 1 ; 1"),
    ("0 0 0", "Table, line 1: separate the inputs from the targets with one ';' (e.g. 0 1 ; 1)"),
    ("0 0 ; 0 ; 1", "Table, line 1: separate the inputs from the targets with one ';' (e.g. 0 1 ; 1)"),
    ("0 x ; 1", "Table, line 1: “x” is not a number"),
    ("0 0 ; 1\n0 nan ; 1", "Table, line 2: “nan” is not a finite number"),
    ("0 -inf ; 1", "Table, line 1: “-inf” is not a finite number"),
    ("0 2e6 ; 1", "Table, line 1: 2e6 is too large; values must lie in [-1e+06, 1e+06]"),
    (" ; 1", "Table, line 1: needs at least one input before the ';' and one target after it"),
    ("0 1 ; ", "Table, line 1: needs at least one input before the ';' and one target after it"),
    ("0 0 ; 0\n\n1 ; 1", "Table, line 3: 1 input, but line 1 has 2; every line needs the same number"),
    ("0 0 ; 0\n1 1 ; 1 1", "Table, line 2: 2 targets, but line 1 has 1; every line needs the same number"),
    ("0 0 ; 1\n" * (MAX_SAMPLES + 1), f"Table: at most {MAX_SAMPLES} samples, got {MAX_SAMPLES + 1}"),
    ("0" * (MAX_TABLE_CHARS + 1), f"Table: at most {MAX_TABLE_CHARS} characters"),
]


@pytest.mark.parametrize(("table", "message"), BAD_TABLES)
def test_parse_table_refuses_with_the_line_at_fault(table: str, message: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        datasets.parse_table(table)
    assert str(caught.value).startswith(message)
