"""Reading the Network tab's architecture form: a new session's body, or a message per field."""

from __future__ import annotations

import pytest

from app import session
from app.web.architecture_form import data_fields, parse_layers, read_architecture

FORM = {
    "layers": "2, 4, 1",
    "activation": "tanh",
    "output_activation": "sigmoid",
    "loss": "bce",
    "learning_rate": "0.3",
    "seed": "7",
    "train_biases": "on",
    "data": "xor",
}


@pytest.mark.parametrize(
    ("raw", "layers"),
    [("2, 3, 2", [2, 3, 2]), ("2-4-1", [2, 4, 1]), ("8 8 8 8 8 8", [8] * 6), ("1–1", [1, 1])],
)
def test_parse_layers(raw: str, layers: list[int]) -> None:
    assert parse_layers(raw) == (layers, None)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "Layer sizes: enter the units of each layer, input first, e.g. 2, 3, 2"),
        ("2, x, 2", "Layer sizes: “x” is not a whole number of units"),
        ("2", "Layer sizes: a network has 2 to 6 layers (input and output included), got 1"),
        ("2 2 2 2 2 2 2", "Layer sizes: a network has 2 to 6 layers (input and output included), got 7"),
        ("2, 9, 2", "Layer sizes: a layer has 1 to 8 units, got 9"),
        ("2, 0, 2", "Layer sizes: a layer has 1 to 8 units, got 0"),
    ],
)
def test_parse_layers_refuses(raw: str, message: str) -> None:
    assert parse_layers(raw) == (None, message)


def test_a_valid_form_is_the_apis_body() -> None:
    body, errors = read_architecture(session.create("s"), FORM)
    assert errors == {}
    assert body is not None
    fields = body.model_dump(exclude_unset=True)
    assert fields == {
        "layers": [2, 4, 1],
        "activation": "tanh",
        "output_activation": "sigmoid",
        "loss": "bce",
        "learning_rate": 0.3,
        "seed": 7,
        "train_biases": True,
        "mode": "sgd",
        "dataset": "xor",
    }


def test_every_field_at_fault_gets_its_message_and_nothing_is_made() -> None:
    bad = {"layers": "2, 9", "activation": "swish", "output_activation": "tanh", "loss": "bce"}
    body, errors = read_architecture(session.create("s"), {**bad, "learning_rate": "0", "seed": "-1"})
    assert body is None
    assert errors == {
        "layers": "Layer sizes: a layer has 1 to 8 units, got 9",
        "activation": "Hidden activation: choose one of sigmoid, tanh, relu, linear",
        "loss": "Loss: cross-entropy needs a sigmoid output layer (choose it above)",
        "learning_rate": "Learning rate: must lie in (0, 100]",
        "seed": "Seed: a whole number from 0 to 4294967295",
    }


def test_the_current_sample_is_fitted_and_other_data_must_fit() -> None:
    current = session.create("s", input=[0.5, -0.5], target=[0.25, 0.75])
    assert data_fields(current, "current", [3, 2, 1]) == (
        {"input": [0.5, -0.5, 0.05], "target": [0.25]},
        None,
    )
    fields, problem = data_fields(current, "xor", [2, 3, 2])
    assert fields == {}
    assert problem == (
        "Data: each sample has 2 inputs and 1 target, but a 2-3-2 network has 2 inputs and 2 outputs: "
        "change the layer sizes or choose other data"
    )
