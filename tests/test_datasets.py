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
from app.limits import MAX_SAMPLES

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
